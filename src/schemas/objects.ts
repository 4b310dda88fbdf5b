// The shapes of the Kubernetes objects devx reads, checked at the edge so the core can trust its types. Only the
// fields devx looks at are constrained; everything else passes through untouched (`loose`). The API server has
// validated every object it sends, so a mismatch here means the request did not come from a real API server.
import { z } from 'zod';

const stringMap = z.record(z.string(), z.string());

export const ObjectMetaSchema = z
  .object({
    name: z.string().optional(),
    generateName: z.string().optional(),
    namespace: z.string().optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
    ownerReferences: z.array(z.object({ kind: z.string(), name: z.string(), controller: z.boolean().optional() }).loose()).optional(),
  })
  .loose();

const ContainerSchema = z
  .object({
    name: z.string(),
    image: z.string().optional(),
    command: z.array(z.string()).optional(),
    args: z.array(z.string()).optional(),
    workingDir: z.string().optional(),
    volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() }).loose()).optional(),
  })
  .loose();

export const PodSpecSchema = z
  .object({
    containers: z.array(ContainerSchema),
    initContainers: z.array(ContainerSchema).optional(),
    volumes: z.array(z.object({ name: z.string() }).loose()).optional(),
    nodeSelector: stringMap.optional(),
  })
  .loose();

const PodTemplateSchema = z.object({ metadata: ObjectMetaSchema.optional(), spec: PodSpecSchema }).loose();

const metaOnly = z.object({ metadata: ObjectMetaSchema.optional() }).loose();

export const PodSchema = metaOnly.extend({ spec: PodSpecSchema });

const WorkloadSpecSchema = z
  .object({
    replicas: z.number().int().optional(),
    suspend: z.boolean().optional(),
    template: PodTemplateSchema.optional(),
    jobTemplate: z.object({ spec: z.object({ template: PodTemplateSchema.optional() }).loose().optional() }).loose().optional(),
  })
  .loose();

export const WorkloadSchema = metaOnly.extend({ spec: WorkloadSpecSchema.optional() });

export const ScaleSchema = metaOnly.extend({ spec: z.object({ replicas: z.number().int().optional() }).loose().optional() });

/** The schema for an object of a request, or undefined when devx does not read objects of that kind. */
export function objectSchemaFor(kind: string, subResource: string | undefined): z.ZodType | undefined {
  if (subResource === 'scale') return ScaleSchema;
  if (subResource) return undefined;
  if (kind === 'Pod') return PodSchema;
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(kind)) return WorkloadSchema;
  return undefined;
}
