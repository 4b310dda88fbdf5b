// The repository's Dockerfile, read: its instructions grouped into stages, and the facts of its final (runtime) stage
// that any other build of the same image must share — base, Node.js version, WORKDIR, ENV, USER, EXPOSE, ENTRYPOINT,
// LABELs and what it COPYs where. Pure: text in, facts out. tools/devx-image.ts builds the image without a container
// engine from these facts, and test/unit/dockerfile.test.ts checks the Dockerfile itself with the same reader.
import path from 'node:path';

export interface Instruction {
  op: string;
  args: string;
  line: number;
}

export interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM, with their defaults. */
  globalArgs: Record<string, string>;
  stages: Stage[];
}

export interface Copy {
  /** The stage copied from (`--from=`), or undefined for the build context. */
  from: string | undefined;
  sources: string[];
  dest: string;
}

/** One source of a runtime COPY and where it lands in the image. */
export interface Placement {
  from: string | undefined;
  source: string;
  /** Absolute path in the image. */
  dest: string;
}

/** What the final stage makes of the image. */
export interface RuntimeStage {
  /** The FROM of the final stage, global ARGs substituted. */
  base: string;
  /** The Node.js major of the base, from its name (gcr.io/distroless/nodejs<major>-…). */
  baseNodeMajor: number;
  /** The global ARG NODE_VERSION (the version the build stages run). */
  nodeVersion: string;
  workdir: string;
  /** ENV in order, as KEY=value. */
  env: string[];
  user: string;
  /** EXPOSE ports, with their protocol (8443/tcp). */
  exposedPorts: string[];
  entrypoint: string[];
  labels: Record<string, string>;
  copies: Placement[];
}

/** Instructions of a Dockerfile (continuations joined, comments dropped), grouped into stages; ARGs before the first
 * FROM are the global ones. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    if (/^\s*#/.test(raw) && pending === '') return;
    if (pending === '') start = i + 1;
    pending += raw.replace(/\\\s*$/, ' ');
    if (/\\\s*$/.test(raw)) return;
    const m = /^\s*(\w+)\s+(.*)$/.exec(pending);
    if (m) instructions.push({ op: (m[1] as string).toUpperCase(), args: (m[2] as string).trim(), line: start });
    pending = '';
  });
  const globalArgs: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const [from, as, name] = ins.args.split(/\s+/);
      stages.push({ from: from as string, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0 && ins.op === 'ARG') {
      const [k, v] = ins.args.split('=');
      globalArgs[k as string] = unquote(v ?? '');
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  return { globalArgs, stages };
}

export function finalStage(df: Dockerfile): Stage {
  const s = df.stages.at(-1);
  if (!s) throw new Error('the Dockerfile has no FROM');
  return s;
}

export function namedStage(df: Dockerfile, name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`the Dockerfile has no stage ${name}`);
  return s;
}

export function ops(s: Stage, op: string): Instruction[] {
  return s.instructions.filter((i) => i.op === op);
}

/** A stage's ARG defaults. */
export function stageArgs(s: Stage): Record<string, string> {
  return Object.fromEntries(
    ops(s, 'ARG').map((i) => {
      const [k, v] = i.args.split('=');
      return [k as string, unquote(v ?? '')];
    }),
  );
}

export function copies(s: Stage): Copy[] {
  return ops(s, 'COPY').map((i) => {
    const words = i.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const rest = words.filter((w) => !w.startsWith('--'));
    return { from, sources: rest.slice(0, -1), dest: rest.at(-1) as string };
  });
}

export function workdir(s: Stage): string {
  return ops(s, 'WORKDIR').reduce((dir, i) => path.posix.resolve(dir, i.args), '/');
}

/** A stage's last ENTRYPOINT, which must be in exec form (the runtime base has no shell to run the other form). */
export function entrypoint(s: Stage): string[] {
  const ep = ops(s, 'ENTRYPOINT').at(-1);
  if (!ep) throw new Error('no ENTRYPOINT');
  let parsed: unknown;
  try {
    parsed = JSON.parse(ep.args);
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`line ${ep.line}: ENTRYPOINT is not in exec form`);
  return parsed;
}

/** The final stage's facts; `args` override the ARG defaults (global and the stage's own) where they are used. */
export function runtimeStage(df: Dockerfile, args: Record<string, string> = {}): RuntimeStage {
  const s = finalStage(df);
  const base = substitute(s.from, { ...df.globalArgs, ...args });
  const major = /\/nodejs(\d+)\b/.exec(base)?.[1];
  if (!major) throw new Error(`the runtime base ${base} is not a distroless Node.js image (…/nodejs<major>-…)`);
  const nodeVersion = df.globalArgs.NODE_VERSION;
  if (!nodeVersion) throw new Error('no global ARG NODE_VERSION');
  const vars = { ...stageArgs(s), ...args };
  const dir = workdir(s);
  return {
    base,
    baseNodeMajor: Number(major),
    nodeVersion,
    workdir: dir,
    env: ops(s, 'ENV').flatMap((i) => pairs(i.args).map(([k, v]) => `${k}=${substitute(v, vars)}`)),
    user: ops(s, 'USER').at(-1)?.args ?? 'root',
    exposedPorts: ops(s, 'EXPOSE').flatMap((i) => i.args.split(/\s+/).map((p) => (p.includes('/') ? p : `${p}/tcp`))),
    entrypoint: entrypoint(s),
    labels: Object.fromEntries(ops(s, 'LABEL').flatMap((i) => pairs(i.args).map(([k, v]) => [k, substitute(v, vars)]))),
    copies: copies(s).flatMap((c) => c.sources.map((source) => ({ from: c.from, source, dest: copyDest(dir, source, c) }))),
  };
}

/** The argv of the one RUN of a stage that starts with `command` (e.g. `npm ci`), split on white space. */
export function stageCommand(s: Stage, command: string): string[] {
  const found = ops(s, 'RUN').filter((i) => i.args === command || i.args.startsWith(`${command} `));
  if (found.length !== 1) throw new Error(`stage ${s.name ?? s.from}: ${found.length} RUN lines start with ${command}, not one`);
  return (found[0] as Instruction).args.split(/\s+/);
}

/** Where one source of a COPY lands: into the destination when it ends with a slash (or there are several sources),
 * as the destination otherwise; relative to WORKDIR. */
function copyDest(dir: string, source: string, c: Copy): string {
  const dest = path.posix.resolve(dir, c.dest);
  return c.dest.endsWith('/') || c.sources.length > 1 ? path.posix.join(dest, path.posix.basename(source)) : dest;
}

/** KEY=value pairs of ENV or LABEL (values may be double-quoted), or the old `ENV KEY value` form. */
function pairs(args: string): Array<[string, string]> {
  const found = [...args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g)].map((m): [string, string] => [m[1] as string, unquote(m[2] as string)]);
  if (found.length > 0) return found;
  const old = /^(\S+)\s+(.*)$/.exec(args);
  return old ? [[old[1] as string, old[2] as string]] : [];
}

/** ${NAME} and $NAME replaced by their values; unknown names by nothing, as docker build does. */
function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b) as string] ?? '');
}

function unquote(v: string): string {
  return /^"(.*)"$/.test(v) ? v.slice(1, -1).replace(/\\(.)/g, '$1') : v;
}
