// Builds the devx-webhook image without a container engine, as an OCI image archive for `ctr images import`:
//
//   npx node tools/devx-image.ts --out DIR [--tag devx.local/devx-webhook:<version>] [--verify]
//
// The image is the one the Dockerfile builds, with every fact of its runtime stage (USER, ENTRYPOINT, WORKDIR, ENV,
// EXPOSE, LABELs, what it COPYs where) read from the Dockerfile by tools/dockerfile.ts, so the two cannot disagree:
// - dist/: `npm run build` (the build stage's command), always, into a scratch directory: the image never carries a
//   stale dist/, and the tree's own dist/ is left alone;
// - node_modules: the prod-deps stage's own `npm ci --omit=dev ...` on copies of package.json and package-lock.json
//   in a scratch directory (the lockfile's production packages exactly; needs the npm registry or its cache);
// - the base, instead of gcr.io/distroless/nodejs24-debian12: Node.js from the npm `node` package the repository pins
//   (the Dockerfile's NODE_VERSION; its major must be the base's) at the ENTRYPOINT's /nodejs/bin/node, the host's
//   shared libraries it loads (ldd) at their paths, /etc/passwd and /etc/group with the USER's uid as "nonroot", /tmp.
//   No CA certificates: the server trusts only the cluster's CA, which it reads from its service account.
// The archive is written by test/tools/node-images (-spec mode), built here with Go. --verify then unpacks its layers
// into a root file system and runs the image's ENTRYPOINT with --version there, chroot'ed, as the image's USER
// (needs root).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { copies, namedStage, parseDockerfile, runtimeStage, stageCommand, type Dockerfile, type RuntimeStage } from './dockerfile.ts';

export const REPO = path.resolve(import.meta.dirname, '..');
export const DOCKERFILE = path.join(REPO, 'Dockerfile');
const WRITER_DIR = path.join(REPO, 'test/tools/node-images');
/** The distroless base's PATH (there is nothing on it but the image's own programs are found the usual way). */
const BASE_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** What the build staged on the host. */
export interface Staged {
  /** Host path of each source the runtime stage COPYs, by its base name (package.json, node_modules, dist). */
  copies: Record<string, string>;
  /** The Node.js binary (symlinks resolved) and what its --version prints (v24.21.0). */
  node: { path: string; version: string };
  /** The shared libraries it loads, absolute host paths: each goes to the same path in the image. */
  libraries: string[];
}

/** The JSON the Go writer reads (test/tools/node-images/spec.go). */
export interface ImageSpec {
  ref: string;
  file: string;
  layers: SpecLayer[];
  config: {
    Entrypoint: string[];
    Env: string[];
    User: string;
    WorkingDir: string;
    ExposedPorts: Record<string, Record<string, never>>;
    Labels: Record<string, string>;
  };
}

interface Owner {
  uid?: number;
  gid?: number;
}

export interface SpecLayer {
  dirs?: Array<{ path: string; mode?: string } & Owner>;
  files?: Array<{ path: string; mode?: string; content?: string; from?: string } & Owner>;
  symlinks?: Array<{ path: string; target: string }>;
  copy?: Array<{ from: string; to: string; recursive: boolean } & Owner>;
}

export const ARCHIVE_FILE = 'devx-webhook.tar';

export function defaultRef(version: string): string {
  return `devx.local/devx-webhook:${version}`;
}

/** The image: a base layer standing in for the distroless one, then one layer per COPY of the runtime stage, as
 * docker build lays them out; the config from the runtime stage. Throws where the staged parts and the Dockerfile
 * disagree. */
export function imageSpec(opts: { runtime: RuntimeStage; staged: Staged; ref: string }): ImageSpec {
  const { runtime, staged, ref } = opts;
  const nodeMajor = Number(/^v(\d+)\./.exec(staged.node.version)?.[1]);
  if (nodeMajor !== runtime.baseNodeMajor) throw new Error(`Node.js ${staged.node.version} is not the runtime base's major ${runtime.baseNodeMajor} (${runtime.base})`);
  const needed = new Set(runtime.copies.map((c) => path.posix.basename(c.source)));
  const unused = Object.keys(staged.copies).filter((k) => !needed.has(k));
  if (unused.length > 0) throw new Error(`staged ${unused.join(', ')}, which the Dockerfile does not copy`);
  const script = runtime.entrypoint.at(-1) as string;
  if (!runtime.copies.some((c) => script.startsWith(`${c.dest}/`))) throw new Error(`the ENTRYPOINT's ${script} is in nothing the Dockerfile copies`);
  return {
    ref,
    file: ARCHIVE_FILE,
    layers: [baseLayer(runtime, staged), ...runtime.copies.map((c) => ({ copy: [{ from: stagedCopy(staged, c.source), to: c.dest, recursive: true }] }))],
    config: {
      Entrypoint: runtime.entrypoint,
      Env: [BASE_PATH, ...runtime.env],
      User: runtime.user,
      WorkingDir: runtime.workdir,
      ExposedPorts: Object.fromEntries(runtime.exposedPorts.map((p) => [p, {}])),
      Labels: runtime.labels,
    },
  };
}

/** What the distroless Node.js base provides and the server uses: node at the ENTRYPOINT's path, its libraries, the
 * users (the USER's uid:gid as "nonroot", with a home), /tmp. */
function baseLayer(runtime: RuntimeStage, staged: Staged): SpecLayer {
  const m = /^(\d+):(\d+)$/.exec(runtime.user);
  if (!m) throw new Error(`USER ${runtime.user} is not numeric uid:gid`);
  const [uid, gid] = [Number(m[1]), Number(m[2])];
  return {
    dirs: [
      { path: '/etc', mode: '755' },
      { path: '/root', mode: '700' },
      { path: '/home/nonroot', mode: '700', uid, gid },
      { path: '/tmp', mode: '1777' },
    ],
    files: [
      { path: '/etc/passwd', content: `root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:${uid}:${gid}:nonroot:/home/nonroot:/sbin/nologin\n` },
      { path: '/etc/group', content: `root:x:0:\nnobody:x:65534:\nnonroot:x:${gid}:\n` },
      ...staged.libraries.map((lib) => ({ path: lib, from: lib })),
      { path: runtime.entrypoint[0] as string, mode: '755', from: staged.node.path },
    ],
  };
}

function stagedCopy(staged: Staged, source: string): string {
  const host = staged.copies[path.posix.basename(source)];
  if (!host) throw new Error(`the Dockerfile copies ${source}, which the image build does not stage`);
  return host;
}

/** The libraries of `ldd` output, loader included (linux-vdso is the kernel's). */
export function parseLdd(text: string): string[] {
  return text
    .split('\n')
    .map((l) => /=>\s*(\/\S+)/.exec(l)?.[1] ?? /^\s*(\/\S+)/.exec(l)?.[1])
    .filter((p): p is string => p !== undefined);
}

export function readDockerfile(file = DOCKERFILE): Dockerfile {
  return parseDockerfile(fs.readFileSync(file, 'utf8'));
}

function sh(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, { ...opts, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
}

/** Runs a command with its output on stderr (this program's stdout is its result). */
function step(what: string, cmd: string[], cwd: string): void {
  console.error(`[devx-image] ${what}: ${cmd.join(' ')}`);
  const env = { ...process.env, npm_config_update_notifier: 'false', GOFLAGS: '' };
  execFileSync(cmd[0] as string, cmd.slice(1), { cwd, stdio: ['ignore', 2, 2], env });
}

/** The stage a runtime COPY of `name` comes from. */
function sourceStage(runtime: RuntimeStage, name: string): string {
  const from = runtime.copies.find((c) => path.posix.basename(c.source) === name)?.from;
  if (!from) throw new Error(`the runtime stage copies no ${name} from a build stage`);
  return from;
}

/** dist/ as the build stage makes it, into work/dist. */
function stageDist(df: Dockerfile, runtime: RuntimeStage, work: string): string {
  const cmd = stageCommand(namedStage(df, sourceStage(runtime, 'dist')), 'npm run build');
  const out = path.join(work, 'dist');
  step('dist', [...cmd, '--', '--outDir', out], REPO);
  return out;
}

/** node_modules as the prod-deps stage makes it: its COPYs from the context, then its `npm ci`. */
function stageProductionDependencies(df: Dockerfile, runtime: RuntimeStage, work: string): string {
  const stage = namedStage(df, sourceStage(runtime, 'node_modules'));
  const dir = path.join(work, 'prod-deps');
  fs.mkdirSync(dir);
  for (const c of copies(stage).filter((x) => !x.from)) for (const s of c.sources) fs.copyFileSync(path.join(REPO, s), path.join(dir, path.basename(s)));
  step('production dependencies', stageCommand(stage, 'npm ci'), dir);
  return path.join(dir, 'node_modules');
}

function stageNode(): Staged['node'] & { libraries: string[] } {
  const node = fs.realpathSync(path.join(REPO, 'node_modules/node/bin/node'));
  return { path: node, version: sh(node, ['--version']).trim(), libraries: parseLdd(sh('ldd', [node])) };
}

function writeArchive(spec: ImageSpec, work: string, out: string): string {
  const writer = path.join(work, 'node-images');
  step('the image writer', ['go', 'build', '-trimpath', '-o', writer, '.'], WRITER_DIR);
  const specFile = path.join(work, 'spec.json');
  fs.writeFileSync(specFile, `${JSON.stringify(spec, null, 2)}\n`);
  return sh(writer, ['-spec', specFile, '-out', out]).trim();
}

/** Unpacks the archive's layers into a root file system and runs its ENTRYPOINT with --version there, as its USER;
 * throws unless that prints `version`. */
export function verify(archive: string, work: string, version: string): string {
  const oci = path.join(work, 'oci');
  const rootfs = path.join(work, 'rootfs');
  fs.mkdirSync(oci);
  fs.mkdirSync(rootfs);
  sh('tar', ['-xf', archive, '-C', oci]);
  const blob = (digest: string): string => path.join(oci, 'blobs', digest.replace(':', '/'));
  const index = JSON.parse(fs.readFileSync(path.join(oci, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
  const manifest = JSON.parse(fs.readFileSync(blob((index.manifests[0] as { digest: string }).digest), 'utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const l of manifest.layers) sh('tar', ['--same-owner', '--numeric-owner', '-xpzf', blob(l.digest), '-C', rootfs]);
  const { config } = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8')) as { config: ImageSpec['config'] };
  const env = Object.fromEntries(config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  const run = (args: string[]): string => sh('chroot', [`--userspec=${config.User}`, rootfs, ...args], { env }).trim();
  const [node] = config.Entrypoint as [string];
  console.error(`[devx-image] in the image as ${config.User}: ${run([node, '-p', '[process.getuid(), process.getgid(), process.getgroups(), process.env.NODE_ENV].join(" ")'])}`);
  const printed = run([...config.Entrypoint, '--version']);
  if (printed !== version) throw new Error(`the image's ${config.Entrypoint.join(' ')} --version printed ${printed}, not ${version}`);
  return printed;
}

function main(): void {
  const { values } = parseArgs({ options: { out: { type: 'string' }, tag: { type: 'string' }, verify: { type: 'boolean', default: false } } });
  if (!values.out) throw new Error('usage: node tools/devx-image.ts --out DIR [--tag REF] [--verify]');
  const started = Date.now();
  const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  const df = readDockerfile();
  const runtime = runtimeStage(df, { VERSION: version });
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-image-'));
  try {
    const { libraries, ...node } = stageNode();
    const staged: Staged = {
      copies: { 'package.json': path.join(REPO, 'package.json'), node_modules: stageProductionDependencies(df, runtime, work), dist: stageDist(df, runtime, work) },
      node,
      libraries,
    };
    const spec = imageSpec({ runtime, staged, ref: values.tag ?? defaultRef(version) });
    const archive = writeArchive(spec, work, path.resolve(values.out));
    console.error(`[devx-image] ${(fs.statSync(archive).size / 2 ** 20).toFixed(1)} MiB in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(archive);
    console.log(spec.ref);
    if (values.verify) console.error(`[devx-image] --version in the image: ${verify(archive, work, version)} (package.json: ${version})`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (import.meta.main) main();
