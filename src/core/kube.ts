// The few Kubernetes shapes the core reads and writes, inferred from their zod schemas (src/schemas/objects.ts, where
// the webhook checks them at the edge). Everything else in an object passes through untouched, so these types name
// only the fields devx looks at.
import type { z } from 'zod';
import type {
  ContainerSchema,
  KubeObjectSchema,
  ObjectMetaSchema,
  OwnerReferenceSchema,
  PodSchema,
  PodSpecSchema,
  PodTemplateSchema,
  VolumeMountSchema,
  VolumeSchema,
} from '../schemas/objects.ts';

export type OwnerReference = z.infer<typeof OwnerReferenceSchema>;
export type ObjectMeta = z.infer<typeof ObjectMetaSchema>;
export type VolumeMount = z.infer<typeof VolumeMountSchema>;
export type Container = z.infer<typeof ContainerSchema>;
export type Volume = z.infer<typeof VolumeSchema>;
export type PodSpec = z.infer<typeof PodSpecSchema>;
export type PodTemplate = z.infer<typeof PodTemplateSchema>;
export type KubeObject = z.infer<typeof KubeObjectSchema>;
export type Pod = z.infer<typeof PodSchema>;

export function labelsOf(obj: { metadata?: ObjectMeta } | undefined): Record<string, string> {
  return obj?.metadata?.labels ?? {};
}

export function annotationsOf(obj: { metadata?: ObjectMeta } | undefined): Record<string, string> {
  return obj?.metadata?.annotations ?? {};
}

/** Sets (or with `undefined` deletes) a key of a metadata map, removing the map when it ends up empty — the API
 * server never stores an empty labels/annotations map, so this keeps round trips exact. */
export function setMetaKey(meta: ObjectMeta, field: 'labels' | 'annotations', key: string, value: string | undefined): void {
  const map = { ...(meta[field] ?? {}) };
  if (value === undefined) delete map[key];
  else map[key] = value;
  if (Object.keys(map).length === 0) delete meta[field];
  else meta[field] = map;
}
