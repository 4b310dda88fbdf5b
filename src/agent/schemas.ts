// The outside inputs the agent reads, checked at the edge with zod: the few fields of workloads, pods and Secrets it
// looks at, and syncthing's REST answers. Everything else in those objects is dropped here (`strip`) and never
// trusted. The object shapes extend the ones the webhook checks (src/schemas/objects.ts), with what the agent reads
// besides: a name it can rely on, uid and timestamps, env, pod status.
import { z } from 'zod';
import * as base from '../schemas/objects.ts';

const StringMap = z.record(z.string(), z.string());

export const ObjectMetaSchema = base.ObjectMetaSchema.extend({
  name: z.string(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
}).strip();
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;

/** Any object the agent reads: its metadata as above, the rest as the base schema has it (`spec` opaque JSON). */
const ObjectSchema = base.KubeObjectSchema.extend({ metadata: ObjectMetaSchema }).strip();

/** A workload as far as the agent cares: metadata, and the spec kept as opaque JSON (templates are read loosely). */
export const WorkloadSchema = ObjectSchema;
export type Workload = z.infer<typeof WorkloadSchema>;

const EnvVarSchema = z.object({ name: z.string(), value: z.string().optional() }).loose();

export const ContainerSchema = base.ContainerSchema.extend({
  env: z.array(EnvVarSchema).optional(),
  restartPolicy: z.string().optional(),
  /** The uid only: the sidecar's, named when the pod side reports a permission error. */
  securityContext: z.object({ runAsUser: z.number().int().optional() }).strip().optional().catch(undefined),
}).strip();
export type Container = z.infer<typeof ContainerSchema>;

const ContainerStateSchema = z
  .object({
    running: z.object({ startedAt: z.string().optional() }).loose().optional(),
    waiting: z.object({ reason: z.string().optional(), message: z.string().optional() }).loose().optional(),
    terminated: z.object({ reason: z.string().optional(), exitCode: z.number().optional() }).loose().optional(),
  })
  .loose();

const ContainerStatusSchema = z.object({
  name: z.string(),
  ready: z.boolean().optional(),
  restartCount: z.number().optional(),
  state: ContainerStateSchema.optional(),
  /** The user the container's process really runs as (the kubelet reports it; older nodes do not). */
  user: z
    .object({ linux: z.object({ uid: z.number().int(), gid: z.number().int() }).loose().optional() })
    .loose()
    .optional()
    .catch(undefined),
});

/** A pod volume: its name, and for a Secret volume the Secret's name (the agent checks which Secret the sidecar gets). */
const VolumeSchema = base.VolumeSchema.extend({ secret: z.object({ secretName: z.string().optional() }).loose().optional() });

export const PodSchema = ObjectSchema.extend({
  spec: base.PodSpecSchema.extend({
    containers: z.array(ContainerSchema),
    initContainers: z.array(ContainerSchema).optional(),
    volumes: z.array(VolumeSchema).optional(),
    nodeName: z.string().optional(),
  }).strip(),
  status: z
    .object({
      phase: z.string().optional(),
      reason: z.string().optional(),
      message: z.string().optional(),
      conditions: z.array(z.object({ type: z.string(), status: z.string(), reason: z.string().optional(), message: z.string().optional() }).loose()).optional(),
      containerStatuses: z.array(ContainerStatusSchema).optional(),
      initContainerStatuses: z.array(ContainerStatusSchema).optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof PodSchema>;

export const SecretSchema = ObjectSchema.extend({ data: StringMap.optional() });

export function listSchema<T extends z.ZodType>(item: T): z.ZodObject<{ items: z.ZodArray<T> }> {
  return z.object({ items: z.array(item) });
}

/** What `dev.x/status` on an injected pod records (the parts the agent shows). */
export const InjectionStatusSchema = z.object({ target: z.string(), image: z.string(), version: z.string().optional() }).loose();

/** `dev.x/status` as devx writes it (src/core/inject-pod.ts), all of it: what the agent checks against the pod before
 * it syncs with it. */
export const InjectionRecordSchema = z
  .object({ version: z.string(), target: z.string(), image: z.string(), containers: z.array(z.string()), volumes: z.array(z.string()) })
  .loose();

/** An owner object of a dev pod (ReplicaSet, dev copy, workload): only its metadata is read. */
export const OwnerObjectSchema = ObjectSchema;

/** The answer of a SelfSubjectAccessReview. */
/** A SelfSubjectReview's answer: the user name. */
export const SelfReviewSchema = z.object({ status: z.object({ userInfo: z.object({ username: z.string().min(1) }).loose() }).loose() });

export const AccessReviewSchema = z.object({ status: z.object({ allowed: z.boolean(), reason: z.string().optional() }).loose() });

/** `{metadata: {name}}` of a DevPolicy and the one spec field the agent reads (`maxDuration`). */
export const PolicyTtlSchema = z.object({ spec: z.object({ maxDuration: z.string().optional() }).loose() });

/** The DevPolicy's `shell` (kubectl devx up --sync, exec); anything but a string counts as not set. */
export const PolicyShellSchema = z.object({ spec: z.object({ shell: z.string().optional().catch(undefined) }).loose() });
