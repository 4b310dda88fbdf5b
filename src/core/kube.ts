// The few Kubernetes shapes the core reads and writes. Everything else in an object passes through untouched, so
// these types name only the fields devx looks at.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ kind: string; name: string; controller?: boolean; apiVersion?: string; uid?: string }>;
  [key: string]: unknown;
}

export interface Probe {
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: VolumeMount[];
  ports?: Array<{ containerPort: number; name?: string; protocol?: string }>;
  securityContext?: Record<string, unknown>;
  resources?: Record<string, unknown>;
  env?: Array<{ name: string; value?: string }>;
  restartPolicy?: string;
  [key: string]: unknown;
}

export interface Volume {
  name: string;
  [key: string]: unknown;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  nodeSelector?: Record<string, string>;
  [key: string]: unknown;
}

export interface PodTemplate {
  metadata?: ObjectMeta;
  spec: PodSpec;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Pod extends KubeObject {
  metadata?: ObjectMeta;
  spec: PodSpec;
}

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
