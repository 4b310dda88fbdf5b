// Entry of the agent's commands (`kubectl devx sync|up|down|status|exec`): arguments, kubeconfig, output style,
// Ctrl-C, and one place where every failure becomes a message on stderr and an exit code.
import os from 'node:os';
import { agentKube, type AgentKube } from '../k8s/agent-api.ts';
import { parseAgentArgs, type AgentCommand } from './args.ts';
import { assertPortsFree } from './app-ports.ts';
import type { FoundWorkload } from './cluster.ts';
import { portsOf } from './dev-settings.ts';
import { runExec } from './exec-command.ts';
import { AgentError, describeFailure, EXIT } from './exit-codes.ts';
import { devxConfigDir } from './paths.ts';
import { parseDirArg } from './remote-dir.ts';
import { chooseStyle, type Style } from './render.ts';
import { jsonReporter, plainReporter, quietReporter, ttyReporter, type Reporter } from './reporter.ts';
import { runStatus } from './status-command.ts';
import { runSync } from './sync-command.ts';
import { chooseShell } from '../core/shell.ts';
import { ANN_SHELL } from '../core/names.ts';
import { isInteractive, type TerminalIo } from './terminal.ts';
import { runDown, runUp, type UpDownCommand } from './up-down.ts';
import { refString } from './workload-ref.ts';

export interface AgentIo extends TerminalIo {
  env: NodeJS.ProcessEnv;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  cwd: string;
}

function reporterFor(c: AgentCommand, io: AgentIo, style: Style): Reporter {
  const streams = { out: io.stdout, err: io.stderr };
  // JSON: a stream of events for sync; one result object for the others (so nothing else may reach stdout).
  if (c.common.json) return c.command === 'sync' || (c.command === 'up' && c.syncDir !== undefined) ? jsonReporter(streams) : quietReporter();
  return io.stderr.isTTY ? ttyReporter(streams, style) : plainReporter(streams, style);
}

/** Ctrl-C (or SIGTERM) aborts the command; a second Ctrl-C while it cleans up ends the process at once. */
function interruptOnSignals(controller: AbortController): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signal === 'SIGINT' ? EXIT.INTERRUPTED : 143);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

function loadKube(c: AgentCommand): AgentKube {
  try {
    return agentKube({ ...(c.common.kubeconfig ? { kubeconfig: c.common.kubeconfig } : {}), ...(c.common.context ? { context: c.common.context } : {}) });
  } catch (err) {
    throw new AgentError(EXIT.USAGE, (err as Error).message);
  }
}

interface Context {
  kube: AgentKube;
  namespace: string;
  configDir: string;
  io: AgentIo;
  style: Style;
  reporter: Reporter;
  signal: AbortSignal;
}

function base(c: AgentCommand, x: Context): Omit<UpDownCommand, 'workload'> {
  return { kube: x.kube, namespace: x.namespace, timeoutMs: c.common.timeoutMs, reporter: x.reporter, signal: x.signal, json: c.common.json, out: x.io.stdout };
}

/** `up --sync` ends in a shell where there is a terminal to open it in (and no -o json, no --no-shell). */
function wantsShell(c: AgentCommand, io: AgentIo): boolean {
  return c.command === 'up' && c.syncDir !== undefined && c.shell && !c.common.json && isInteractive(io);
}

function sync(c: AgentCommand & { command: 'sync' | 'up' }, dirText: string | undefined, x: Context): Promise<number> {
  const dirs = parseDirArg(dirText, x.io.cwd);
  if (!dirs.ok) throw new AgentError(EXIT.USAGE, dirs.error);
  const address = c.sync.address === undefined ? {} : { address: c.sync.address };
  const shell = wantsShell(c, x.io) ? { shellIo: x.io } : {};
  return runSync({ ...base(c, x), workload: c.workload, dirs: dirs.value, mode: c.sync.mode, forward: c.sync.forward, ...address, ...shell, style: x.style, env: x.io.env, configDir: x.configDir });
}

/** Before `up --sync` sets the label: its ports must parse and be free, its dev.x/shell must name a program. */
function upCheck(c: AgentCommand & { command: 'up' }, io: AgentIo): ((found: FoundWorkload) => Promise<void>) | undefined {
  if (c.syncDir === undefined) return undefined;
  return async (found) => {
    await assertPortsFree(portsOf(found, c.sync.forward));
    if (!wantsShell(c, io)) return;
    const shell = chooseShell(found.object.metadata.annotations?.[ANN_SHELL], undefined);
    if (!shell.ok) throw new AgentError(EXIT.USAGE, `${refString(found.ref)}: ${shell.error}`);
  };
}

async function up(c: AgentCommand & { command: 'up' }, x: Context): Promise<number> {
  const check = upCheck(c, x.io);
  const done = await runUp({ ...base(c, x), workload: c.workload, duplicate: c.duplicate === true, ...(c.image ? { image: c.image } : {}), ...(check ? { check } : {}) });
  // The sync that follows names the workload by the kind `up` found, so it needs no second lookup.
  return c.syncDir === undefined ? done.exitCode : sync({ ...c, workload: { kind: done.found.ref.kind, name: done.found.ref.name } }, c.syncDir, x);
}

async function dispatch(c: AgentCommand, io: AgentIo, out: Pick<Context, 'style' | 'reporter' | 'signal'>): Promise<number> {
  const kube = loadKube(c);
  const configDir = devxConfigDir({ env: io.env, homedir: os.homedir(), platform: process.platform });
  const x: Context = { kube, namespace: c.common.namespace ?? kube.namespace, configDir, io, ...out };
  switch (c.command) {
    case 'status':
      return runStatus({ kube, namespace: c.allNamespaces ? undefined : x.namespace, json: c.common.json, configDir, out: io.stdout, err: io.stderr, now: new Date() });
    case 'down':
      return runDown({ ...base(c, x), workload: c.workload });
    case 'exec':
      return runExec({ ...base(c, x), workload: c.workload, io, ...(c.argv ? { command: c.argv } : {}) });
    case 'up':
      return up(c, x);
    case 'sync':
      return sync(c, c.dir, x);
  }
}

/** Runs `kubectl devx <name> <argv…>` for one of AGENT_COMMANDS (args.ts); resolves with the exit code. */
export async function runAgentCommand(name: string, argv: string[], io: AgentIo): Promise<number> {
  const parsed = parseAgentArgs(name, argv);
  if (!parsed.ok) {
    io.stderr.write(`kubectl devx: ${parsed.error}\nRun kubectl devx help for usage.\n`);
    return EXIT.USAGE;
  }
  const style = chooseStyle(io.stderr.isTTY === true, io.env);
  const command = parsed.value;
  const reporter = reporterFor(command, io, style);
  const controller = new AbortController();
  const release = interruptOnSignals(controller);
  try {
    return await dispatch(command, io, { style, reporter, signal: controller.signal });
  } catch (err) {
    const failure = describeFailure(err);
    reporter.close();
    if (command.common.json) io.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), event: 'error', exitCode: failure.exitCode, message: failure.message })}\n`);
    io.stderr.write(`kubectl devx: ${failure.message}\n`);
    return failure.exitCode;
  } finally {
    reporter.close();
    release();
  }
}
