// Command lines of the agent's commands (`sync`, `up`, `down`, `status`), parsed into typed options. Pure: argv in,
// options or a usage message out.
import { parseArgs } from 'node:util';
import { parseDuration } from '../schemas/duration.ts';
import type { SyncMode } from '../sync/config.ts';
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
}

export type AgentCommand =
  | { command: 'sync'; common: CommonOptions; workload: WorkloadArg; dir?: string; sync: SyncOptions }
  | { command: 'up'; common: CommonOptions; workload: WorkloadArg; image?: string; syncDir?: string; sync: SyncOptions }
  | { command: 'down'; common: CommonOptions; workload: WorkloadArg }
  | { command: 'status'; common: CommonOptions; allNamespaces: boolean };

export type ParseResult = { ok: true; command: AgentCommand } | { ok: false; message: string };

/** Default wait for a pod, a Secret, or `up`/`down` to finish. */
export const DEFAULT_TIMEOUT = '5m';

const COMMON = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  timeout: { type: 'string' },
} as const;

const SYNC = { mode: { type: 'string' }, address: { type: 'string' } } as const;

const OPTIONS = {
  sync: { ...COMMON, ...SYNC },
  up: { ...COMMON, ...SYNC, image: { type: 'string' }, sync: { type: 'string' } },
  down: COMMON,
  status: { ...COMMON, 'all-namespaces': { type: 'boolean', short: 'A' } },
} as const;

/** The commands this parser knows (`kubectl devx <command>`). */
export const AGENT_COMMANDS = Object.keys(OPTIONS) as ReadonlyArray<keyof typeof OPTIONS>;

type Values = Record<string, string | boolean | undefined>;

function common(v: Values): CommonOptions | string {
  const output = v.output ?? 'text';
  if (output !== 'text' && output !== 'json') return `-o must be json (or text), not ${JSON.stringify(output)}`;
  const timeoutText = (v.timeout as string | undefined) ?? DEFAULT_TIMEOUT;
  const timeoutMs = parseDuration(timeoutText);
  if (timeoutMs === undefined) return `--timeout must be a duration such as 90s or 5m, not ${JSON.stringify(timeoutText)}`;
  const out: CommonOptions = { json: output === 'json', timeoutMs };
  if (typeof v.kubeconfig === 'string') out.kubeconfig = v.kubeconfig;
  if (typeof v.context === 'string') out.context = v.context;
  if (typeof v.namespace === 'string') out.namespace = v.namespace;
  return out;
}

function syncOptions(v: Values): SyncOptions | string {
  const mode = (v.mode as string | undefined) ?? 'two-way';
  if (mode !== 'two-way' && mode !== 'push') return `--mode must be two-way or push, not ${JSON.stringify(mode)}`;
  const address = v.address as string | undefined;
  if (address !== undefined && !/^tcp[46]?:\/\/[^\s/]+:\d{1,5}$/.test(address)) return `--address must be tcp://HOST:PORT, not ${JSON.stringify(address)}`;
  return address === undefined ? { mode } : { mode, address };
}

function workloadOf(positionals: string[], command: string, max: number): WorkloadArg | string {
  const [first] = positionals;
  if (first === undefined) return `${command} needs a workload, e.g. kubectl devx ${command} deploy/reviews`;
  if (positionals.length > max) return `${command}: unexpected argument ${JSON.stringify(positionals[max])}`;
  const parsed = parseWorkloadArg(first);
  return parsed.ok ? parsed.arg : parsed.message;
}

function buildStatus(c: CommonOptions, v: Values, positionals: string[]): AgentCommand | string {
  if (positionals.length > 0) return `status takes no arguments (got ${JSON.stringify(positionals[0])})`;
  const all = v['all-namespaces'] === true;
  if (all && c.namespace !== undefined) return 'status: pass -n NAMESPACE or -A, not both';
  return { command: 'status', common: c, allNamespaces: all };
}

function buildSyncOrUp(command: 'sync' | 'up', c: CommonOptions, v: Values, positionals: string[]): AgentCommand | string {
  const workload = workloadOf(positionals, command, command === 'sync' ? 2 : 1);
  if (typeof workload === 'string') return workload;
  const sync = syncOptions(v);
  if (typeof sync === 'string') return sync;
  if (command === 'sync') return { command, common: c, workload, sync, ...(positionals[1] !== undefined ? { dir: positionals[1] } : {}) };
  const extra = { ...(typeof v.image === 'string' ? { image: v.image } : {}), ...(typeof v.sync === 'string' ? { syncDir: v.sync } : {}) };
  return { command, common: c, workload, sync, ...extra };
}

function build(command: keyof typeof OPTIONS, v: Values, positionals: string[]): AgentCommand | string {
  const c = common(v);
  if (typeof c === 'string') return c;
  if (command === 'status') return buildStatus(c, v, positionals);
  if (command !== 'down') return buildSyncOrUp(command, c, v, positionals);
  const workload = workloadOf(positionals, command, 1);
  return typeof workload === 'string' ? workload : { command, common: c, workload };
}

/** Parses the arguments after `kubectl devx <command>`. */
export function parseAgentArgs(command: string, argv: string[]): ParseResult {
  if (!(command in OPTIONS)) return { ok: false, message: `unknown command ${JSON.stringify(command)}` };
  const name = command as keyof typeof OPTIONS;
  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS[name], allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (err) {
    return { ok: false, message: `${command}: ${(err as Error).message}` };
  }
  const result = build(name, parsed.values, parsed.positionals);
  return typeof result === 'string' ? { ok: false, message: result } : { ok: true, command: result };
}
