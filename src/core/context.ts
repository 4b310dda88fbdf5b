// What the core may know about the cluster, handed in as plain data. The webhook fills it from informers or from an
// --objects file; tests and `kubectl devx inject` fill it from files. The core never asks the network.
import type { DevPolicySpec, PolicyParse } from '../schemas/policy.ts';
import type { UserInfo } from '../schemas/admission.ts';
import type { KubeObject } from './kube.ts';
import { LABEL_POLICY } from './names.ts';
import type { RecordSigner } from './records.ts';
import { err, ok, type Result } from './result.ts';
import { selectorMatches } from './selector.ts';

export interface ClusterView {
  /** Labels of a namespace, or undefined when devx does not know the namespace. */
  namespaceLabels(name: string): Record<string, string> | undefined;
  /** A DevPolicy by name, parsed; undefined when it does not exist. */
  policy(name: string): PolicyParse | undefined;
  /** Workloads in dev mode in a namespace, other than `exclude` (`<kind>/<name>`); undefined when unknown. */
  devWorkloadCount?(namespace: string, exclude: string): number | undefined;
  /** Whether a workload is in dev mode (for requests that do not carry its labels, like the scale subresource). */
  isInDevMode?(kind: string, namespace: string, name: string): boolean | undefined;
  /**
   * An object a dev pod's owner chain passes through, as the API server holds it (a labelled ReplicaSet, workload or
   * devx's dev copy); undefined when devx does not know it.
   */
  object?(kind: string, namespace: string, name: string): KubeObject | undefined;
}

export interface AdmissionContext {
  view: ClusterView;
  /** The current time, for the record of when dev mode began (the core has no clock of its own). */
  now: Date;
  /** devx version, written into the dev.x/status annotation. */
  version: string;
  /** Signs and verifies devx's records (DESIGN §10). */
  signer: RecordSigner;
  /** devx's own user name as the API server knows it (its ServiceAccount), when it runs against a cluster. */
  self?: string | undefined;
}

/** The policy that governs a namespace, or why there is none: `message` for the user, `reason` for the log. */
export type PolicyResolution = Result<{ name: string; spec: DevPolicySpec }, { message: string; reason: string }>;

export function resolvePolicy(view: ClusterView, namespace: string): PolicyResolution {
  const labels = view.namespaceLabels(namespace);
  const name = labels?.[LABEL_POLICY];
  if (!labels || !name) {
    return err({
      reason: 'namespace-not-enabled',
      message:
        `dev mode is not enabled in namespace ${namespace}: a cluster admin enables it with ` +
        `"kubectl label namespace ${namespace} ${LABEL_POLICY}=<DevPolicy name>" (see "kubectl get devpolicies")`,
    });
  }
  const parsed = view.policy(name);
  if (!parsed) {
    return err({
      reason: 'policy-missing',
      message: `namespace ${namespace} names DevPolicy "${name}" (label ${LABEL_POLICY}), which does not exist; create it or fix the namespace label`,
    });
  }
  if (!parsed.ok) {
    return err({
      reason: 'policy-invalid',
      message: `DevPolicy "${name}" is invalid (${parsed.error.join('; ')}); a cluster admin must fix it before dev mode can be used`,
    });
  }
  if (!selectorMatches(parsed.value.spec.namespaceSelector, labels)) {
    return err({
      reason: 'namespace-not-selected',
      message: `DevPolicy "${name}" does not allow namespace ${namespace} (its namespaceSelector does not match the namespace's labels)`,
    });
  }
  return ok({ name, spec: parsed.value.spec });
}

function describeSubjects(users: string[], groups: string[]): string {
  const parts: string[] = [];
  if (users.length > 0) parts.push(`users ${users.join(', ')}`);
  if (groups.length > 0) parts.push(`groups ${groups.join(', ')}`);
  return parts.join('; ');
}

function isListed(user: UserInfo, users: string[], groups: string[]): boolean {
  if (user.username !== undefined && users.includes(user.username)) return true;
  return (user.groups ?? []).some((g) => groups.includes(g));
}

/** Whether a user may turn dev mode on under a policy; the message says who may. */
export function checkSubject(spec: DevPolicySpec, policyName: string, user: UserInfo): Result<void> {
  const { users = [], groups = [] } = spec.subjects ?? {};
  if (users.length === 0 && groups.length === 0) return ok();
  if (isListed(user, users, groups)) return ok();
  return err(
    `user "${user.username ?? '(unknown)'}" may not turn dev mode on: DevPolicy ${policyName} allows only ${describeSubjects(users, groups)}; ask a cluster admin to add you to its subjects`,
  );
}
