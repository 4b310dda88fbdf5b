// `kubectl devx sync <workload> [LOCAL_DIR[:REMOTE_DIR]]`, up to the point where syncing starts: syncthing present,
// workload in dev mode, its sync Secret readable, port-forward allowed, the dev pod verified (verify-dev-pod.ts) and
// running (with the synced volume where REMOTE_DIR asks for it). Each failure is an AgentError that says what to do; the rest is sync-session.ts.
import fs from 'node:fs';
import { ANN_WORKDIR } from '../core/names.ts';
import { err, ok } from '../core/result.ts';
import type { AgentKube } from '../k8s/agent-api.ts';
import { kubeMergePatch } from '../k8s/agent-api.ts';
import type { SyncMode } from '../sync/config.ts';
import { readSyncSecretData, type SyncSecret } from '../sync/secret.ts';
import { callFailure, deniedOf, readSecretData, requireDevMode, resolveWorkload, waitForVerifiedDevPod, waitUntil, workloadPermission, type FoundWorkload } from './cluster.ts';
import { assertPortsFree } from './app-ports.ts';
import { portsOf, shellOf } from './dev-settings.ts';
import { readyToSync, type DevPod } from './dev-pod.ts';
import { requireExecRights } from './exec-command.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { holdableReporter } from './held-reporter.ts';
import type { PortMapping } from './port-spec.ts';
import { sessionHome } from './paths.ts';
import { forbiddenMessage, portForwardPermissions } from './rbac.ts';
import { decideRemoteDir, type DirSpec } from './remote-dir.ts';
import type { Reporter } from './reporter.ts';
import type { Style } from './render.ts';
import { assertStignoreOurs } from './session-home.ts';
import { runSession, type SessionInput } from './sync-session.ts';
import { findSyncthing } from './syncthing-process.ts';
import type { TerminalIo } from './terminal.ts';
import { ownerChainPermissions } from './verify-dev-pod.ts';
import { objectPath, refString, refText, syncSecretOf, type WorkloadArg, type WorkloadRef } from './workload-ref.ts';
import { syncTarget } from './duplicate-target.ts';

export interface SyncCommand {
  kube: AgentKube;
  workload: WorkloadArg;
  namespace: string;
  dirs: DirSpec;
  mode: SyncMode;
  /**
   * Dial the sidecar at this address instead of port-forwarding, e.g. `tcp://127.0.0.1:22000` behind your own
   * `kubectl port-forward`. The pod then only has to exist, not to run (the tests use this with a stand-in).
   */
  address?: string;
  /** --forward: local ports to the dev pod's, over the workload's dev.x/ports. */
  forward: readonly PortMapping[];
  /** `up --sync` on a terminal: a shell opens in it once the first full sync is complete. */
  shellIo?: TerminalIo;
  timeoutMs: number;
  reporter: Reporter;
  style: Style;
  env: NodeJS.ProcessEnv;
  configDir: string;
  signal: AbortSignal;
}

function checkLocalDir(dir: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    throw new AgentError(EXIT.USAGE, `LOCAL_DIR ${dir} does not exist: create it (or pass another directory)`);
  }
  if (!stat.isDirectory()) throw new AgentError(EXIT.USAGE, `LOCAL_DIR ${dir} is not a directory`);
  assertStignoreOurs(dir);
}

async function waitForSecret(cmd: SyncCommand, ref: WorkloadRef): Promise<SyncSecret> {
  const name = syncSecretOf(ref);
  const data = await waitUntil({
    reporter: cmd.reporter,
    timeoutMs: cmd.timeoutMs,
    signal: cmd.signal,
    probe: async () => {
      const d = await readSecretData(cmd.kube.kubeConfig, ref.namespace, name);
      return d ? ok(d) : err(`Secret ${name} (devx creates it when the workload enters dev mode; is devx-webhook running?)`);
    },
  });
  const read = readSyncSecretData(data);
  if (!read.ok) throw new AgentError(EXIT.FAILURE, `Secret ${name} is not a usable devx sync Secret (${read.error}); delete it and devx creates a new one`);
  return read.value;
}

async function requirePortForward(cmd: SyncCommand, namespace: string): Promise<void> {
  const denied = await deniedOf(cmd.kube.kubeConfig, portForwardPermissions(namespace));
  if (denied.length > 0) throw new AgentError(EXIT.FORBIDDEN, forbiddenMessage(`you may not port-forward to pods in namespace ${namespace}`, denied));
}

/** The agent checks the dev pod's owner chain before it syncs (verify-dev-pod.ts): it must be allowed to read it. */
async function requireOwnerChainReads(cmd: SyncCommand, ref: WorkloadRef): Promise<void> {
  const denied = await deniedOf(cmd.kube.kubeConfig, ownerChainPermissions(ref));
  if (denied.length === 0) return;
  const what = `you may not read the objects between the dev pod and ${refString(ref)}, which kubectl devx sync checks before syncing`;
  throw new AgentError(EXIT.FORBIDDEN, forbiddenMessage(what, denied));
}

/** Sets dev.x/workdir (the pod is recreated with the synced volume there) and waits for that pod. */
async function moveWorkdir(cmd: SyncCommand, at: { found: FoundWorkload; target: WorkloadRef }, workdir: string, ready: (p: DevPod) => boolean): Promise<DevPod> {
  const { found } = at;
  if (found.ref.kind !== 'Deployment' && found.ref.kind !== 'StatefulSet') {
    throw new AgentError(
      EXIT.USAGE,
      `REMOTE_DIR ${workdir} differs from the dev container's workdir, and for a ${found.ref.kind} devx does not recreate the dev pod for it: ` +
        `run kubectl devx down, kubectl annotate ${refString(found.ref)} ${ANN_WORKDIR}=${workdir}, kubectl devx up; or leave REMOTE_DIR out`,
    );
  }
  const path = objectPath(found.ref.kind, found.ref.namespace, found.ref.name);
  await kubeMergePatch(cmd.kube.kubeConfig, path, { metadata: { annotations: { [ANN_WORKDIR]: workdir } } }).catch(async (err: unknown) => {
    throw await callFailure(cmd.kube.kubeConfig, err, `setting ${ANN_WORKDIR} on ${refString(found.ref)}`, workloadPermission(found.ref, 'patch'));
  });
  const whose = at.target.copy === undefined ? 'the dev pod is' : 'the dev pods of all its copies are';
  cmd.reporter.step(`${ANN_WORKDIR}=${workdir} set on ${refString(found.ref)}: ${whose} recreated with the synced directory there`);
  return waitForVerifiedDevPod(cmd.kube.kubeConfig, at.target, { ...cmd, ready: (p) => p.workdir === workdir && ready(p) });
}

/** The shell of `up --sync` (the reporter is held while it has the screen), checked before anything starts. */
async function terminalOf(cmd: SyncCommand, found: FoundWorkload, ref: WorkloadRef): Promise<{ cmd: SyncCommand; terminal?: SessionInput['terminal'] }> {
  if (cmd.shellIo === undefined) return { cmd };
  const shell = await shellOf(cmd.kube.kubeConfig, found);
  await requireExecRights(cmd.kube.kubeConfig, ref);
  const reporter = holdableReporter(cmd.reporter);
  return { cmd: { ...cmd, reporter }, terminal: { shell, io: cmd.shellIo, reporter } };
}

/** Runs the sync command until Ctrl-C (OK), a failure (its exit code), or the exit of the shell of `up --sync` (its
 * exit code). */
export async function runSync(command: SyncCommand): Promise<number> {
  const binary = await findSyncthing(command.env, process.platform);
  checkLocalDir(command.dirs.local);
  const kc = command.kube.kubeConfig;
  const found = await resolveWorkload(kc, command.workload, command.namespace);
  requireDevMode(found);
  // In duplicate mode: the caller's own copy, its own sync Secret.
  const ref = await syncTarget(kc, found);
  const ports = portsOf(found, command.forward);
  await assertPortsFree(ports);
  const { cmd, terminal } = await terminalOf(command, found, ref);
  const secret = await waitForSecret(cmd, ref);
  if (cmd.address === undefined || ports.length > 0) await requirePortForward(cmd, ref.namespace);
  await requireOwnerChainReads(cmd, ref);
  // Behind an explicit address nothing is port-forwarded, so the pod only has to exist.
  const ready = cmd.address === undefined ? readyToSync : (p: DevPod) => !p.terminating;
  // Only a pod whose injection record and owner chain verify is synced with (DESIGN §10); decoys are skipped.
  let pod = await waitForVerifiedDevPod(kc, ref, { ...cmd, ready });
  const remote = decideRemoteDir(cmd.dirs.remote, pod.workdir);
  if (remote.action === 'move') pod = await moveWorkdir(cmd, { found, target: ref }, remote.workdir, ready);
  cmd.reporter.step(`${refText(ref)} is in dev mode; dev pod ${pod.name}${pod.workdir ? `, files in ${pod.target}:${pod.workdir}` : ''}`);
  return runSession({
    cmd,
    ref,
    secret,
    pod,
    ready,
    binary: binary.path,
    home: sessionHome(cmd.configDir, cmd.kube.context, ref),
    ports,
    ...(terminal ? { terminal } : {}),
  });
}
