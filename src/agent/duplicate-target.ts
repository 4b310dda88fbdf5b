// Duplicate mode in the agent: a workload with dev.x/mode=duplicate keeps serving, and each developer syncs with the
// dev pod of their own copy `<name>-devx-<user>`. Which copy is the caller's follows from who the API server takes
// the caller for (a SelfSubjectReview), named by the same rule admission and the reconciler use; the copy's dev pod
// is then verified like any other (verify-dev-pod.ts: its owner chain up to the workload, its injection record, the
// copy's own sync Secret).
import { duplicateName, parseDuplicates } from '../core/duplicate.ts';
import { ANN_DUPLICATES, ANN_MODE } from '../core/names.ts';
import { KubeApiError, whoAmI, type KubeConfig } from '../k8s/agent-api.ts';
import type { FoundWorkload } from './cluster.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { SelfReviewSchema, type Workload } from './schemas.ts';
import { refString, type WorkloadRef } from './workload-ref.ts';

/** The workload asks for duplicate mode (whether or not it is in dev mode yet). */
export function wantsDuplicate(w: Workload): boolean {
  return w.metadata.annotations?.[ANN_MODE] === 'duplicate';
}

/** The users devx's record gives a copy (empty when there is no record yet). */
export function duplicateUsers(w: Workload): string[] {
  return parseDuplicates(w.metadata.annotations?.[ANN_DUPLICATES]) ?? [];
}

/** The caller's user name, as the API server knows it. */
export async function callerName(kc: KubeConfig): Promise<string> {
  let answer: unknown;
  try {
    answer = await whoAmI(kc);
  } catch (err) {
    const why = err instanceof KubeApiError ? `HTTP ${err.status}: ${err.message}` : String(err);
    throw new AgentError(EXIT.FAILURE, `duplicate mode names your copy after your user, and the API server did not say who you are (SelfSubjectReview, Kubernetes ≥ 1.28): ${why}`);
  }
  const parsed = SelfReviewSchema.safeParse(answer);
  if (!parsed.success) throw new AgentError(EXIT.FAILURE, 'the API server answered the SelfSubjectReview without a user name: duplicate mode cannot tell which copy is yours');
  return parsed.data.status.userInfo.username;
}

/** The caller's copy of a workload in duplicate mode, as a reference the agent syncs with; an error when they have none. */
export function copyOfCaller(found: FoundWorkload, user: string): WorkloadRef {
  const { ref } = found;
  const copy = duplicateName(ref.name, user);
  if (!duplicateUsers(found.object).includes(user)) {
    throw new AgentError(
      EXIT.NOT_IN_DEV_MODE,
      `${refString(ref)} is in duplicate mode and you (${user}) have no copy of it: get one with\n  kubectl devx up ${refString(ref)} -n ${ref.namespace}\n` +
        `(or kubectl annotate ${refString(ref)} dev.x/duplicate=join -n ${ref.namespace})`,
    );
  }
  return { ...ref, copy };
}

/** What `sync` syncs with: the workload's dev pod, or in duplicate mode the dev pod of the caller's copy. */
export async function syncTarget(kc: KubeConfig, found: FoundWorkload): Promise<WorkloadRef> {
  if (found.object.metadata.annotations?.[ANN_DUPLICATES] === undefined) return found.ref;
  return copyOfCaller(found, await callerName(kc));
}
