// The user-facing names of devx (DESIGN §1). Everything a user or an operator types or reads is defined here once.

export const GROUP = 'dev.x';
export const LABEL_ENABLED = 'dev.x/enabled';
export const LABEL_POLICY = 'dev.x/policy';

/** Overrides a user sets on a workload; devx copies them onto the pod template so the pod webhook sees them. */
export const ANN_IMAGE = 'dev.x/image';
export const ANN_CONTAINER = 'dev.x/container';
export const ANN_WORKDIR = 'dev.x/workdir';
export const ANN_COMMAND = 'dev.x/command';
export const ANN_TTL = 'dev.x/ttl';
export const OVERRIDE_ANNOTATIONS = [ANN_IMAGE, ANN_CONTAINER, ANN_WORKDIR, ANN_COMMAND] as const;
/** Label a user sets on a workload: its workdir PersistentVolumeClaim (DevPolicy `persistence`) is kept when dev mode
 * ends and used again the next time; deleting the workload still deletes it. */
export const LABEL_KEEP_VOLUME = 'dev.x/keep-volume';

/** Read by the agent only (`kubectl devx`), never by admission: the shell `up --sync` and `exec` open in the dev
 * container, and the local ports forwarded to it while the agent runs (`8080,9229:9229`). */
export const ANN_SHELL = 'dev.x/shell';
export const ANN_PORTS = 'dev.x/ports';

/** State devx keeps in the objects themselves so that restoring needs no memory. */
export const ANN_ORIGINAL_REPLICAS = 'dev.x/original-replicas';
export const ANN_ORIGINAL_SUSPEND = 'dev.x/original-suspend';
export const ANN_ENABLED_BY = 'dev.x/enabled-by';
export const ANN_ENABLED_AT = 'dev.x/enabled-at';
/** On a pod template: which workload the pod belongs to, `<kind>/<name>` (names the sync Secret). */
export const ANN_WORKLOAD = 'dev.x/workload';
/** On an injected pod: what was injected (JSON), which makes injection idempotent. */
export const ANN_STATUS = 'dev.x/status';

/** On an object devx made for a workload (a Job's or DaemonSet's dev copy, a CronJob's dev Job): `<kind>/<name>` of
 * the source workload, kind lowercase. Such a copy is not a workload of its own (not counted, not admitted as one). */
export const ANN_COPY_OF = 'dev.x/copy-of';
/** Label on a dev copy and its pods: the copy's name. A DaemonSet's dev Deployment selects its pods by it, so the
 * copy's selector cannot match the DaemonSet's own pods (nor the DaemonSet the copy's). */
export const LABEL_COPY = 'dev.x/copy';
/** On a dev copy: hash of the spec it was made from, so a change of the source (helm upgrade) renews the copy. */
export const ANN_SOURCE_HASH = 'dev.x/source-hash';
/** On a bare pod devx recreated in dev mode: the pod as it was before (JSON), recreated when dev mode ends. */
export const ANN_ORIGINAL_POD = 'dev.x/original-pod';
/** On a sync Secret, while a bare pod is being replaced: what to create once the old pod is gone (JSON). The Secret
 * is the record because it outlives both pods (it is un-owned meanwhile), so a crash between delete and create
 * loses nothing. */
export const ANN_PENDING_POD = 'dev.x/pending-pod';
/** On a workdir PersistentVolumeClaim devx made: `<kind>/<name>` of its workload. Signed, so a claim of that name
 * someone else made (with the same labels even) is never taken for devx's: not mounted as devx's, never deleted. */
export const ANN_VOLUME_OF = 'dev.x/volume-of';

/** On every object that carries devx's records: an HMAC over them (and the object's kind, namespace and name), keyed
 * by a Secret only devx can read. devx acts only on records whose signature it can verify (DESIGN §10). */
export const ANN_SIGNATURE = 'dev.x/signature';

/** On a workload (user): `replace` (the default: the workload's own pods go into dev mode) or `duplicate` (the
 * workload keeps serving untouched; each developer gets a copy `<name>-devx-<user>` whose pod is in dev mode). */
export const ANN_MODE = 'dev.x/mode';
export const DEV_MODES = ['replace', 'duplicate'] as const;
export type DevMode = (typeof DEV_MODES)[number];
/** On a workload in duplicate mode (user, one request): `join` gives the requester a copy, `leave` deletes theirs.
 * Admission acts on it for the request's own user and removes it from the object: it is never stored. */
export const ANN_DUPLICATE_REQUEST = 'dev.x/duplicate';
/** On a workload in duplicate mode (devx): JSON array of the users who have a copy, sorted. */
export const ANN_DUPLICATES = 'dev.x/duplicates';
/** On a duplicate copy (devx): the user it belongs to. */
export const ANN_DUPLICATE_FOR = 'dev.x/duplicate-for';

/** DaemonSet pause: a node selector no node carries. */
export const PAUSE_NODE_SELECTOR_KEY = 'dev.x/paused';

/**
 * Annotations devx writes for itself ("(devx)" in DESIGN §1). Only devx sets or changes them: a request of anyone else
 * that adds or changes one is denied, and devx acts only on a set whose `dev.x/signature` it can verify.
 */
export const RECORD_ANNOTATIONS = [
  ANN_ORIGINAL_REPLICAS,
  ANN_ORIGINAL_SUSPEND,
  ANN_ENABLED_BY,
  ANN_ENABLED_AT,
  ANN_STATUS,
  ANN_COPY_OF,
  ANN_SOURCE_HASH,
  ANN_ORIGINAL_POD,
  ANN_PENDING_POD,
  ANN_DUPLICATES,
  ANN_DUPLICATE_FOR,
  ANN_VOLUME_OF,
  ANN_SIGNATURE,
] as const;

/** Labels on every sync Secret: the selector devx watches them by, and what marks a Secret as devx's. */
export const SYNC_SECRET_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'sync-secret' };

/** Labels on every workdir PersistentVolumeClaim: what devx watches them by (devx's own claim is proven by its signed
 * `dev.x/volume-of`, since nothing stops a user from copying labels onto a claim). */
export const WORKDIR_VOLUME_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/managed-by': 'devx', 'app.kubernetes.io/component': 'workdir' };

export const SIDECAR_NAME = 'devx-sync';
export const VOLUME_WORKDIR = 'devx-workdir';
export const VOLUME_SYNC_HOME = 'devx-sync-home';
export const VOLUME_SYNC_SECRET = 'devx-sync-secret';
export const RESERVED_PREFIX = 'devx-';

export const DEFAULT_WORKDIR = '/home/devx';
/** Keeps the dev container alive and exits promptly on SIGTERM, so pods stop without waiting for the grace period. */
export const DEFAULT_COMMAND = ['sh', '-c', "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"];

export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'Pod'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export function isDevEnabled(labels: Record<string, string> | undefined): boolean {
  return labels?.[LABEL_ENABLED] === 'true';
}
