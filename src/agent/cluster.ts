// What the agent reads from and writes to the cluster, with every failure turned into an AgentError that says what
// to do: a missing workload, a workload not in dev mode, an RBAC verb not granted (named, via an access review).
import { LABEL_ENABLED, isDevEnabled } from '../core/names.ts';
import { err, ok, type Result } from '../core/result.ts';
import { pollUntil } from '../wait.ts';
import { KubeApiError, kubeGet, mayI, type KubeConfig } from '../k8s/agent-api.ts';
import { describeDevPod, devPodCandidates, pickDevPod, waitingFor, type DevPod } from './dev-pod.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { forbiddenMessage, type Permission } from './rbac.ts';
import type { Reporter } from './reporter.ts';
import { AccessReviewSchema, listSchema, OwnerObjectSchema, PodSchema, SecretSchema, WorkloadSchema, type Pod, type Workload } from './schemas.ts';
import { firstVerified, ownerObjectPath, ownerPermission, type OwnerKind, type OwnerObject, type Rejection } from './verify-dev-pod.ts';
import { apiGroup, devModePath, LOOKUP_ORDER, objectPath, plural, refString, type WorkloadArg, type WorkloadRef } from './workload-ref.ts';

/** The permissions that are denied among `wanted` (an access review that itself fails counts as allowed: let the real
 * call tell). */
export async function deniedOf(kc: KubeConfig, wanted: readonly Permission[]): Promise<Permission[]> {
  const answers = await Promise.all(
    wanted.map(async (p) => {
      try {
        const review = AccessReviewSchema.safeParse(await mayI(kc, p));
        return review.success && !review.data.status.allowed ? p : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((p): p is Permission => p !== undefined);
}

/** The forbidden message for `what`, naming the permissions of `wanted` an access review denies (all of them when it
 * denies none: the API server refused anyway). */
export async function forbiddenFor(kc: KubeConfig, what: string, wanted: readonly Permission[]): Promise<string> {
  const denied = await deniedOf(kc, wanted);
  return forbiddenMessage(what, denied.length > 0 ? denied : wanted);
}

/** An AgentError for a failed call: 403 names the missing verb, 404 says what is missing, the rest passes through. */
export async function callFailure(kc: KubeConfig, err: unknown, what: string, permission: Permission): Promise<AgentError> {
  if (!(err instanceof KubeApiError)) return new AgentError(EXIT.FAILURE, `${what}: ${err instanceof Error ? err.message : String(err)}`);
  // A webhook's denial also comes back as 403 (or 400), but it is a policy answer, not RBAC: show its message.
  if (/admission webhook .* denied the request/.test(err.message)) {
    return new AgentError(EXIT.FAILURE, `${what}: denied: ${err.message.replace(/^.*denied the request: /s, '')}`);
  }
  if (err.status === 403) return new AgentError(EXIT.FORBIDDEN, await forbiddenFor(kc, what, [permission]));
  if (err.status === 404) return new AgentError(EXIT.NOT_FOUND, `${what}: not found`);
  if (err.status === 401) {
    return new AgentError(EXIT.FAILURE, `${what}: the API server does not accept your credentials (HTTP 401): log in again (refresh your kubeconfig)`);
  }
  return new AgentError(EXIT.FAILURE, `${what}: ${err.message}`);
}

/** The RBAC permission `verb` on the workload `ref` itself. */
export function workloadPermission(ref: WorkloadRef, verb: string): Permission {
  return { verb, group: apiGroup(ref.kind), resource: plural(ref.kind), namespace: ref.namespace, name: ref.name };
}

/** The workload as the API server has it now; API failures are thrown as they come. */
export async function readWorkload(kc: KubeConfig, ref: WorkloadRef): Promise<Workload> {
  return WorkloadSchema.parse(await kubeGet(kc, objectPath(ref.kind, ref.namespace, ref.name)));
}

async function getWorkload(kc: KubeConfig, ref: WorkloadRef): Promise<Workload | undefined> {
  try {
    return await readWorkload(kc, ref);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw await callFailure(kc, err, `reading ${refString(ref)} in namespace ${ref.namespace}`, workloadPermission(ref, 'get'));
  }
}

export interface FoundWorkload {
  ref: WorkloadRef;
  object: Workload;
}

/** The workload `arg` names in `namespace`; a bare name is looked up across the kinds and must be unambiguous. */
export async function resolveWorkload(kc: KubeConfig, arg: WorkloadArg, namespace: string): Promise<FoundWorkload> {
  const kinds = arg.kind ? [arg.kind] : LOOKUP_ORDER;
  const found: FoundWorkload[] = [];
  const refused: AgentError[] = [];
  for (const kind of kinds) {
    const ref = { kind, name: arg.name, namespace };
    // A bare name looks at every kind; a kind the user may not read is skipped unless nothing else is found.
    const object = await getWorkload(kc, ref).catch((err: unknown) => {
      if (!(err instanceof AgentError) || err.exitCode !== EXIT.FORBIDDEN) throw err;
      refused.push(err);
      return undefined;
    });
    if (object) found.push({ ref, object });
  }
  const [first, ...others] = found;
  if (!first && refused[0]) throw refused[0];
  if (!first) {
    const looked = arg.kind ? refString({ kind: arg.kind, name: arg.name }) : `a ${LOOKUP_ORDER.join(', ')} named ${arg.name}`;
    throw new AgentError(EXIT.NOT_FOUND, `there is no ${looked} in namespace ${namespace} (wrong namespace? pass -n)`);
  }
  if (others.length > 0) {
    const names = found.map((f) => refString(f.ref)).join(', ');
    throw new AgentError(EXIT.USAGE, `${arg.name} names several workloads in namespace ${namespace} (${names}): say which, e.g. ${refString(first.ref)}`);
  }
  return first;
}

/** The command that puts `ref` into dev mode, for messages. */
export function labelCommand(ref: WorkloadRef): string {
  return `kubectl label ${refString(ref)} ${LABEL_ENABLED}=true -n ${ref.namespace}`;
}

export function requireDevMode(found: FoundWorkload): void {
  if (isDevEnabled(found.object.metadata.labels)) return;
  throw new AgentError(
    EXIT.NOT_IN_DEV_MODE,
    `${refString(found.ref)} is not in dev mode: label it with\n  ${labelCommand(found.ref)}\n(or run kubectl devx up ${refString(found.ref)} -n ${found.ref.namespace})`,
  );
}

/** The Secret's data, base64-decoded; undefined while it does not exist. */
export async function readSecretData(kc: KubeConfig, namespace: string, name: string): Promise<Record<string, string> | undefined> {
  try {
    const secret = SecretSchema.parse(await kubeGet(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`));
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    const permission = { verb: 'get', group: '', resource: 'secrets', namespace, name };
    throw await callFailure(kc, err, `reading the sync Secret ${name} in namespace ${namespace}`, permission);
  }
}

/** The pod as the API server has it now; undefined when it is gone. Other failures are thrown as they come. */
export async function readPod(kc: KubeConfig, namespace: string, name: string): Promise<Pod | undefined> {
  try {
    return PodSchema.parse(await kubeGet(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(name)}`));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** Pods labelled dev.x/enabled=true in `namespace` (all namespaces when undefined). */
export async function listDevPods(kc: KubeConfig, namespace: string | undefined): Promise<Pod[]> {
  try {
    return listSchema(PodSchema).parse(await kubeGet(kc, devModePath('Pod', namespace))).items;
  } catch (err) {
    const permission = { verb: 'list', group: '', resource: 'pods', namespace: namespace ?? '(all namespaces)' };
    throw await callFailure(kc, err, `listing the dev pods in ${namespace === undefined ? 'all namespaces' : `namespace ${namespace}`}`, permission);
  }
}

export interface WaitOptions<T> {
  reporter: Reporter;
  timeoutMs: number;
  signal: AbortSignal;
  intervalMs?: number;
  /** One look: the value when done, else what is still awaited (shown by the spinner). */
  probe: () => Promise<Result<T>>;
}

/** Polls `probe` until it is done; TIMEOUT with the last "waiting for" text when the time is up. */
export async function waitUntil<T>(opts: WaitOptions<T>): Promise<T> {
  const r = await pollUntil({
    look: opts.probe,
    timeoutMs: opts.timeoutMs,
    intervalMs: opts.intervalMs ?? 1000,
    signal: opts.signal,
    onWaiting: (waiting) => opts.reporter.waiting(waiting),
  });
  if (!r.ok) throw new AgentError(EXIT.TIMEOUT, `gave up after ${Math.round(opts.timeoutMs / 1000)} s waiting for ${r.error}`);
  return r.value;
}

/** Waits for the dev pod of `ref` that `ready` accepts, by its claim alone (`up`; `sync` uses waitForVerifiedDevPod). */
export function waitForDevPod(kc: KubeConfig, ref: WorkloadRef, opts: Omit<WaitOptions<DevPod>, 'probe'> & { ready: (p: DevPod) => boolean }): Promise<DevPod> {
  return waitUntil<DevPod>({
    ...opts,
    probe: async () => {
      const pod = pickDevPod(await listDevPods(kc, ref.namespace), ref);
      return pod && opts.ready(pod) ? ok(pod) : err(waitingFor(pod, ref));
    },
  });
}

// ---- the verified dev pod (kubectl devx sync) ----------------------------------------------------------------------

/** An owner object of a dev pod as the API server has it now; null when there is none of that name. */
async function readOwner(kc: KubeConfig, namespace: string, kind: OwnerKind, name: string): Promise<OwnerObject | null> {
  try {
    return OwnerObjectSchema.parse(await kubeGet(kc, ownerObjectPath(kind, namespace, name)));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return null;
    throw await callFailure(kc, err, `reading ${kind} ${name} in namespace ${namespace} (to check the dev pod's owner chain)`, ownerPermission(kind, namespace, name));
  }
}

/** What one look for the dev pod found: the verified pod to sync with, and the candidates that failed. */
export interface DevPodLook {
  pod: DevPod | undefined;
  rejected: Rejection[];
}

/**
 * The dev pod of `ref` that the agent may sync with: of the pods that claim to be it (best first, see
 * devPodCandidates), the first whose injection record and owner chain verify (verify-dev-pod.ts), its owners read
 * from the API server. The rest are skipped; the ones tried before it, or all of them, come back as `rejected`.
 */
export async function findVerifiedDevPod(kc: KubeConfig, ref: WorkloadRef, pods: readonly Pod[]): Promise<DevPodLook> {
  const found = await firstVerified(devPodCandidates(pods, ref), ref, (kind, name) => readOwner(kc, ref.namespace, kind, name));
  return { pod: found.pod && describeDevPod(found.pod), rejected: found.rejected };
}

/** Lists the dev pods of `ref`'s namespace and finds the verified one. */
export async function lookForVerifiedDevPod(kc: KubeConfig, ref: WorkloadRef): Promise<DevPodLook> {
  return findVerifiedDevPod(kc, ref, await listDevPods(kc, ref.namespace));
}

/**
 * Waits for the verified dev pod of `ref` that `ready` accepts. While only rejected pods claim to be it, the waiting
 * text (and the timeout's error) names them and why.
 */
export function waitForVerifiedDevPod(
  kc: KubeConfig,
  ref: WorkloadRef,
  opts: Omit<WaitOptions<DevPod>, 'probe'> & { ready: (p: DevPod) => boolean; forExec?: boolean },
): Promise<DevPod> {
  return waitUntil<DevPod>({
    ...opts,
    probe: async () => {
      const look = await lookForVerifiedDevPod(kc, ref);
      return look.pod && opts.ready(look.pod) ? ok(look.pod) : err(waitingFor(look.pod, ref, look.rejected, opts.forExec));
    },
  });
}
