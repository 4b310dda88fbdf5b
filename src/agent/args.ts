// Command lines of the agent's commands (`sync`, `up`, `down`, `status`, `exec`), parsed into typed options. Pure:
// argv in, options or a usage message out.
import { parseArgs } from 'node:util';
import { parseDuration } from '../schemas/duration.ts';
import { err, ok, type Result } from '../core/result.ts';
import type { SyncMode } from '../sync/config.ts';
import { parseForwardFlags, type PortMapping } from './port-spec.ts';
import { parseWorkloadArg, type WorkloadArg } from './workload-ref.ts';

export interface CommonOptions {
  kubeconfig?: string;
  context?: string;
  /** -n; undefined = the context's namespace. */
  namespace?: string;
  json: boolean;
  timeoutMs: number;
}

export interface SyncOptions {
  mode: SyncMode;
  /** --address: dial the sidecar there instead of port-forwarding. */
  address?: string;
  /** --forward (repeatable, or a comma list): local ports to the dev pod's, over the workload's dev.x/ports. */
  forward: PortMapping[];
}

export type AgentCommand =
  | { command: 'sync'; common: CommonOptions; workload: WorkloadArg; dir?: string; sync: SyncOptions }
  /** `shell`: open a terminal in the dev container after the first full sync (where there is a terminal; --no-shell: never).
   * `duplicate`: a copy of one's own (dev.x/mode=duplicate). */
  | { command: 'up'; common: CommonOptions; workload: WorkloadArg; image?: string; syncDir?: string; sync: SyncOptions; shell: boolean; duplicate?: true }
  /** `argv`: the command after `--`; undefined: the workload's shell. */
  | { command: 'exec'; common: CommonOptions; workload: WorkloadArg; argv?: string[] }
  | { command: 'down'; common: CommonOptions; workload: WorkloadArg }
  | { command: 'status'; common: CommonOptions; allNamespaces: boolean };

/** Default wait for a pod, a Secret, or `up`/`down` to finish. */
export const DEFAULT_TIMEOUT = '5m';

const COMMON = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
} as const;

const SYNC = { mode: { type: 'string' }, address: { type: 'string' }, forward: { type: 'string', multiple: true } } as const;

const OPTIONS = {
  sync: { ...COMMON, ...SYNC },
  up: { ...COMMON, ...SYNC, image: { type: 'string' }, sync: { type: 'string' }, 'no-shell': { type: 'boolean' }, duplicate: { type: 'boolean' } },
  down: COMMON,
  status: { ...COMMON, 'all-namespaces': { type: 'boolean', short: 'A' } },
  // -i and -t are kubectl exec's habit: accepted, and implied (stdin is always passed, a terminal used when there is one).
  exec: { ...COMMON, stdin: { type: 'boolean', short: 'i' }, tty: { type: 'boolean', short: 't' } },
} as const;

/** The commands this parser knows (`kubectl devx <command>`). */
export const AGENT_COMMANDS = Object.keys(OPTIONS) as ReadonlyArray<keyof typeof OPTIONS>;

type Values = Record<string, string | boolean | string[] | undefined>;

function common(v: Values): Result<CommonOptions> {
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json') return err(`-o must be json (or text), not ${JSON.stringify(output)}`);
  const timeoutText = (v.timeout as string | undefined) ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined) return err(`--timeout must be a duration such as 90s or 5m, not ${JSON.stringify(timeoutText)}`);
  const out: CommonOptions = { json: output === 'json', timeoutMs };
  if (typeof v.kubeconfig === 'string') out.kubeconfig = v.kubeconfig;
  if (typeof v.context === 'string') out.context = v.context;
  if (typeof v.namespace === 'string') out.namespace = v.namespace;
  return ok(out);
}

function syncOptions(v: Values): Result<SyncOptions> {
  const mode = (v.mode as string | undefined) ?? 'two-way';
  if (mode !== 'two-way' && mode !== 'push') return err(`--mode must be two-way or push, not ${JSON.stringify(mode)}`);
  const address = v.address as string | undefined;
  if (address !== undefined && !/^tcp[46]?:\/\/[^\s/]+:\d{1,5}$/.test(address)) return err(`--address must be tcp://HOST:PORT, not ${JSON.stringify(address)}`);
  const forward = parseForwardFlags((v.forward as string[] | undefined) ?? []);
  if (!forward.ok) return forward;
  return ok(address === undefined ? { mode, forward: forward.value } : { mode, address, forward: forward.value });
}

function workloadOf(positionals: string[], command: string, max: number): Result<WorkloadArg> {
  const [first] = positionals;
  if (first === undefined) return err(`${command} needs a workload, e.g. kubectl devx ${command} deploy/reviews`);
  if (positionals.length > max) return err(`${command}: unexpected argument ${JSON.stringify(positionals[max])}`);
  return parseWorkloadArg(first);
}

function buildStatus(c: CommonOptions, v: Values, positionals: string[]): Result<AgentCommand> {
  if (positionals.length > 0) return err(`status takes no arguments (got ${JSON.stringify(positionals[0])})`);
  const all = v['all-namespaces'] === true;
  if (all && c.namespace !== undefined) return err('status: pass -n NAMESPACE or -A, not both');
  return ok({ command: 'status', common: c, allNamespaces: all });
}

function buildUp(c: CommonOptions, v: Values, workload: WorkloadArg, sync: SyncOptions): Result<AgentCommand> {
  if (typeof v.sync !== 'string') {
    if (sync.forward.length > 0) return err('up: --forward needs --sync (the ports are forwarded while the sync runs); or run kubectl devx sync WORKLOAD --forward …');
    if (v['no-shell'] === true) return err('up: --no-shell goes with --sync (without it, up opens no shell)');
  }
  const extra = { ...(typeof v.image === 'string' ? { image: v.image } : {}), ...(typeof v.sync === 'string' ? { syncDir: v.sync } : {}) };
  return ok({ command: 'up', common: c, workload, sync, shell: v['no-shell'] !== true, ...extra, ...(v.duplicate === true ? { duplicate: true as const } : {}) });
}

function buildSyncOrUp(command: 'sync' | 'up', c: CommonOptions, v: Values, positionals: string[]): Result<AgentCommand> {
  const parsed = workloadOf(positionals, command, command === 'sync' ? 2 : 1);
  if (!parsed.ok) return parsed;
  const options = syncOptions(v);
  if (!options.ok) return options;
  const [workload, sync] = [parsed.value, options.value];
  if (command === 'up') return buildUp(c, v, workload, sync);
  return ok({ command, common: c, workload, sync, ...(positionals[1] !== undefined ? { dir: positionals[1] } : {}) });
}

/** `exec WORKLOAD [-- CMD…]`: `afterDash` is what follows `--` (undefined without one). */
function buildExec(c: CommonOptions, positionals: string[], afterDash: string[] | undefined): Result<AgentCommand> {
  if (c.json) return err('exec: -o json is not supported (the output is the command\'s own)');
  const workload = workloadOf(positionals, 'exec', 1);
  if (!workload.ok) {
    const [first, extra] = positionals;
    return first !== undefined && extra !== undefined ? err(`exec: put the command after --, e.g. kubectl devx exec ${first} -- ${positionals.slice(1).join(' ')}`) : workload;
  }
  if (afterDash !== undefined && afterDash.length === 0) return err('exec: nothing after --: name a command, or leave -- out for a shell');
  return ok({ command: 'exec', common: c, workload: workload.value, ...(afterDash === undefined ? {} : { argv: afterDash }) });
}

function build(command: keyof typeof OPTIONS, v: Values, positionals: string[], afterDash: string[] | undefined): Result<AgentCommand> {
  const c = common(v);
  if (!c.ok) return c;
  if (command === 'status') return buildStatus(c.value, v, positionals);
  if (command === 'exec') return buildExec(c.value, positionals, afterDash);
  if (command !== 'down') return buildSyncOrUp(command, c.value, v, positionals);
  const workload = workloadOf(positionals, command, 1);
  return workload.ok ? ok({ command, common: c.value, workload: workload.value }) : workload;
}

/** Parses the arguments after `kubectl devx <command>`: the command, or a usage message. */
export function parseAgentArgs(command: string, argv: string[]): Result<AgentCommand> {
  if (!(command in OPTIONS)) return err(`unknown command ${JSON.stringify(command)}`);
  const name = command as keyof typeof OPTIONS;
  // Only exec takes a command after `--`; what follows it is the remote command's, never options of this one.
  const dash = name === 'exec' ? argv.indexOf('--') : -1;
  const own = dash < 0 ? argv : argv.slice(0, dash);
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: own, options: OPTIONS[name], allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (e) {
    return err(`${command}: ${(e as Error).message}`);
  }
  return build(name, parsed.values, parsed.positionals, dash < 0 ? undefined : argv.slice(dash + 1));
}
