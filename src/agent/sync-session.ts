// A running sync session: the claimed home, the tunnel to the dev pod, the local syncthing, and the loops that watch
// them (syncthing's events and REST, the dev pod, the workload's dev mode) until Ctrl-C or a failure; with them the
// app's ports (app-ports.ts) and, for `up --sync` on a terminal, the shell (session-terminal.ts) once the first full
// sync is complete. Everything it starts, it stops, in reverse order, whatever the way out.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDevEnabled } from '../core/names.ts';
import type { ShellChoice } from '../core/shell.ts';
import { forwardSocket, PortForwardRefusedError } from '../k8s/portforward.ts';
import { FOLDER_ID, GUI_PORT, SYNC_PORT } from '../sync/constants.ts';
import { defaultFolderLabel, type SyncSecret } from '../sync/secret.ts';
import { forbiddenFor, lookForVerifiedDevPod, readWorkload, type DevPodLook } from './cluster.ts';
import { waitingFor, type DevPod } from './dev-pod.ts';
import { appPortNotes, openAppPorts, type AppPorts } from './app-ports.ts';
import { describeFailure, EXIT } from './exit-codes.ts';
import type { HeldReporter } from './held-reporter.ts';
import { portsText, type PortMapping } from './port-spec.ts';
import { shellInSession } from './session-terminal.ts';
import type { TerminalIo } from './terminal.ts';
import { DEVXIGNORE } from './ignore.ts';
import { removeFile, writePid } from './pidfile.ts';
import { applyEvent, initialView, phaseOf, type SyncthingEvent, type SyncView } from './progress.ts';
import { ownershipAdvice, runningUsers } from './ownership.ts';
import { sidecarUidOf } from './pod-side.ts';
import { watchPodSide } from './pod-side-watch.ts';
import { portForwardPermissions } from './rbac.ts';
import type { StatusContext } from './render.ts';
import { claimHome, resetIndexIfNeeded, writeIdentityAndConfig, writeSessionRecord, writeStignore } from './session-home.ts';
import { SYNCTHING_LOG_FILE, SYNCTHING_PID_FILE, type SessionRecord } from './session-record.ts';
import { syncthingApi, type SyncthingApi } from './syncthing-api.ts';
import { freeLoopbackPort, startSyncthing, type RunningSyncthing } from './syncthing-process.ts';
import { openTunnel, type Connect, type TunnelEvent } from './tunnel.ts';
import type { SyncCommand } from './sync-command.ts';
import { refString, type WorkloadRef } from './workload-ref.ts';
import { duplicateUsers } from './duplicate-target.ts';
import { duplicateName } from '../core/duplicate.ts';

export interface SessionInput {
  cmd: SyncCommand;
  ref: WorkloadRef;
  secret: SyncSecret;
  pod: DevPod;
  ready: (p: DevPod) => boolean;
  binary: string;
  home: string;
  /** The app's ports, forwarded while the session runs (dev.x/ports and --forward). */
  ports: readonly PortMapping[];
  /** `up --sync` on a terminal: the shell opened once the first full sync is complete (cmd.reporter is `reporter`). */
  terminal?: { shell: ShellChoice; io: TerminalIo; reporter: HeldReporter };
}

interface Stop {
  /** The agent's exit code: one of EXIT, or the exit code of the shell of `up --sync`. */
  code: number;
  message?: string;
}

/** The first reason to stop wins; every loop watches `signal`. */
interface Stopper {
  readonly reason: Promise<Stop>;
  readonly signal: AbortSignal;
  stop(s: Stop): void;
}

function stopper(): Stopper {
  const controller = new AbortController();
  let resolve: (s: Stop) => void = () => undefined;
  const reason = new Promise<Stop>((r) => (resolve = r));
  return {
    reason,
    signal: controller.signal,
    stop: (s) => {
      if (controller.signal.aborted) return;
      resolve(s);
      controller.abort();
    },
  };
}

function failureStop(err: unknown): Stop {
  const { exitCode, message } = describeFailure(err);
  return { code: exitCode, message };
}

const pause = (ms: number, signal: AbortSignal): Promise<void> => sleep(ms, undefined, { signal }).catch(() => undefined);

// ---- the dev pod and the workload, watched -----------------------------------------------------------------------

interface PodWatch {
  current(): DevPod | undefined;
}

/** What changed about the dev pod, for a note (undefined: nothing the user needs to hear). */
function podChange(before: DevPod | undefined, look: DevPodLook, ref: WorkloadRef): string | undefined {
  const after = look.pod;
  if (after === undefined) return before === undefined ? undefined : `the dev pod ${before.name} is gone; waiting for ${waitingFor(after, ref, look.rejected)}`;
  if (before === undefined || before.uid !== after.uid) return `dev pod is now ${after.name}${before ? ` (was ${before.name})` : ''}: reconnecting`;
  if (after.sidecarRestarts > before.sidecarRestarts) return `syncthing in pod ${after.name} restarted: reconnecting`;
  return undefined;
}

async function workloadStillInDevMode(input: SessionInput): Promise<Stop | undefined> {
  const { ref } = input;
  try {
    const w = await readWorkload(input.cmd.kube.kubeConfig, ref);
    if (!isDevEnabled(w.metadata.labels)) return { code: EXIT.NOT_IN_DEV_MODE, message: `${refString(ref)} left dev mode (label removed or TTL expired): sync stopped` };
    if (ref.copy === undefined || duplicateUsers(w).some((u) => duplicateName(ref.name, u) === ref.copy)) return undefined;
    return { code: EXIT.NOT_IN_DEV_MODE, message: `your copy ${ref.copy} of ${refString(ref)} ended (dev.x/duplicate=leave or kubectl devx down): sync stopped` };
  } catch (err) {
    if ((err as { status?: number }).status === 404) return { code: EXIT.NOT_FOUND, message: `${refString(ref)} was deleted: sync stopped` };
    return undefined; // a passing API problem: the next look decides
  }
}

/** Polls the dev pod (every 2 s; verified each time, so a pod that stops verifying is dropped) and the workload's dev
 * mode (every 6 s) until the session stops. */
function watchCluster(input: SessionInput, stop: Stopper): { watch: PodWatch; done: Promise<void> } {
  let current: DevPod | undefined = input.pod;
  let lastProblem = '';
  const { cmd, ref } = input;
  let lastAdvice: string | undefined;
  const advise = (pod: DevPod | undefined): void => {
    const advice = pod ? ownershipAdvice(runningUsers(pod), ref) : undefined;
    if (advice && advice !== lastAdvice) cmd.reporter.note(advice);
    lastAdvice = advice;
  };
  const done = (async () => {
    advise(current);
    for (let round = 1; !stop.signal.aborted; round++) {
      await pause(2000, stop.signal);
      if (stop.signal.aborted) return;
      try {
        const look = await lookForVerifiedDevPod(cmd.kube.kubeConfig, ref);
        const change = podChange(current, look, ref);
        if (change) cmd.reporter.note(change);
        current = look.pod;
        advise(current);
        lastProblem = '';
      } catch (err) {
        const problem = `cannot read the dev pod: ${(err as Error).message} (retrying)`;
        if (problem !== lastProblem) cmd.reporter.note(problem);
        lastProblem = problem;
      }
      const ended = round % 3 === 0 ? await workloadStillInDevMode(input) : undefined;
      if (ended) stop.stop(ended);
    }
  })();
  return { watch: { current: () => current }, done };
}

// ---- the tunnel ----------------------------------------------------------------------------------------------------

/** A port-forward refused by RBAC stops the session with the missing verbs named; true when `error` was that. */
function stopIfForbidden(input: SessionInput, stop: Stopper, error: unknown): boolean {
  if (!(error instanceof PortForwardRefusedError) || error.status !== 403) return false;
  const wanted = portForwardPermissions(input.ref.namespace);
  void forbiddenFor(input.cmd.kube.kubeConfig, 'the API server refused the port-forward (403)', wanted).then((message) => stop.stop({ code: EXIT.FORBIDDEN, message }));
  return true;
}

function tunnelNote(input: SessionInput, stop: Stopper): (e: TunnelEvent) => void {
  let last = '';
  const once = (text: string): void => {
    if (text !== last) input.cmd.reporter.note(text);
    last = text;
  };
  return (e) => {
    if (e.type === 'open') last = '';
    if (e.type === 'closed' && !stop.signal.aborted) once(`connection to the pod closed${e.error ? `: ${e.error}` : ''}; syncthing reconnects`);
    if (e.type !== 'refused' || stop.signal.aborted || stopIfForbidden(input, stop, e.error)) return;
    once(`port-forward not possible now: ${(e.error as Error).message}; retrying`);
  };
}

/** Listens on the app's local ports (an AgentError when one is taken: the session stops with it). */
async function forwardAppPorts(input: SessionInput, stop: Stopper, watch: PodWatch): Promise<AppPorts | undefined> {
  if (input.ports.length === 0) return undefined;
  const notes = appPortNotes(
    (message) => input.cmd.reporter.note(message),
    (error) => stopIfForbidden(input, stop, error),
  );
  const onEvent = (p: PortMapping, e: TunnelEvent): void => (stop.signal.aborted ? undefined : notes(p, e));
  const ports = await openAppPorts({ ports: input.ports, connect: (remote) => podConnect(input, watch, remote), onEvent });
  input.cmd.reporter.step(`forwarding ${portsText(input.ports)} of the dev pod while this runs`);
  return ports;
}

/** Carries a local connection to `port` of the dev pod there is now, if it is ready. */
function podConnect(input: SessionInput, watch: PodWatch, port: number): Connect {
  const kc = input.cmd.kube.kubeConfig;
  return async (socket) => {
    const pod = watch.current();
    if (pod === undefined || !input.ready(pod)) throw new Error(`waiting for ${waitingFor(pod, input.ref)}`);
    return forwardSocket(kc, { namespace: input.ref.namespace, pod: pod.name, port }, socket);
  };
}

async function withTunnel<T>(input: SessionInput, stop: Stopper, watch: PodWatch, run: (address: string) => Promise<T>): Promise<T> {
  if (input.cmd.address !== undefined) return run(input.cmd.address);
  const tunnel = await openTunnel({ connect: podConnect(input, watch, SYNC_PORT), onEvent: tunnelNote(input, stop) });
  try {
    return await run(tunnel.address);
  } finally {
    await tunnel.close();
  }
}

// ---- syncthing, watched ------------------------------------------------------------------------------------------

interface Display {
  apply(e: SyncthingEvent | undefined): void;
  view(): SyncView;
}

function display(input: SessionInput, live: Live, startedAt: number): Display {
  const { watch } = live;
  const { cmd } = input;
  let view = initialView(input.secret.sidecar.deviceId, FOLDER_ID);
  let synced = false;
  const ctx = (): StatusContext => ({
    pod: watch.current()?.name ?? input.pod.name,
    mode: cmd.mode,
    clock: (iso) => new Date(iso).toLocaleTimeString('en-GB', { hour12: false }),
  });
  return {
    view: () => view,
    apply: (e) => {
      if (e === undefined) return;
      if (cmd.env.DEVX_DEBUG_EVENTS) process.stderr.write(`event ${JSON.stringify(e)}\n`);
      view = applyEvent(view, e);
      if (!synced && phaseOf(view, cmd.mode) === 'in-sync') {
        synced = true;
        cmd.reporter.synced({ files: view.global.items, bytes: view.global.bytes, seconds: (Date.now() - startedAt) / 1000, pod: ctx().pod });
        live.firstSync();
      }
      if (synced) cmd.reporter.live(view, ctx());
      else cmd.reporter.progress(view, cmd.mode);
    },
  };
}

async function eventLoop(api: SyncthingApi, d: Display, signal: AbortSignal): Promise<void> {
  let since = 0;
  while (!signal.aborted) {
    try {
      for (const e of await api.events(since, 10, signal)) {
        since = Math.max(since, e.id);
        d.apply(e);
      }
    } catch {
      await pause(500, signal);
    }
  }
}

/** REST polls that back the events up (a missed or rate-limited event must not stall the progress), and the
 * `.devxignore` watch. */
async function pollLoop(input: SessionInput, api: SyncthingApi, d: Display, signal: AbortSignal): Promise<void> {
  const peer = input.secret.sidecar.deviceId;
  const devxignore = path.join(input.cmd.dirs.local, DEVXIGNORE);
  let ignoreStamp = fs.statSync(devxignore, { throwIfNoEntry: false })?.mtimeMs;
  while (!signal.aborted) {
    try {
      d.apply(await api.connection(peer));
      d.apply(await api.folderStatus(FOLDER_ID));
      if (d.view().connected) d.apply(await api.completion(FOLDER_ID, peer));
      const stamp = fs.statSync(devxignore, { throwIfNoEntry: false })?.mtimeMs;
      if (stamp !== ignoreStamp) {
        ignoreStamp = stamp;
        writeStignore(input.cmd.dirs.local);
        await api.scan(FOLDER_ID);
        input.cmd.reporter.note(`${DEVXIGNORE} changed: ignore patterns updated`);
      }
    } catch {
      // syncthing busy or restarting its API: the next round asks again
    }
    await pause(1000, signal);
  }
}

/** How long the pod may be ready while syncthing is not connected to it before the agent makes syncthing dial now. */
const REDIAL_AFTER_MS = 1500;

/**
 * Reconnects at once when the pod side comes back (a restarted sidecar, a new dev pod): syncthing redials a closed
 * connection immediately, but that dial meets a sidecar still starting, and the next waits out the reconnection
 * interval (5 s at least, longer after repeated failures). While the dev pod is ready and the peer is not connected,
 * the agent asks syncthing to dial again every REDIAL_AFTER_MS.
 */
async function redialLoop(input: SessionInput, api: SyncthingApi, d: Display, at: { signal: AbortSignal; watch: PodWatch }): Promise<void> {
  const { signal, watch } = at;
  const peer = input.secret.sidecar.deviceId;
  let waitingSince: number | undefined;
  while (!signal.aborted) {
    await pause(500, signal);
    const pod = watch.current();
    if (d.view().connected || pod === undefined || !input.ready(pod)) {
      waitingSince = undefined;
      continue;
    }
    waitingSince ??= Date.now();
    if (Date.now() - waitingSince < REDIAL_AFTER_MS) continue;
    waitingSince = Date.now();
    await api.redial(peer).catch(() => undefined);
  }
}

/** The sidecar's own folder errors, through a port-forward to its GUI port. Not behind an explicit --address: there
 * is no pod to forward to, only a sync port someone else forwards. */
async function podSideLoop(input: SessionInput, d: Display, signal: AbortSignal, watch: PodWatch): Promise<void> {
  if (input.cmd.address !== undefined) return;
  const { reporter } = input.cmd;
  await watchPodSide({
    connect: podConnect(input, watch, GUI_PORT),
    sidecarUid: () => sidecarUidOf((watch.current() ?? input.pod).sidecar),
    apiKey: input.secret.apiKey,
    apply: (e) => d.apply(e),
    view: () => d.view(),
    note: (message) => reporter.note(message),
    signal,
  }).catch((err: unknown) => reporter.note(`cannot read the sync errors of the pod's syncthing (${(err as Error).message}); showing local errors only`));
}

async function waitForApi(api: SyncthingApi, st: RunningSyncthing, signal: AbortSignal): Promise<Stop | undefined> {
  const deadline = Date.now() + 60_000;
  let exited: string | undefined;
  void st.exited.then((code) => (exited = code));
  while (!(await api.ping())) {
    if (signal.aborted) return { code: EXIT.OK };
    if (exited !== undefined) return { code: EXIT.FAILURE, message: `syncthing exited (${exited}) while starting:\n${st.logTail()}` };
    if (Date.now() > deadline) return { code: EXIT.FAILURE, message: `syncthing did not answer on its REST API within 60 s:\n${st.logTail()}` };
    await pause(100, signal);
  }
  return undefined;
}

/** What the loops of a running session share. */
interface Live {
  stop: Stopper;
  watch: PodWatch;
  /** Called once, when the first full sync is complete. */
  firstSync: () => void;
}

async function superviseSyncthing(input: SessionInput, address: string, live: Live): Promise<void> {
  const { cmd, home, secret } = input;
  const { stop, watch } = live;
  const guiAddress = `127.0.0.1:${await freeLoopbackPort()}`;
  const apiKey = randomBytes(24).toString('base64url');
  writeIdentityAndConfig(home, secret, {
    sidecarDeviceId: secret.sidecar.deviceId,
    agentDeviceId: secret.agent.deviceId,
    apiKey,
    folderLabel: defaultFolderLabel({ workloadKind: input.ref.kind, workloadName: input.ref.name, namespace: input.ref.namespace }),
    folderPath: cmd.dirs.local,
    sidecarAddress: address,
    guiAddress,
    mode: cmd.mode,
  });
  const st = startSyncthing({ binary: input.binary, home, logFile: path.join(home, SYNCTHING_LOG_FILE), env: cmd.env });
  const pidFile = path.join(home, SYNCTHING_PID_FILE);
  writePid(pidFile, st.pid);
  try {
    const api = syncthingApi(guiAddress, apiKey);
    const failed = await waitForApi(api, st, stop.signal);
    if (failed) return stop.stop(failed);
    cmd.reporter.step(`syncthing started (pid ${st.pid}), ${cmd.mode === 'push' ? 'pushing' : 'syncing both ways'}: ${cmd.dirs.local} ⇄ ${refString(input.ref)} via ${address}`);
    void st.exited.then((code) => stop.stop({ code: EXIT.FAILURE, message: `syncthing exited unexpectedly (${code}):\n${st.logTail()}` }));
    const d = display(input, live, Date.now());
    await Promise.all([
      eventLoop(api, d, stop.signal),
      pollLoop(input, api, d, stop.signal),
      podSideLoop(input, d, stop.signal, watch),
      redialLoop(input, api, d, { signal: stop.signal, watch }),
    ]);
  } finally {
    await st.stop();
    removeFile(pidFile);
  }
}

/**
 * After the first full sync, the shell of `up --sync` (if asked for); when it exits, the session stops with its code.
 * Resolves once the shell is over and the terminal restored (at once when the session stops before the first sync).
 */
async function shellAfterFirstSync(input: SessionInput, live: Omit<Live, 'firstSync'>, firstSync: Promise<void>): Promise<void> {
  const { terminal } = input;
  if (terminal === undefined) return;
  const { stop, watch } = live;
  const stopped = new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
  await Promise.race([firstSync, stopped]);
  if (stop.signal.aborted) return;
  try {
    stop.stop(await shellInSession({ kc: input.cmd.kube.kubeConfig, ref: input.ref, ...terminal, signal: stop.signal, currentPod: () => watch.current() }));
  } catch (err) {
    stop.stop(failureStop(err));
  }
}

/** Runs the session until it stops; returns the exit code and prints why it stopped. */
export async function runSession(input: SessionInput): Promise<number> {
  const { cmd, home } = input;
  const claim = await claimHome(home, refString(input.ref));
  const stop = stopper();
  const onAbort = (): void => stop.stop({ code: EXIT.OK });
  cmd.signal.addEventListener('abort', onAbort, { once: true });
  if (cmd.signal.aborted) onAbort();
  try {
    if (claim.stoppedStale !== undefined) cmd.reporter.note(`stopped syncthing pid ${claim.stoppedStale}, left running by an earlier kubectl devx sync`);
    const reset = resetIndexIfNeeded(home, claim.previous, { folderPath: cmd.dirs.local, podUid: input.pod.uid });
    if (reset) cmd.reporter.note(`starting with a fresh local index: ${reset}`);
    writeStignore(cmd.dirs.local);
    const record: SessionRecord = { folderPath: cmd.dirs.local, podUid: input.pod.uid, pod: input.pod.name, mode: cmd.mode, agentPid: process.pid, startedAt: new Date().toISOString() };
    writeSessionRecord(home, record);
    const cluster = watchCluster(input, stop);
    let firstSync = (): void => undefined;
    const synced = new Promise<void>((resolve) => (firstSync = resolve));
    const live: Live = { stop, watch: cluster.watch, firstSync };
    const ports = forwardAppPorts(input, stop, cluster.watch);
    const running = ports.then(() => withTunnel(input, stop, cluster.watch, (address) => superviseSyncthing(input, address, live)));
    running.catch((err: unknown) => stop.stop(failureStop(err)));
    const shell = shellAfterFirstSync(input, live, synced);
    const reason = await stop.reason;
    await Promise.allSettled([running, cluster.done, shell]);
    await (await ports.catch(() => undefined))?.close();
    writeSessionRecord(home, { ...record, stoppedAt: new Date().toISOString() });
    cmd.reporter.stopped(reason.code, reason.message);
    return reason.code;
  } finally {
    cmd.signal.removeEventListener('abort', onAbort);
    claim.release();
  }
}
