// The shapes of the Kubernetes objects devx reads, checked at the edge so the core can trust its types. Only the
// fields devx looks at are constrained; everything else passes through untouched (`loose`). The API server has
// validated every object it sends, so a mismatch here means the request did not come from a real API server.
// These schemas are the one definition of these shapes: the core's types are inferred from them (src/core/kube.ts)
// and the agent's schemas extend them (src/agent/schemas.ts).
import { z } from 'zod';

const stringMap = z.record(z.string(), z.string());

export const OwnerReferenceSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.string(),
    name: z.string(),
    uid: z.string().optional(),
    controller: z.boolean().optional(),
  })
  .loose();

export const ObjectMetaSchema = z
  .object({
    name: z.string().optional(),
    generateName: z.string().optional(),
    namespace: z.string().optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    ownerReferences: z.array(OwnerReferenceSchema).optional(),
  })
  .loose();

export const VolumeMountSchema = z.object({ name: z.string(), mountPath: z.string() }).loose();

export const ContainerSchema = z
  .object({
    name: z.string(),
    image: z.string().optional(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    workingDir: z.string().optional(),
    volumeMounts: z.array(VolumeMountSchema).optional(),
  })
  .loose();

export const VolumeSchema = z.object({ name: z.string() }).loose();

export const PodSpecSchema = z
  .object({
    containers: z.array(ContainerSchema),
    initContainers: z.array(ContainerSchema).optional(),
    volumes: z.array(VolumeSchema).optional(),
    nodeSelector: stringMap.optional(),
  })
  .loose();

export const PodTemplateSchema = z.object({ metadata: ObjectMetaSchema.optional(), spec: PodSpecSchema }).loose();

/** Any object: the fields every kind has; `spec` as opaque JSON until a kind's schema says more. */
export const KubeObjectSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    metadata: ObjectMetaSchema.optional(),
    spec: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

export const PodSchema = KubeObjectSchema.extend({ spec: PodSpecSchema });

const WorkloadSpecSchema = z
  .object({
    replicas: z.number().int().optional(),
    suspend: z.boolean().optional(),
    template: PodTemplateSchema.optional(),
    jobTemplate: z.object({ spec: z.object({ template: PodTemplateSchema.optional() }).loose().optional() }).loose().optional(),
  })
  .loose();

export const WorkloadSchema = KubeObjectSchema.extend({ spec: WorkloadSpecSchema.optional() });

export const ScaleSchema = KubeObjectSchema.extend({ spec: z.object({ replicas: z.number().int().optional() }).loose().optional() });

/** The schema for an object of a request, or undefined when devx does not read objects of that kind. */
export function objectSchemaFor(kind: string, subResource: string | undefined): z.ZodType | undefined {
  if (subResource === 'scale') return ScaleSchema;
  if (subResource) return undefined;
  if (kind === 'Pod') return PodSchema;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(kind)) return WorkloadSchema;
  return undefined;
}
