// `kubectl devx status`: one row per workload in dev mode, built from the labelled workloads and pods the API server
// returned. Pure: objects and the clock in, rows out.
import { ANN_COPY_OF, ANN_DUPLICATES, ANN_ENABLED_AT, ANN_ENABLED_BY, ANN_IMAGE, ANN_TTL, type WorkloadKind } from '../core/names.ts';
import { duplicateName, parseDuplicates } from '../core/duplicate.ts';
import { parseDuration } from '../schemas/duration.ts';
import { pickDevPod } from './dev-pod.ts';
import { formatAge, renderTable } from './render.ts';
import type { Pod, Workload } from './schemas.ts';
import { refString, type WorkloadRef } from './workload-ref.ts';

export interface StatusRow {
  namespace: string;
  kind: WorkloadKind;
  name: string;
  /** `deployment/reviews` */
  workload: string;
  enabledBy: string | undefined;
  enabledAt: string | undefined;
  /** The effective TTL (dev.x/ttl capped by the policy's maxDuration, or maxDuration alone), e.g. `4h`. */
  ttl: string | undefined;
  expiresAt: string | undefined;
  ttlLeftSeconds: number | undefined;
  pod: string | undefined;
  phase: string | undefined;
  image: string | undefined;
  /** A local `kubectl devx sync` of this workload, if one runs on this machine. */
  sync: string | undefined;
  /** Duplicate mode: the copy this row is about (one row per copy; `enabledBy` is then the copy's user). */
  copy?: string;
}

export interface StatusInput {
  workloads: ReadonlyArray<{ kind: WorkloadKind; object: Workload }>;
  /** Dev-mode pods of the same namespaces. */
  pods: readonly Pod[];
  /** The policy maxDuration per namespace, where it could be read (`undefined`: no limit or unknown). */
  maxDuration: (namespace: string) => string | undefined;
  /** Local sync session of a workload (in duplicate mode: of the copy), e.g. `running (pid 123)`. */
  session: (namespace: string, workload: string, copy?: string) => string | undefined;
  now: Date;
}

function isOwnWorkload(kind: WorkloadKind, w: Workload): boolean {
  if (w.metadata.annotations?.[ANN_COPY_OF] !== undefined) return false;
  return kind !== 'Pod' || (w.metadata.ownerReferences ?? []).length === 0;
}

/** dev.x/ttl capped by maxDuration (as admission does), or maxDuration alone; milliseconds and the text shown. */
export function effectiveTtl(ttl: string | undefined, maxDuration: string | undefined): { ms: number; text: string } | undefined {
  const ttlMs = ttl === undefined ? undefined : parseDuration(ttl);
  const maxMs = maxDuration === undefined || maxDuration === '' ? undefined : parseDuration(maxDuration);
  if (ttlMs !== undefined && (maxMs === undefined || ttlMs <= maxMs)) return { ms: ttlMs, text: ttl as string };
  if (maxMs !== undefined) return { ms: maxMs, text: maxDuration as string };
  return undefined;
}

function ttlFields(w: Workload, maxDuration: string | undefined, now: Date): Pick<StatusRow, 'ttl' | 'expiresAt' | 'ttlLeftSeconds'> {
  const anns = w.metadata.annotations ?? {};
  const ttl = effectiveTtl(anns[ANN_TTL], maxDuration);
  const since = Date.parse(anns[ANN_ENABLED_AT] ?? '');
  if (ttl === undefined || Number.isNaN(since)) return { ttl: ttl?.text, expiresAt: undefined, ttlLeftSeconds: undefined };
  const expires = since + ttl.ms;
  return { ttl: ttl.text, expiresAt: new Date(expires).toISOString(), ttlLeftSeconds: Math.max(0, Math.floor((expires - now.getTime()) / 1000)) };
}

/** The workload, or in duplicate mode one user's copy of it. */
function refOf(kind: WorkloadKind, w: Workload, user: string | undefined): WorkloadRef {
  const ref = { kind, name: w.metadata.name, namespace: w.metadata.namespace ?? '' };
  return user === undefined ? ref : { ...ref, copy: duplicateName(w.metadata.name, user) };
}

function rowOf(kind: WorkloadKind, w: Workload, input: StatusInput, user?: string): StatusRow {
  const ref = refOf(kind, w, user);
  const { namespace, copy } = ref;
  const pod = pickDevPod(
    input.pods.filter((p) => p.metadata.namespace === namespace),
    ref,
  );
  const anns = w.metadata.annotations ?? {};
  return {
    namespace,
    kind,
    name: w.metadata.name,
    workload: refString(ref),
    enabledBy: user ?? anns[ANN_ENABLED_BY],
    enabledAt: anns[ANN_ENABLED_AT],
    ...ttlFields(w, input.maxDuration(namespace), input.now),
    pod: pod?.name,
    phase: pod === undefined ? undefined : pod.terminating ? 'Terminating' : pod.phase,
    image: pod?.image ?? anns[ANN_IMAGE],
    sync: input.session(namespace, refString(ref), copy),
    ...(copy === undefined ? {} : { copy }),
  };
}

/** One row per workload; in duplicate mode one per copy (one for the workload while nobody has a copy). */
function rowsOf(kind: WorkloadKind, w: Workload, input: StatusInput): StatusRow[] {
  const users = parseDuplicates(w.metadata.annotations?.[ANN_DUPLICATES]) ?? [];
  return users.length === 0 ? [rowOf(kind, w, input)] : users.map((u) => rowOf(kind, w, input, u));
}

/** Rows for every workload in dev mode (every copy in duplicate mode), sorted by namespace, kind, name and copy. */
export function statusRows(input: StatusInput): StatusRow[] {
  return input.workloads
    .filter((w) => isOwnWorkload(w.kind, w.object))
    .flatMap((w) => rowsOf(w.kind, w.object, input))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.workload.localeCompare(b.workload) || (a.copy ?? '').localeCompare(b.copy ?? ''));
}

const DASH = '-';

function sinceText(r: StatusRow, now: Date): string {
  const at = Date.parse(r.enabledAt ?? '');
  return Number.isNaN(at) ? DASH : formatAge(now.getTime() - at);
}

function ttlLeftText(r: StatusRow): string {
  if (r.ttlLeftSeconds === undefined) return DASH;
  return r.ttlLeftSeconds === 0 ? 'expired' : formatAge(r.ttlLeftSeconds * 1000);
}

/** The table `kubectl devx status` prints; NAMESPACE only with -A (as kubectl does). */
export function renderStatusTable(rows: readonly StatusRow[], opts: { allNamespaces: boolean; now: Date }): string {
  const headers = [...(opts.allNamespaces ? ['NAMESPACE'] : []), 'WORKLOAD', 'BY', 'SINCE', 'TTL LEFT', 'POD', 'PHASE', 'IMAGE', 'SYNC'];
  const cells = rows.map((r) => {
    const row = [r.copy === undefined ? r.workload : `${r.workload} (copy ${r.copy})`, r.enabledBy ?? DASH, sinceText(r, opts.now), ttlLeftText(r), r.pod ?? DASH, r.phase ?? DASH, r.image ?? DASH, r.sync ?? DASH];
    return opts.allNamespaces ? [r.namespace, ...row] : row;
  });
  return renderTable(headers, cells);
}
