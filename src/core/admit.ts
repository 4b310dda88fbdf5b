// The one entry point of the core: an admission request in, a Decision out. Used by every webhook route and by
// `kubectl devx inject`; pure apart from reading the ClusterView it is given.
import type { AdmissionRequest } from '../schemas/admission.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';
import { checkSubject, resolvePolicy, type AdmissionContext } from './context.ts';
import { injectPod, reservedNames } from './inject-pod.ts';
import type { KubeObject, Pod } from './kube.ts';
import { annotationsOf, labelsOf } from './kube.ts';
import { KINDS } from './kinds.ts';
import { setMetaKey } from './kube.ts';
import {
  ANN_ENABLED_AT,
  ANN_ORIGINAL_POD,
  ANN_STATUS,
  ANN_WORKLOAD,
  RESERVED_PREFIX,
  OVERRIDE_ANNOTATIONS,
  ANN_TTL,
  WORKLOAD_KINDS,
  isDevEnabled,
  type DevMode,
  type WorkloadKind,
} from './names.ts';
import { readOverrides } from './overrides.ts';
import { controllerOf, ownerChain } from './owners.ts';
import { injectionDigest } from './pod-records.ts';
import { recordsDeniedMessage, recordsOf, signRecords, verifiedRecords, writtenRecords, type Records } from './records.ts';
import { deny, err, ok, skip, type Decision, type Result } from './result.ts';
import { enterDevMode, hasDevState, leaveDevMode, templateAsPod, workloadRef, type WorkloadChange } from './workload.ts';
import { admitScale } from './scale.ts';
import { duplicateWorkloadRef } from './duplicate-copy.ts';
import { copiesNeeded, duplicateChange, enterDuplicateMode, modeGate, requestedMode, type DuplicateChange } from './duplicate-admit.ts';
import { templateLabelProblem, validateSecret } from './validate-records.ts';

/** What the validating route has already established about a request's records. */
interface Checked {
  /** The request's own record set, verified (undefined: records devx did not sign). */
  incoming: Records | undefined;
}

/** Whether the request comes from devx itself (its ServiceAccount): its records are its own. */
export function isSelf(req: AdmissionRequest, ctx: AdmissionContext): boolean {
  return ctx.self !== undefined && req.userInfo.username === ctx.self;
}

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
  mode: DevMode;
  /** What the request does to duplicate mode's record of copies (for replace mode: nothing). */
  duplicate: DuplicateChange;
}

function namespaceOf(req: AdmissionRequest, obj: KubeObject): string {
  return req.namespace ?? obj.metadata?.namespace ?? '';
}

function kindGate(c: WorkloadChange, policy: Pick<Gate, 'spec' | 'policyName'>): Decision<never> | undefined {
  if (policy.spec.kinds.includes(c.kind)) return undefined;
  return deny(`DevPolicy ${policy.policyName} does not allow dev mode for ${c.kind}s (kinds: ${policy.spec.kinds.join(', ')})`, 'kind-not-allowed');
}

function namesSubjects(spec: DevPolicySpec): boolean {
  const { users = [], groups = [] } = spec.subjects ?? {};
  return users.length + groups.length > 0;
}

function subjectGate(c: WorkloadChange, policy: Pick<Gate, 'spec' | 'policyName'>, entering: boolean): Decision<never> | undefined {
  if (!entering && !overridesChanged(c)) return undefined;
  if (c.self && namesSubjects(policy.spec)) {
    // devx completes dev mode for a label it did not see being set (its webhook was not registered): it cannot tell
    // who set it, so a policy that names its subjects cannot be satisfied on someone's behalf.
    return deny(`dev mode was labelled while devx admission was not running, and DevPolicy ${policy.policyName} names who may use it: remove the label dev.x/enabled and add it again`, 'subject-unknown');
  }
  const subject = checkSubject(policy.spec, policy.policyName, c.user);
  return subject.ok ? undefined : deny(subject.error, 'subject-not-allowed');
}

function ownerGate(c: WorkloadChange, entering: boolean): Decision<never> | undefined {
  if (!entering || c.kind !== 'Pod') return undefined;
  const owner = ownerHint(c.object);
  if (!owner) return undefined;
  return deny(`this pod is managed by ${owner}: label that instead (kubectl label ${owner} dev.x/enabled=true)`, 'pod-has-owner');
}

function capacityGate(c: WorkloadChange, policy: Gate, o: { namespace: string; ctx: AdmissionContext }): Decision<never> | undefined {
  const { adding, already } = copiesNeeded(policy.duplicate, policy.mode);
  if (adding === 0) return undefined;
  const others = o.ctx.view.devWorkloadCount?.(o.namespace, workloadRef(c.kind, c.object));
  const max = policy.spec.maxWorkloads;
  if (others === undefined || others + already + adding <= max) return undefined;
  const copies = policy.mode === 'duplicate' ? ' (each duplicate copy counts as one)' : '';
  return deny(
    `namespace ${o.namespace} already has ${others + already} workloads in dev mode${copies}, the most DevPolicy ${policy.policyName} allows (maxWorkloads ${max}); end dev mode of one first`,
    'max-workloads',
  );
}

/** The mode and what the request does to duplicate mode's record, or why it is refused. */
function modeAndChange(c: WorkloadChange, entering: boolean): Result<{ mode: DevMode; duplicate: DuplicateChange }, Decision<never>> {
  const mode = requestedMode(c);
  if (!mode.ok) return mode;
  const duplicate = duplicateChange(c, { mode: mode.value, entering });
  return duplicate.ok ? ok({ mode: mode.value, duplicate: duplicate.value }) : duplicate;
}

/** The first policy check the change fails, if any. */
function refusalOf(c: WorkloadChange, policy: Gate, o: { namespace: string; ctx: AdmissionContext; entering: boolean }): Decision<never> | undefined {
  const joining = policy.duplicate.action === 'join';
  const ov = readOverrides(annotationsOf(c.object), policy.spec);
  return (
    kindGate(c, policy) ??
    modeGate(c, { ...policy, entering: o.entering, joining }) ??
    subjectGate(c, policy, o.entering || joining) ??
    (ov.ok ? undefined : deny(ov.error, 'bad-annotation')) ??
    ownerGate(c, o.entering) ??
    capacityGate(c, policy, o)
  );
}

/** Policy checks for a workload that is (or stays) in dev mode: everything DESIGN §3 lists as denied. */
function checkWorkload(c: WorkloadChange, req: AdmissionRequest, ctx: AdmissionContext): Result<Gate, Decision<never>> {
  const namespace = namespaceOf(req, c.object);
  const resolved = resolvePolicy(ctx.view, namespace);
  if (!resolved.ok) return err(deny(resolved.error.message, resolved.error.reason));
  // Entering: newly labelled, or labelled without devx's record of admitting it (devx was not registered then).
  const entering = !isDevEnabled(labelsOf(c.oldObject)) || c.trusted[ANN_ENABLED_AT] === undefined;
  const found = modeAndChange(c, entering);
  if (!found.ok) return found;
  const policy: Gate = { spec: resolved.value.spec, policyName: resolved.value.name, ...found.value };
  const refusal = refusalOf(c, policy, { namespace, ctx, entering });
  return refusal ? err(refusal) : ok(policy);
}

/** The pod the workload's template will become, to reject now what the pod webhook would reject later. */
function previewPods(c: WorkloadChange, mutated: KubeObject, gate: Pick<Gate, 'spec' | 'policyName'>, version: string): Decision<Pod> | undefined {
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

/** What the user should hear about the pods to come (image, probes); the sidecar line is for the pod itself. In
 * duplicate mode that is about the copies' pods: the workload's own stay as they are. */
function podWarnings(kind: WorkloadKind, preview: Decision<Pod> | undefined, gate: Gate): string[] {
  if (preview?.kind !== 'mutate' || kind === 'Pod') return [];
  const lines = preview.warnings.filter((w) => !w.includes('sidecar'));
  if (gate.mode === 'replace') return lines;
  // Said to whoever gets a copy now; a developer leaving, or an update of the workload, has no new pod to hear about.
  const newCopy = gate.duplicate.action === 'enter' || gate.duplicate.action === 'join';
  return newCopy ? lines.map((w) => w.replace(/^dev mode: /, 'dev mode, in the copies: ')) : [];
}

function admitWorkloadChange(c: WorkloadChange, req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const on = isDevEnabled(labelsOf(c.object));
  if (!on) {
    if (isDevEnabled(labelsOf(c.oldObject)) || hasDevState(c.kind, c.object)) return leaveDevMode(c.kind, c.object, c.trusted);
    return skip('not in dev mode');
  }
  const gate = checkWorkload(c, req, ctx);
  if (!gate.ok) return gate.error;
  const entered = gate.value.mode === 'duplicate' ? enterDuplicateMode(c, gate.value.duplicate) : enterDevMode(c);
  if (entered.kind !== 'mutate') return entered;
  const preview = previewPods(c, entered.object, gate.value, ctx.version);
  if (preview?.kind === 'deny') return preview;
  return { ...entered, warnings: [...entered.warnings, ...podWarnings(c.kind, preview, gate.value)] };
}

/**
 * devx's records as they stand: devx's own request brings its own; anyone else's keeps a set devx signed for this
 * object (the request's own, on a reinvocation, else the stored object's), or none.
 */
function trustedRecords(req: AdmissionRequest, ctx: AdmissionContext, o: { object: KubeObject; oldObject: KubeObject | undefined; namespace: string; incoming: Records | undefined }): Records {
  if (isSelf(req, ctx)) return o.incoming ?? recordsOf(o.object);
  if (o.incoming && Object.keys(o.incoming).length > 0) return o.incoming;
  return verifiedRecords(o.oldObject, { signer: ctx.signer, namespace: o.namespace }) ?? {};
}

/** The request's own record set if devx signed it for this object (see signedAs); one HMAC per review. */
function incomingRecords(ctx: AdmissionContext, object: KubeObject, namespace: string): Records | undefined {
  return verifiedRecords(signedAs(object), { signer: ctx.signer, namespace });
}

/**
 * Whose records an object carries: its own, except a Deployment's ReplicaSet, which the Deployment controller makes
 * with the Deployment's annotations — records devx signed for the Deployment.
 */
function signedAs(obj: KubeObject): KubeObject {
  const owner = controllerOf(obj);
  if (obj.kind !== 'ReplicaSet' || owner?.kind !== 'Deployment') return obj;
  return { ...obj, kind: 'Deployment', metadata: { ...obj.metadata, name: owner.name } };
}

/**
 * A request (not devx's) that writes devx's records: denied, naming them. A set devx signed for this very object
 * passes (the mutation's own output on a reinvocation or at validation); anything else must be as stored.
 */
function recordsWritten(req: AdmissionRequest, ctx: AdmissionContext, o: { object: KubeObject; incoming: Records | undefined }): Decision<never> | undefined {
  if (isSelf(req, ctx)) return undefined;
  const oldObject = isObject(req.oldObject) ? req.oldObject : undefined;
  const written = writtenRecords(o.object, oldObject, o.incoming ?? {});
  return written.length > 0 ? deny(recordsDeniedMessage(written), 'devx-record') : undefined;
}

/** The workload change a request describes, or the decision that there is none to handle. `checked`: the validating
 * route has already refused written records and verified the incoming set. */
function changeOf(req: AdmissionRequest, ctx: AdmissionContext, checked?: Checked): Result<WorkloadChange, Decision<never>> {
  const kind = asWorkloadKind(req.kind.kind);
  if (!kind || req.kind.group !== groupOf(kind)) return err(skip(`not a workload devx handles: ${req.kind.group}/${req.kind.kind}`));
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return err(skip(`operation ${req.operation} needs nothing`));
  if (!isObject(req.object)) return err(deny('the AdmissionReview request has no object', 'no-object'));
  const oldObject = isObject(req.oldObject) ? req.oldObject : undefined;
  const namespace = namespaceOf(req, req.object);
  const incoming = checked ? checked.incoming : incomingRecords(ctx, req.object, namespace);
  const written = checked ? undefined : recordsWritten(req, ctx, { object: req.object, incoming });
  if (written) return err(written);
  const trusted = trustedRecords(req, ctx, { object: req.object, oldObject, namespace, incoming });
  const stored = verifiedRecords(oldObject, { signer: ctx.signer, namespace });
  return ok({ kind, object: req.object, oldObject, user: req.userInfo, now: ctx.now, trusted, stored, signer: ctx.signer, namespace, self: isSelf(req, ctx) });
}

function groupOf(kind: WorkloadKind): string {
  return KINDS[kind].group;
}

/** Workload route: Deployments, StatefulSets, DaemonSets, Jobs, CronJobs, bare Pods labelled later, and scale. */
export function admitWorkload(req: AdmissionRequest, ctx: AdmissionContext, checked?: Checked): Decision {
  if (req.subResource === 'scale') return admitScale(req, ctx);
  if (req.subResource) return skip(`subresource ${req.subResource} needs nothing`);
  const found = changeOf(req, ctx, checked);
  if (!found.ok) return found.error;
  if (found.value.kind === 'Pod' && req.operation === 'CREATE') return skip('pods are injected by the pod route');
  return admitWorkloadChange(found.value, req, ctx);
}

function podRequestProblem(req: AdmissionRequest): Decision<never> | undefined {
  if (req.kind.kind !== 'Pod' || req.kind.group !== '' || req.subResource) return skip(`not a pod: ${req.kind.group}/${req.kind.kind}`);
  if (req.operation !== 'CREATE') return skip(`operation ${req.operation} on a pod needs no injection`);
  if (!isObject(req.object) || !hasPodSpec(req.object)) return deny('the AdmissionReview request has no pod object with containers', 'no-object');
  return undefined;
}

function barePodName(pod: Pod): string {
  return pod.metadata?.name ?? pod.metadata?.generateName?.replace(/-$/, '') ?? 'pod';
}

/** A bare pod: its requester must pass the policy, like a workload's labeller (devx recreating one already did). */
/** What the pod route knows of the policy. */
type PodGate = Pick<Gate, 'spec' | 'policyName'>;

function barePodGate(req: AdmissionRequest, ctx: AdmissionContext, o: { pod: Pod; gate: PodGate; trusted: Records }): Decision<never> | undefined {
  if (isSelf(req, ctx) && o.trusted[ANN_ORIGINAL_POD] !== undefined) return undefined;
  const { spec, policyName } = o.gate;
  if (!spec.kinds.includes('Pod')) return deny(`DevPolicy ${policyName} does not allow dev mode for Pods (kinds: ${spec.kinds.join(', ')})`, 'kind-not-allowed');
  const subject = checkSubject(spec, policyName, req.userInfo);
  if (!subject.ok) return deny(subject.error, 'subject-not-allowed');
  const namespace = namespaceOf(req, o.pod);
  const count = ctx.view.devWorkloadCount?.(namespace, `pod/${barePodName(o.pod)}`);
  if (count === undefined || count < spec.maxWorkloads) return undefined;
  return deny(
    `namespace ${namespace} already has ${count} workloads in dev mode, the most DevPolicy ${policyName} allows (maxWorkloads ${spec.maxWorkloads}); end dev mode of one first`,
    'max-workloads',
  );
}

/** `<kind>/<name>` of the workload in dev mode a pod belongs to (it names the sync Secret), or why there is none. */
function podWorkload(req: AdmissionRequest, ctx: AdmissionContext, o: { pod: Pod; gate: PodGate; trusted: Records }): Result<string, Decision<never>> {
  if ((o.pod.metadata?.ownerReferences ?? []).length === 0) {
    const refused = barePodGate(req, ctx, o);
    return refused ? err(refused) : ok(`pod/${barePodName(o.pod)}`);
  }
  const chain = ownerChain(o.pod, { view: ctx.view, signer: ctx.signer, namespace: namespaceOf(req, o.pod) });
  if (!chain.ok) return err(deny(`this pod cannot run in dev mode: ${chain.error}`, 'owner-not-in-dev-mode'));
  const { kind, object, copy } = chain.value;
  if (!o.gate.spec.kinds.includes(kind)) {
    return err(deny(`DevPolicy ${o.gate.policyName} does not allow dev mode for ${kind}s (kinds: ${o.gate.spec.kinds.join(', ')})`, 'kind-not-allowed'));
  }
  // A duplicate copy's pod mounts the copy's own sync Secret: each developer's sync identity is their own.
  return ok(copy === undefined ? workloadRef(kind, object) : duplicateWorkloadRef(copy));
}

/** A reinvocation (devx injected this pod earlier in the request), or records the requester wrote. */
function podRecordProblem(req: AdmissionRequest, ctx: AdmissionContext, o: { pod: Pod; namespace: string }): Decision<never> | undefined {
  const incoming = incomingRecords(ctx, o.pod, o.namespace);
  if (incoming?.[ANN_STATUS] !== undefined) return skip('already injected (dev.x/status is devx\'s)');
  return recordsWritten(req, ctx, { object: o.pod, incoming });
}

/**
 * Pod route: a new pod with dev.x/enabled=true gets the dev container and the sync sidecar — when the workload it
 * belongs to is in dev mode (its owner chain), or it is a bare pod whose requester the policy allows.
 */
export function admitPod(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const problem = podRequestProblem(req);
  if (problem) return problem;
  const pod = req.object as Pod;
  if (!isDevEnabled(labelsOf(pod))) return skip('pod not labelled dev.x/enabled=true');
  const namespace = namespaceOf(req, pod);
  const policy = resolvePolicy(ctx.view, namespace);
  if (!policy.ok) return deny(policy.error.message, policy.error.reason);
  const recorded = podRecordProblem(req, ctx, { pod, namespace });
  if (recorded) return recorded;
  const { name: policyName, spec } = policy.value;
  const gate: PodGate = { spec, policyName };
  const trusted = isSelf(req, ctx) ? recordsOf(pod) : {};
  const found = podWorkload(req, ctx, { pod, gate, trusted });
  if (!found.ok) return found.error;
  const workload = found.value;
  const injected = injectPod({ pod, policyName, spec, workload, version: ctx.version });
  if (injected.kind !== 'mutate') return injected;
  const out = injected.object;
  out.metadata ??= {};
  // The workload the owner chain proved, whatever the template said.
  setMetaKey(out.metadata, 'annotations', ANN_WORKLOAD, workload);
  signRecords(out, { signer: ctx.signer, namespace, extra: { injected: injectionDigest(out) } });
  return injected;
}

/** Validating route: the final object must satisfy the policy and carry only devx's own records. Changes nothing. */
export function validate(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  const decision = validateObject(req, ctx);
  if (decision.kind === 'deny') return decision;
  return skip(decision.kind === 'skip' ? decision.reason : 'allowed');
}

/** devx's marks the request writes itself: records, or the dev label on a pod template. */
function marksProblem(req: AdmissionRequest, ctx: AdmissionContext, o: { object: KubeObject; incoming: Records | undefined }): Decision<never> | undefined {
  const namespace = namespaceOf(req, o.object);
  const oldObject = isObject(req.oldObject) ? req.oldObject : undefined;
  return recordsWritten(req, ctx, o) ?? templateLabelProblem(req.kind.kind, o.object, { signer: ctx.signer, namespace, oldObject });
}

function validateObject(req: AdmissionRequest, ctx: AdmissionContext): Decision {
  if (req.operation !== 'CREATE' && req.operation !== 'UPDATE') return skip(`operation ${req.operation} needs nothing`);
  if (!isObject(req.object) || req.subResource) return skip('no object to validate');
  if (req.kind.kind === 'Secret') return validateSecret(req, isSelf(req, ctx));
  const checked: Checked = { incoming: incomingRecords(ctx, req.object, namespaceOf(req, req.object)) };
  const marks = marksProblem(req, ctx, { object: req.object, incoming: checked.incoming });
  if (marks) return marks;
  if (req.kind.kind === 'Pod' && req.operation === 'CREATE') return validatePod(req, checked);
  return admitWorkload(req, ctx, checked);
}

function validatePod(req: AdmissionRequest, checked: Checked): Decision {
  if (!isObject(req.object) || !hasPodSpec(req.object)) return skip('not a pod');
  const reserved = reservedNames(req.object.spec);
  if (reserved.length === 0) return skip('no reserved names');
  if (checked.incoming?.[ANN_STATUS] !== undefined) return skip('injected by devx');
  return deny(`the pod has ${reserved.join(', ')}: names starting with "${RESERVED_PREFIX}" are reserved for what devx injects; rename them`, 'reserved-name');
}

export function admit(route: Route, req: AdmissionRequest, ctx: AdmissionContext): Decision {
  if (route === 'pods') return admitPod(req, ctx);
  if (route === 'workloads') return admitWorkload(req, ctx);
  return validate(req, ctx);
}
