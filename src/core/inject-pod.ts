// Pod injection (DESIGN §4): one pure function used by the pod webhook, by workload previews and by
// `kubectl devx inject`. It mutates a copy and never writes a patch by hand; the adapter diffs.
import type { DevPolicySpec } from '../schemas/policy.ts';
import { SIDECAR_HOME, SIDECAR_SECRET_DIR, SIDECAR_WORKDIR, SYNC_PORT } from '../sync/constants.ts';
import { sidecarCommand } from '../sync/sidecar-command.ts';
import { syncSecretName } from './secret-name.ts';
import type { Container, Pod, PodSpec, Volume } from './kube.ts';
import { annotationsOf, setMetaKey } from './kube.ts';
import { chooseDevImage } from './images.ts';
import {
  ANN_STATUS,
  RESERVED_PREFIX,
  SIDECAR_NAME,
  VOLUME_SYNC_HOME,
  VOLUME_SYNC_SECRET,
  VOLUME_WORKDIR,
} from './names.ts';
import { readOverrides, type Overrides } from './overrides.ts';
import { parseWorkloadRef } from './workload-ref.ts';
import { prepareWorkdir, workdirVolume } from './workdir-volume.ts';
import { deny, err, ok, skip, type Decision, type Result } from './result.ts';

export interface InjectOptions {
  pod: Pod;
  policyName: string;
  spec: DevPolicySpec;
  /** `<kind>/<name>` of the workload the pod belongs to: it names the sync Secret. */
  workload: string;
  version: string;
}

/** What the dev.x/status annotation records. */
export interface InjectionStatus {
  version: string;
  target: string;
  image: string;
  containers: string[];
  volumes: string[];
}

const INJECTED_VOLUMES = [VOLUME_WORKDIR, VOLUME_SYNC_HOME, VOLUME_SYNC_SECRET];
const PROBES = ['livenessProbe', 'readinessProbe', 'startupProbe'] as const;

/** The sidecar's user when the dev container's is not known to be a non-root one: the syncthing image's own. */
const SIDECAR_DEFAULT_USER = { uid: 1000, gid: 1000 };

function intField(o: unknown, key: string): number | undefined {
  const v = o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/**
 * The sidecar's uid and gid: the dev container's when the pod spec fixes a non-root uid (its own securityContext, else
 * the pod's), else SIDECAR_DEFAULT_USER. Running as the dev container's user, the sidecar writes files that user owns,
 * and can change everything that user creates: two-way sync with no permission in the way. A root dev container can read and write whatever the sidecar writes anyway; a uid that only the image sets (USER in its
 * Dockerfile) cannot be known at admission, so set runAsUser on the workload for that case (README, "File ownership").
 */
function sidecarUser(spec: PodSpec, target: Container): { uid: number; gid: number } {
  const uid = intField(target.securityContext, 'runAsUser') ?? intField(spec.securityContext, 'runAsUser');
  if (uid === undefined || uid === 0) return SIDECAR_DEFAULT_USER;
  return { uid, gid: intField(target.securityContext, 'runAsGroup') ?? intField(spec.securityContext, 'runAsGroup') ?? uid };
}

/** Pod Security "restricted" for the sidecar, whatever the rest of the pod does (a fresh object per pod). */
function sidecarSecurityContext(user: { uid: number; gid: number }): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: user.uid,
    runAsGroup: user.gid,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** A copy of a policy's resource requirements (maps of quantities), so the pod never shares objects with the policy. */
function copyResources(r: NonNullable<DevPolicySpec['sidecar']['resources']>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.requests) out.requests = { ...r.requests };
  if (r.limits) out.limits = { ...r.limits };
  return out;
}

/** Containers, init containers and volumes whose names devx reserves for what it injects. */
export function reservedNames(spec: PodSpec): string[] {
  const names = [
    ...spec.containers.map((c) => c.name),
    ...(spec.initContainers ?? []).map((c) => c.name),
    ...(spec.volumes ?? []).map((v) => v.name),
  ];
  return names.filter((n) => n.startsWith(RESERVED_PREFIX));
}

function pickTarget(spec: PodSpec, requested: string | undefined): Result<Container> {
  const found = requested === undefined ? spec.containers[0] : spec.containers.find((c) => c.name === requested);
  if (found) return ok(found);
  if (requested === undefined) return err('the pod has no containers');
  const names = spec.containers.map((c) => c.name).join(', ');
  return err(`dev.x/container "${requested}" is not a container of this pod (containers: ${names}); set it to one of those or remove it to use the first`);
}

function sidecarContainer(spec: DevPolicySpec, user: { uid: number; gid: number }): Container {
  const cmd = sidecarCommand({ home: SIDECAR_HOME, secretDir: SIDECAR_SECRET_DIR });
  const container: Container = {
    name: SIDECAR_NAME,
    image: spec.sidecar.image,
    command: cmd.command,
    args: cmd.args,
    env: cmd.env,
    ports: [{ name: SIDECAR_NAME, containerPort: SYNC_PORT, protocol: 'TCP' }],
    securityContext: sidecarSecurityContext(user),
    volumeMounts: [
      { name: VOLUME_WORKDIR, mountPath: SIDECAR_WORKDIR },
      { name: VOLUME_SYNC_HOME, mountPath: SIDECAR_HOME },
      { name: VOLUME_SYNC_SECRET, mountPath: SIDECAR_SECRET_DIR, readOnly: true },
    ],
  };
  if (spec.sidecar.resources) container.resources = copyResources(spec.sidecar.resources);
  return container;
}

function injectedVolumes(secretName: string, claim: string | undefined): Volume[] {
  return [
    workdirVolume(claim),
    { name: VOLUME_SYNC_HOME, emptyDir: {} },
    { name: VOLUME_SYNC_SECRET, secret: { secretName } },
  ];
}

/** Turns the target container into the dev container; returns the probe kinds it removed. */
function rewriteTarget(target: Container, o: { image: string; overrides: Overrides; stripProbes: boolean }): string[] {
  target.image = o.image;
  target.command = [...o.overrides.command];
  delete target.args;
  target.workingDir = o.overrides.workdir;
  target.volumeMounts = [...(target.volumeMounts ?? []), { name: VOLUME_WORKDIR, mountPath: o.overrides.workdir }];
  const stripped: string[] = [];
  if (!o.stripProbes) return stripped;
  for (const probe of PROBES) {
    if (target[probe] === undefined) continue;
    delete target[probe];
    stripped.push(probe.replace('Probe', ''));
  }
  return stripped;
}

function workdirConflict(target: Container, workdir: string): string | undefined {
  const clash = (target.volumeMounts ?? []).find((m) => m.mountPath.replace(/\/+$/, '') === workdir.replace(/\/+$/, ''));
  if (!clash) return undefined;
  return (
    `the dev workdir ${workdir} is already a mount of container ${target.name} (volume ${clash.name}); ` +
    'set dev.x/workdir to another directory'
  );
}

function warningsFor(o: { target: Container; from: string | undefined; to: string; stripped: string[]; secret: string }): string[] {
  const w: string[] = [];
  if (o.from !== o.to) w.push(`dev mode: container ${o.target.name} image ${o.from ?? '(none)'} -> ${o.to}`);
  if (o.stripped.length > 0) w.push(`dev mode: ${o.stripped.join(', ')} probe(s) stripped from container ${o.target.name}`);
  w.push(`dev mode: syncthing sidecar ${SIDECAR_NAME} added, identities from Secret ${o.secret}`);
  return w;
}

function alreadyInjected(pod: Pod): Decision<never> | undefined {
  const status = annotationsOf(pod)[ANN_STATUS];
  if (status === undefined) return undefined;
  return skip('already injected (dev.x/status present)');
}

/** A copy of the pod in which exactly the parts injection changes are new objects; everything else is shared with
 * the original, which stays untouched (and lets the diff skip shared subtrees). */
function copyForInjection(original: Pod, originalTarget: Container): { pod: Pod; target: Container } {
  const target: Container = { ...originalTarget };
  const containers = original.spec.containers.map((c) => (c === originalTarget ? target : c));
  const pod: Pod = { ...original, metadata: { ...(original.metadata ?? {}) }, spec: { ...original.spec, containers, volumes: [...(original.spec.volumes ?? [])] } };
  return { pod, target };
}

/** The sync Secret of a workload named `<kind>/<name>` (a bare name is a pod's). */
function secretOf(workload: string): string {
  const ref = parseWorkloadRef(workload);
  return ref ? syncSecretName(ref.kind, ref.name) : syncSecretName('pod', workload);
}

/** Injects dev mode into a pod (or a pod template presented as a pod). Idempotent. */
export function injectPod(opts: InjectOptions): Decision<Pod> {
  const done = alreadyInjected(opts.pod);
  if (done) return done;
  const reserved = reservedNames(opts.pod.spec);
  if (reserved.length > 0) {
    return deny(
      `the pod already has ${reserved.join(', ')}: names starting with "${RESERVED_PREFIX}" are reserved for what devx injects; rename them`,
      'reserved-name',
    );
  }
  const ov = readOverrides(annotationsOf(opts.pod), opts.spec);
  if (!ov.ok) return deny(ov.error, 'bad-annotation');
  const overrides = ov.value;
  const original = pickTarget(opts.pod.spec, overrides.container);
  if (!original.ok) return deny(original.error, 'unknown-container');
  const { pod, target } = copyForInjection(opts.pod, original.value);
  const chosen = chooseDevImage({ spec: opts.spec, policyName: opts.policyName, original: target.image ?? '', requested: overrides.image });
  if (!chosen.ok) return deny(chosen.error, 'image-not-allowed');
  const image = chosen.value;
  const conflict = workdirConflict(target, overrides.workdir);
  if (conflict) return deny(conflict, 'workdir-conflict');

  const from = target.image;
  const stripped = rewriteTarget(target, { image: image.image, overrides, stripProbes: opts.spec.stripProbes });
  const secret = secretOf(opts.workload);
  const user = sidecarUser(pod.spec, target);
  const workdir = prepareWorkdir(pod, { spec: opts.spec, workload: opts.workload, sidecarGid: user.gid });
  pod.spec.containers.push(sidecarContainer(opts.spec, user));
  pod.spec.volumes = [...(pod.spec.volumes ?? []), ...injectedVolumes(secret, workdir.claim)];
  pod.metadata ??= {};
  const status: InjectionStatus = {
    version: opts.version,
    target: target.name,
    image: image.image,
    containers: [SIDECAR_NAME],
    volumes: INJECTED_VOLUMES,
  };
  setMetaKey(pod.metadata, 'annotations', ANN_STATUS, JSON.stringify(status));
  return {
    kind: 'mutate',
    object: pod,
    warnings: [...warningsFor({ target, from, to: image.image, stripped, secret }), ...workdir.warnings],
    reason: `injected: container ${target.name}, image from ${image.source}`,
  };
}
