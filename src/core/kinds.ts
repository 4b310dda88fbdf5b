// The Kubernetes kinds devx names, once: group, version, plural, and whether each is one of the six workload kinds
// dev mode applies to. Admission, the preview, the reconciler's API client, the owner lookups and the agent read it.

export interface KindInfo {
  group: string;
  version: string;
  plural: string;
  /** One of the six kinds a user puts in dev mode (DESIGN §3). */
  workload: boolean;
  /** Has a scale subresource devx pins during dev mode. */
  scalable: boolean;
  /** kubectl's short names (`deploy`, `sts`…). */
  shortNames: readonly string[];
}

const info = (group: string, plural: string, o: { workload?: boolean; scalable?: boolean; shortNames?: string[] } = {}): KindInfo => ({
  group,
  version: 'v1',
  plural,
  workload: o.workload ?? false,
  scalable: o.scalable ?? false,
  shortNames: o.shortNames ?? [],
});

export const KINDS = {
  Deployment: info('apps', 'deployments', { workload: true, scalable: true, shortNames: ['deploy'] }),
  StatefulSet: info('apps', 'statefulsets', { workload: true, scalable: true, shortNames: ['sts'] }),
  DaemonSet: info('apps', 'daemonsets', { workload: true, shortNames: ['ds'] }),
  Job: info('batch', 'jobs', { workload: true }),
  CronJob: info('batch', 'cronjobs', { workload: true, shortNames: ['cj'] }),
  Pod: info('', 'pods', { workload: true, shortNames: ['po'] }),
  ReplicaSet: info('apps', 'replicasets'),
  Secret: info('', 'secrets'),
  PersistentVolumeClaim: info('', 'persistentvolumeclaims', { shortNames: ['pvc'] }),
} as const satisfies Record<string, KindInfo>;

export type KnownKind = keyof typeof KINDS;

export function kindInfo(kind: string): KindInfo | undefined {
  return (KINDS as Record<string, KindInfo>)[kind];
}

/** `apps/v1`, `batch/v1`, `v1`. */
export function apiVersionOf(kind: KnownKind): string {
  const k = KINDS[kind];
  return k.group ? `${k.group}/${k.version}` : k.version;
}

/** `/apis/apps/v1`, `/api/v1`: where the API server serves a kind's group and version. */
export function groupVersionPathOf(kind: KnownKind): string {
  const k = KINDS[kind];
  return k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
}

/**
 * `/apis/apps/v1/namespaces/<ns>/deployments`, `/api/v1/namespaces/<ns>/pods`; without a namespace, the kind in all
 * namespaces (`/apis/apps/v1/deployments`), which is what an informer lists and watches.
 */
export function collectionPathOf(kind: KnownKind, namespace?: string): string {
  const ns = namespace === undefined ? '' : `/namespaces/${encodeURIComponent(namespace)}`;
  return `${groupVersionPathOf(kind)}${ns}/${KINDS[kind].plural}`;
}

/** Every name kubectl accepts for a kind: short names, the kind and plural in lower case, `kind.group`. */
export function namesOf(kind: KnownKind): string[] {
  const k = KINDS[kind];
  const lower = kind.toLowerCase();
  return [...k.shortNames, lower, k.plural, ...(k.group ? [`${lower}.${k.group}`] : [])];
}

/** The kind a plural names (`deployments` -> `Deployment`). */
export function kindOfPlural(plural: string): KnownKind | undefined {
  return (Object.keys(KINDS) as KnownKind[]).find((k) => KINDS[k].plural === plural);
}
