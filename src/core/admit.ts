// The one entry point of the core: an admission request in, a Decision out. Used by every webhook route and by
// `kubectl devx inject`; pure apart from reading the ClusterView it is given.
import type { AdmissionRequest } from '../schemas/admission.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';
import { checkSubject, resolvePolicy, type AdmissionContext } from './context.ts';
import { injectPod, reservedNames } from './inject-pod.ts';
import type { KubeObject, Pod } from './kube.ts';
import { annotationsOf, labelsOf } from './kube.ts';
import { ANN_ORIGINAL_POD, ANN_STATUS, ANN_WORKLOAD, RESERVED_PREFIX, OVERRIDE_ANNOTATIONS, ANN_TTL, WORKLOAD_KINDS, isDevEnabled, type WorkloadKind } from './names.ts';
import { readOverrides } from './overrides.ts';
import { deny, skip, type Decision } from './result.ts';
import { enterDevMode, hasDevState, leaveDevMode, templateAsPod, workloadRef, type WorkloadChange } from './workload.ts';
import { admitScale } from './scale.ts';

export type Route = 'pods' | 'workloads' | 'validate';

function asWorkloadKind(kind: string): WorkloadKind | undefined {
  return (WORKLOAD_KINDS as readonly string[]).includes(kind) ? (kind as WorkloadKind) : undefined;
}

function isObject(v: unknown): v is KubeObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasPodSpec(v: KubeObject): v is Pod {
  const spec = v.spec as { containers?: unknown } | undefined;
  return Array.isArray(spec?.containers);
}

/** The controlling owner of a pod, if any, with the name of the workload a user should label instead. */
function ownerHint(pod: KubeObject): string | undefined {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller) ?? pod.metadata?.ownerReferences?.[0];
  if (!owner) return undefined;
  const hash = labelsOf(pod)['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return `deployment/${owner.name.slice(0, -hash.length - 1)}`;
  }
  return `${owner.kind.toLowerCase()}/${owner.name}`;
}

function overridesChanged(c: WorkloadChange): boolean {
  const now = annotationsOf(c.object);
  const before = annotationsOf(c.oldObject);
  return [...OVERRIDE_ANNOTATIONS, ANN_TTL].some((k) => now[k] !== before[k]);
}

interface Gate {
  spec: DevPolicySpec;
  policyName: string;
}

function namespaceOf(req: AdmissionRequest, obj: KubeObject): string {
  return req.namespace ?? obj.metadata?.namespace ?? '';
}

function kindGate(c: WorkloadChange, policy: Gate): Decision<never> | undefined {
  if (policy.spec.kinds.includes(c.kind)) return undefined;
  return deny(`DevPolicy ${policy.policyName} does not allow dev mode for ${c.kind}s (kinds: ${policy.spec.kinds.join(', ')})`, 'kind-not-allowed');
}

function subjectGate(c: WorkloadChange, policy: Gate, entering: boolean): Decision<never> | undefined {
  if (!entering && !overridesChanged(c)) return undefined;
  const subject = checkSubject(policy.spec, policy.policyName, c.user);
  return subject.ok ? undefined : deny(subject.message, 'subject-not-allowed');
}

function ownerGate(c: WorkloadChange, entering: boolean): Decision<never> | undefined {
  if (!entering || c.kind !== 'Pod') return undefined;
  const owner = ownerHint(c.object);
  if (!owner) return undefined;
  return deny(`this pod is managed by ${owner}: label that instead (kubectl label ${owner} dev.x/enabled=true)`, 'pod-has-owner');
}

function capacityGate(c: WorkloadChange, policy: Gate, o: { namespace: string; ctx: AdmissionContext; entering: boolean }): Decision<never> | undefined {
  if (!o.entering) return undefined;
  const count = o.ctx.view.devWorkloadCount?.(o.namespace, workloadRef(c.kind, c.object));
  const max = policy.spec.maxWorkloads;
  if (count === undefined || count < max) return undefined;
  return deny(
    `namespace ${o.namespace} already has ${count} workloads in dev mode, the most DevPolicy ${policy.policyName} allows (maxWorkloads ${max}); end dev mode of one first`,
    'max-workloads',
  );
}

/** Policy checks for a workload that is (or stays) in dev mode: everything DESIGN §3 lists as denied. */
function checkWorkload(c: WorkloadChange, req: AdmissionRequest, ctx: AdmissionContext): Decision<never> | Gate {
  const namespace = namespaceOf(req, c.object);
  const resolved = resolvePolicy(ctx.view, namespace);
  if (!resolved.ok) return deny(resolved.message, resolved.reason);
  const policy: Gate = { spec: resolved.spec, policyName: resolved.name };
  const entering = !isDevEnabled(labelsOf(c.oldObject));
  const ov = readOverrides(annotationsOf(c.object), policy.spec);
  const refusal =
    kindGate(c, policy) ??
    subjectGate(c, policy, entering) ??
    (ov.ok ? undefined : deny(ov.message, 'bad-annotation')) ??
    ownerGate(c, entering) ??
    capacityGate(c, policy, { namespace, ctx, entering });
  return refusal ?? policy;
}

/** The pod the workload's template will become, to reject now what the pod webhook would reject later. */
function previewPods(c: WorkloadChange, mutated: KubeObject, gate: Gate, version: string): Decision<Pod> | undefined {
  // A pod that is already injected (created with the label) has nothing left to preview.
  if (c.kind === 'Pod' && annotationsOf(mutated)[ANN_STATUS] !== undefined) return undefined;
  const pod = c.kind === 'Pod' ? (structuredClone(mutated) as Pod) : templateAsPod(c.kind, mutated);
  if (!pod || !hasPodSpec(pod)) return undefined;
  const overrides = annotationsOf(mutated);
  pod.metadata ??= {};
  pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}) };
  for (const k of OVERRIDE_ANNOTATIONS) if (overrides[k] !== undefined) pod.metadata.annotations[k] = overrides[k];
  delete pod.metadata.annotations[ANN_STATUS];
  return injectPod({ pod, policyName: gate.policyName, spec: gate.spec, workload: workloadRef(c.kind, mutated), version });
}

/** What the user should hear about the pods to come (image, probes); the sidecar line is for the pod itself. */
function podWarnings(kind: WorkloadKind, preview: Decision<Pod> | undefined): string[] {
  if (preview?.kind !== 'mutate' || kind === 'Pod') return [];
  return preview.warnings.filter((w) => !w.includes('sidecar'));
}

function admitWorkloadChange(c: WorkloadChange, req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const on = isDevEnabled(labelsOf(c.object));
  if (!on) {
    if (isDevEnabled(labelsOf(c.oldObject)) || hasDevState(c.kind, c.object)) return leaveDevMode(c.kind, c.object);
    return skip('not in dev mode');
  }
  const gate = checkWorkload(c, req, ctx);
  if ('kind' in gate) return gate;
  const entered = enterDevMode(c);
  if (entered.kind !== 'mutate') return entered;
  const preview = previewPods(c, entered.object, gate, ctx.version);
  if (preview?.kind === 'deny') return preview;
  return { ...entered, warnings: [...entered.warnings, ...podWarnings(c.kind, preview)] };
}

/** The workload change a request describes, or the decision that there is none to handle. */
function changeOf(req: AdmissionRequest, ctx: AdmissionContext): { change: WorkloadChange } | { decision: Decision<never> } {
  const kind = asWorkloadKind(req.kind.kind);
  if (!kind || req.kind.group !== groupOf(kind)) return { decision: skip(`not a workload devx handles: ${req.kind.group}/${req.kind.kind}`) };
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return { decision: skip(`operation ${req.operation} needs nothing`) };
  if (!isObject(req.object)) return { decision: deny('the AdmissionReview request has no object', 'no-object') };
  const oldObject = isObject(req.oldObject) ? req.oldObject : undefined;
  return { change: { kind, object: req.object, oldObject, user: req.userInfo, now: ctx.now } };
}

function groupOf(kind: WorkloadKind): string {
  if (kind === 'Pod') return '';
  return kind === 'Job' || kind === 'CronJob' ? 'batch' : 'apps';
}

/** Workload route: Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, bare Pods labelled later, and scale. */
export function admitWorkload(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  if (req.subResource === 'scale') return admitScale(req, ctx);
  if (req.subResource) return skip(`subresource ${req.subResource} needs nothing`);
  const found = changeOf(req, ctx);
  if ('decision' in found) return found.decision;
  if (found.change.kind === 'Pod' && req.operation === 'CREATE') return skip('pods are injected by the pod route');
  return admitWorkloadChange(found.change, req, ctx);
}

function podRequestProblem(req: AdmissionRequest): Decision<never> | undefined {
  if (req.kind.kind !== 'Pod' || req.kind.group !== '' || req.subResource) return skip(`not a pod: ${req.kind.group}/${req.kind.kind}`);
  if (req.operation !== 'CREATE') return skip(`operation ${req.operation} on a pod needs no injection`);
  if (!isObject(req.object) || !hasPodSpec(req.object)) return deny('the AdmissionReview request has no pod object with containers', 'no-object');
  return undefined;
}

/** `<kind>/<name>` of the workload a pod belongs to: from its template's annotation, else the pod itself. */
function podWorkload(pod: Pod): string {
  const fromTemplate = annotationsOf(pod)[ANN_WORKLOAD];
  if (fromTemplate) return fromTemplate;
  const name = pod.metadata?.name ?? pod.metadata?.generateName?.replace(/-$/, '');
  return `pod/${name ?? 'pod'}`;
}

/** Pod route: a new pod with dev.x/enabled=true gets the dev container and the sync sidecar. */
export function admitPod(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const problem = podRequestProblem(req);
  if (problem) return problem;
  const pod = req.object as Pod;
  if (!isDevEnabled(labelsOf(pod))) return skip('pod not labelled dev.x/enabled=true');
  const policy = resolvePolicy(ctx.view, namespaceOf(req, pod));
  if (!policy.ok) return deny(policy.message, policy.reason);
  // A pod with an owner comes from a template whose workload was checked when it entered dev mode. A bare pod the
  // reconciler recreates (it carries the original) was checked when its user labelled it; the creator now is devx.
  // Neither marker is proof (a user can write both), but neither gives more than creating pods already does.
  const owned = (pod.metadata?.ownerReferences ?? []).length > 0;
  const recreated = annotationsOf(pod)[ANN_ORIGINAL_POD] !== undefined;
  const subject = owned || recreated ? { ok: true as const } : checkSubject(policy.spec, policy.name, req.userInfo);
  if (!subject.ok) return deny(subject.message, 'subject-not-allowed');
  return injectPod({ pod, policyName: policy.name, spec: policy.spec, workload: podWorkload(pod), version: ctx.version });
}

/** Validating route: the final object must satisfy the policy; it never changes anything. */
export function validate(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const decision = req.kind.kind === 'Pod' && req.operation === 'CREATE' ? validatePod(req) : admitWorkload(req, ctx);
  if (decision.kind === 'deny') return decision;
  return skip(decision.kind === 'skip' ? decision.reason : 'allowed');
}

function validatePod(req: AdmissionRequest): Decision {
  if (!isObject(req.object) || !hasPodSpec(req.object)) return skip('not a pod');
  const reserved = reservedNames(req.object.spec);
  if (reserved.length === 0 || annotationsOf(req.object)[ANN_STATUS] !== undefined) return skip('no reserved names, or injected by devx');
  return deny(`the pod has ${reserved.join(', ')}: names starting with "${RESERVED_PREFIX}" are reserved for what devx injects; rename them`, 'reserved-name');
}

export function admit(route: Route, req: AdmissionRequest, ctx: AdmissionContext): Decision {
  if (route === 'pods') return admitPod(req, ctx);
  if (route === 'workloads') return admitWorkload(req, ctx);
  return validate(req, ctx);
}
