// AdmissionReview v1 (admission.k8s.io/v1) as the API server sends it and as devx answers it.
import { z } from 'zod';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

const GroupVersionKind = z.object({ group: z.string(), version: z.string(), kind: z.string() });
const GroupVersionResource = z.object({ group: z.string(), version: z.string(), resource: z.string() });

export const UserInfoSchema = z
  .object({
    username: z.string().optional(),
    uid: z.string().optional(),
    groups: z.array(z.string()).optional(),
    extra: z.record(z.string(), z.array(z.string())).optional(),
  })
  .loose();
export type UserInfo = z.infer<typeof UserInfoSchema>;

/** Any JSON object, passed through as it is (no copy: the object shapes are checked per kind in objects.ts). */
const KubeObject = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object');

export const AdmissionRequestSchema = z
  .object({
    uid: z.string().min(1),
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    subResource: z.string().optional(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    operation: z.enum(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']),
    userInfo: UserInfoSchema.default({}),
    object: KubeObject.nullable().optional(),
    oldObject: KubeObject.nullable().optional(),
    dryRun: z.boolean().optional(),
  })
  .loose();
export type AdmissionRequest = z.infer<typeof AdmissionRequestSchema>;

/** The envelope is checked on its own so that an unknown apiVersion can be answered politely, not with a 400. */
export const AdmissionEnvelopeSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    request: z.unknown().refine((v) => v !== undefined && v !== null, 'the AdmissionReview has no "request"'),
  })
  .loose();

export const AdmissionResponseSchema = z.object({
  uid: z.string(),
  allowed: z.boolean(),
  patchType: z.literal('JSONPatch').optional(),
  patch: z.string().optional(),
  warnings: z.array(z.string()).optional(),
  status: z
    .object({ code: z.number().int().optional(), message: z.string().optional(), reason: z.string().optional() })
    .optional(),
});
export type AdmissionResponse = z.infer<typeof AdmissionResponseSchema>;

export const AdmissionReviewResponseSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal('AdmissionReview'),
  response: AdmissionResponseSchema,
});
export type AdmissionReviewResponse = z.infer<typeof AdmissionReviewResponseSchema>;
