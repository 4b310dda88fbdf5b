// The `<workload>` argument: `deploy/reviews`, `statefulset/db`, or a bare `reviews` (looked up across the kinds).
// Pure: names and API paths only.
import { LABEL_ENABLED, WORKLOAD_KINDS, type WorkloadKind } from '../core/names.ts';
import { KINDS as REGISTRY, collectionPathOf, namesOf } from '../core/kinds.ts';
import { err, ok, type Result } from '../core/result.ts';
import { formatWorkloadRef } from '../core/workload-ref.ts';
import { duplicateWorkloadRef } from '../core/duplicate-copy.ts';
import { syncSecretName } from '../sync/secret.ts';
import { resourceText } from './rbac.ts';

/** A kind, and the names kubectl users type for it (from the kind registry, as is where the API serves it). */
interface KindInfo {
  kind: WorkloadKind;
  aliases: readonly string[];
}

/** The lookup order of a bare name (the kinds people most often develop first). */
const KINDS: readonly KindInfo[] = (['Deployment', 'StatefulSet', 'DaemonSet', 'CronJob', 'Job', 'Pod'] as const).map((kind) => ({ kind, aliases: namesOf(kind) }));

/** The order in which a bare name is looked up: the kinds people most often develop first. */
export const LOOKUP_ORDER: readonly WorkloadKind[] = KINDS.map((k) => k.kind);

/** A workload as typed: `kind` is undefined for a bare name. */
export interface WorkloadArg {
  kind?: WorkloadKind;
  name: string;
}

/** A workload whose kind is known. */
export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
  namespace: string;
  /** Duplicate mode: the caller's copy of the workload (a Deployment), whose dev pod is the one to sync with. */
  copy?: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Parses `KIND/NAME` or `NAME`. */
export function parseWorkloadArg(text: string): Result<WorkloadArg> {
  const slash = text.indexOf('/');
  const name = slash < 0 ? text : text.slice(slash + 1);
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    return err(`"${text}" is not a workload: expected KIND/NAME (e.g. deploy/reviews) or NAME`);
  }
  if (slash < 0) return ok({ name });
  const typed = text.slice(0, slash).toLowerCase();
  const info = KINDS.find((k) => k.aliases.includes(typed));
  if (!info) {
    return err(`unknown kind "${text.slice(0, slash)}": dev mode works on ${WORKLOAD_KINDS.join(', ')} (e.g. deploy/${name})`);
  }
  return ok({ kind: info.kind, name });
}

/** API path of one object, or of the collection (`name` undefined); `namespace` undefined = all namespaces. */
export function objectPath(kind: WorkloadKind, namespace: string | undefined, name?: string): string {
  return `${collectionPathOf(kind, namespace)}${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** API path of the objects of `kind` in dev mode (labelled dev.x/enabled=true); `namespace` undefined = all. */
export function devModePath(kind: WorkloadKind, namespace: string | undefined): string {
  return `${objectPath(kind, namespace)}?labelSelector=${encodeURIComponent(`${LABEL_ENABLED}=true`)}`;
}

/** `deployment/reviews`: how devx writes a workload in annotations (dev.x/workload) and messages. */
export function refString(ref: { kind: WorkloadKind; name: string }): string {
  return formatWorkloadRef(ref);
}

/** What a dev pod's `dev.x/workload` says: the workload, or in duplicate mode the copy whose Secret it mounts. */
export function claimOf(ref: WorkloadRef): string {
  return ref.copy === undefined ? refString(ref) : duplicateWorkloadRef(ref.copy);
}

/** The sync Secret of the dev pod: the workload's, or in duplicate mode the copy's own. */
export function syncSecretOf(ref: WorkloadRef): string {
  return ref.copy === undefined ? syncSecretName(ref.kind, ref.name) : syncSecretName('Deployment', ref.copy);
}

/** `deployment/reviews`, or in duplicate mode `deployment/reviews (copy reviews-devx-alice)`: for messages. */
export function refText(ref: WorkloadRef): string {
  return ref.copy === undefined ? refString(ref) : `${refString(ref)} (your copy ${ref.copy})`;
}

/** The resource name RBAC and kubectl use for a kind, e.g. `deployments.apps`, `pods`. */
export function resourceName(kind: WorkloadKind): string {
  return resourceText({ group: apiGroup(kind), resource: plural(kind) });
}

/** The API group of a kind (`apps`, `batch`, or `` for the core group). */
export function apiGroup(kind: WorkloadKind): string {
  return REGISTRY[kind].group;
}

export function plural(kind: WorkloadKind): string {
  return REGISTRY[kind].plural;
}
