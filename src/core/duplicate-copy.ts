// The pod template of a user's duplicate copy (issue 14 §4), built from the source workload as plain data: the
// reconciler puts it in the copy it creates, `kubectl devx inject` previews the pod it becomes. Pure.
//
// A Service selects pods by a subset of labels, so a copy that only *added* a label would still be selected by the
// original's Service and take its traffic. Like Nocalhost's duplicate dev mode, the copy's pods carry devx's labels
// instead of the workload's: `dev.x/copy: <copy name>` (the copy's selector) and `dev.x/enabled: "true"` (so the pod
// webhook injects them). No Service, NetworkPolicy, PodDisruptionBudget or PodMonitor that selects the app's labels
// selects a copy's pod.
import { duplicateName } from './duplicate.ts';
import type { KubeObject, PodSpec, PodTemplate } from './kube.ts';
import { LABEL_COPY, type WorkloadKind } from './names.ts';
import { labelTemplate, podTemplateOf } from './workload.ts';
import { formatWorkloadRef } from './workload-ref.ts';

/** The `dev.x/workload` a duplicate copy's pods carry: the copy itself, whose own sync Secret they mount. */
export function duplicateWorkloadRef(copyName: string): string {
  return formatWorkloadRef({ kind: 'Deployment', name: copyName });
}

/**
 * A StatefulSet's pods mount volumes its volumeClaimTemplates create per pod; a copy (a Deployment) gets an empty
 * emptyDir of each such name instead, so it starts clean and never touches the original's claims.
 */
function claimVolumes(spec: PodSpec, source: KubeObject): void {
  const claims = (source.spec?.volumeClaimTemplates ?? []) as Array<{ metadata?: { name?: string } }>;
  const have = new Set((spec.volumes ?? []).map((v) => v.name));
  const added = claims.map((c) => c.metadata?.name).filter((n): n is string => n !== undefined && !have.has(n));
  if (added.length > 0) spec.volumes = [...(spec.volumes ?? []), ...added.map((name) => ({ name, emptyDir: {} }))];
}

/** The template of `user`'s copy of a Deployment or StatefulSet: the source's, with devx's labels instead of its own. */
export function duplicateTemplate(kind: WorkloadKind, source: KubeObject, user: string): PodTemplate | undefined {
  const template = podTemplateOf(kind, source);
  if (!template?.spec) return undefined;
  const name = duplicateName(source.metadata?.name ?? '', user);
  const t = structuredClone(template);
  t.metadata = { ...(t.metadata ?? {}), labels: { [LABEL_COPY]: name } };
  labelTemplate(t, source, duplicateWorkloadRef(name));
  if (kind === 'StatefulSet') claimVolumes(t.spec, source);
  return t;
}
