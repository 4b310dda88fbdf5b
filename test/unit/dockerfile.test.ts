// The Dockerfile cannot be built here (no container engine), so this checks what can be checked without one: its
// bases are Node.js 24, it runs as the non-root uid the chart names, has no HEALTHCHECK, carries OCI labels, copies
// only what exists and what .dockerignore lets through, and — by reproducing its stages on disk — that `npm run
// build` produces the entry point it runs and that the production dependencies alone (the lockfile's non-dev
// packages, what `npm ci --omit=dev` installs) start the real server from that layout. The Dockerfile is read by
// tools/dockerfile.ts, the same reader tools/devx-image.ts builds the image from without an engine
// (test/unit/devx-image.test.ts checks that image's spec).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { VERSION } from '../../src/version.ts';
import { copies, entrypoint, finalStage, namedStage, ops, parseDockerfile, stageArgs, workdir, type Stage } from '../../tools/dockerfile.ts';
import { readLogLines } from '../e2e/harness/devx.ts';
import { httpsRequest } from '../e2e/harness/https-client.ts';
import { startProcess, waitFor, type ManagedProcess } from '../e2e/harness/processes.ts';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  engines: { node: string };
  bin: Record<string, string>;
  devDependencies: Record<string, string>;
};

const dockerfile = parseDockerfile(fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'));
const final = finalStage(dockerfile);
const stage = (name: string): Stage => namedStage(dockerfile, name);

describe('Dockerfile, read', () => {
  test('every stage is Node.js 24: the build stages run the version package.json pins, the runtime a Node 24 base', () => {
    const nodeVersion = dockerfile.globalArgs.NODE_VERSION;
    assert.equal(nodeVersion, pkg.devDependencies.node, 'NODE_VERSION is the repository’s pinned node (devDependencies.node)');
    assert.equal(nodeVersion?.split('.')[0], '24');
    assert.equal(pkg.engines.node, '>=24');
    for (const s of dockerfile.stages.slice(0, -1)) assert.equal(s.from, 'node:${NODE_VERSION}-bookworm-slim', `stage ${s.name}`);
    assert.match(final.from, /^gcr\.io\/distroless\/nodejs24-debian12:nonroot$/, 'distroless Node.js 24, no shell');
  });

  test('the runtime runs as the non-root uid the chart’s securityContext names; no HEALTHCHECK anywhere', () => {
    const user = ops(final, 'USER').at(-1)?.args;
    assert.match(user ?? '', /^\d+:\d+$/, 'a numeric user, so runAsNonRoot can be verified by the kubelet');
    const [uid, gid] = (user as string).split(':').map(Number);
    assert.ok(uid !== 0 && gid !== 0, 'not root');
    const deployment = fs.readFileSync(path.join(REPO, 'charts/devx/templates/deployment.yaml'), 'utf8');
    assert.equal(Number(/runAsUser: (\d+)/.exec(deployment)?.[1]), uid);
    assert.equal(Number(/runAsGroup: (\d+)/.exec(deployment)?.[1]), gid);
    assert.equal(dockerfile.stages.flatMap((s) => ops(s, 'HEALTHCHECK')).length, 0);
  });

  test('the entry point is the server’s real entry (package.json bin devx-webhook, under the runtime WORKDIR)', () => {
    assert.equal(ops(final, 'ENTRYPOINT').length, 1, 'one ENTRYPOINT');
    const ep = entrypoint(final);
    assert.equal(ep[0], '/nodejs/bin/node', 'the distroless image’s node');
    const script = ep.at(-1) as string;
    assert.equal(path.posix.relative(workdir(final), script), pkg.bin['devx-webhook']);
    assert.ok(ep.slice(1, -1).every((a) => a.startsWith('--')), 'only node flags between node and the script');
  });

  test('OCI labels: title, description, version (= package.json), revision, created, source, licenses (= package.json)', () => {
    const labels = ops(final, 'LABEL').map((i) => i.args).join(' ');
    const found = Object.fromEntries([...labels.matchAll(/(org\.opencontainers\.image\.\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    for (const k of ['title', 'description', 'version', 'revision', 'created', 'source', 'licenses']) assert.ok(`org.opencontainers.image.${k}` in found, k);
    assert.equal(found['org.opencontainers.image.version'], '${VERSION}');
    assert.equal(stageArgs(final).VERSION, pkg.version);
    assert.equal(found['org.opencontainers.image.licenses'], pkg.license);
  });

  test('build with npm ci + npm run build; production dependencies with npm ci --omit=dev', () => {
    const runs = (s: Stage): string[] => ops(s, 'RUN').map((i) => i.args);
    assert.ok(runs(stage('build')).some((r) => /^npm ci\b/.test(r)));
    assert.ok(runs(stage('build')).includes('npm run build'));
    assert.ok(runs(stage('prod-deps')).some((r) => /^npm ci\b.*--omit=dev/.test(r)));
    assert.equal(runs(final).length, 0, 'nothing runs in the runtime stage (it has no shell)');
  });

  test('what it copies from the build context exists, and .dockerignore lets exactly that through', () => {
    const ignore = fs
      .readFileSync(path.join(REPO, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    assert.equal(ignore[0], '*', 'an allowlist: everything is excluded first');
    const allowed = new Set(ignore.slice(1).map((l) => l.replace(/^!/, '').replace(/\/$/, '')));
    const contextSources = dockerfile.stages.flatMap((s) => copies(s).filter((c) => !c.from).flatMap((c) => c.sources));
    for (const src of contextSources) {
      assert.ok(fs.existsSync(path.join(REPO, src)), `${src} exists`);
      assert.ok(allowed.has(src.replace(/\/$/, '')), `${src} passes .dockerignore`);
    }
    for (const a of allowed) assert.ok(contextSources.includes(a), `.dockerignore lets through ${a}, which nothing copies`);
  });
});

describe('Dockerfile, reproduced on disk', () => {
  // Outside the repository: module resolution climbs parent directories, and must not find the repo's node_modules.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-image-'));
  // The runtime stage's WORKDIR, as a directory here.
  const app = path.join(root, 'app');
  const built = path.join(root, 'build');

  before(() => fs.mkdirSync(app, { recursive: true }));
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  test('npm run build writes dist/, and the build stage’s dist is what the runtime copies', async () => {
    const copy = copies(final).find((c) => c.from === 'build');
    assert.ok(copy, 'the runtime copies from the build stage');
    const tsconfig = JSON.parse(fs.readFileSync(path.join(REPO, 'tsconfig.build.json'), 'utf8')) as { compilerOptions: { outDir: string } };
    assert.deepEqual(copy.sources, [path.posix.join(workdir(stage('build')), tsconfig.compilerOptions.outDir)]);
    // `npm run build` itself, with only its output directory moved out of the way of anyone else's dist/.
    const build = await run('npm', ['run', 'build', '--', '--outDir', built], { cwd: REPO, env: { ...process.env, npm_config_update_notifier: 'false' } }).catch(
      (err: { stdout?: string; stderr?: string }) => assert.fail(`npm run build failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`),
    );
    assert.ok(build);
    const entry = path.join(built, path.relative(tsconfig.compilerOptions.outDir, pkg.bin['devx-webhook'] as string));
    assert.ok(fs.existsSync(entry), `${entry} after npm run build`);
    fs.cpSync(built, path.join(app, copy.dest), { recursive: true });
  });

  test('with only the production dependencies, the entry point starts the server and serves /healthz', async () => {
    // COPY package.json and COPY --from=prod-deps node_modules, as the runtime stage does.
    for (const c of copies(final).filter((x) => !x.from)) for (const s of c.sources) fs.copyFileSync(path.join(REPO, s), path.join(app, path.basename(s)));
    installProductionDependencies(path.join(app, 'node_modules'));
    const resolveFromApp = createRequire(path.join(app, 'dist', 'x.js')).resolve;
    assert.ok(resolveFromApp('fastify'), 'a production dependency resolves');
    assert.throws(() => resolveFromApp('typescript'), 'a development dependency does not: the layout is isolated');
    const [, ...nodeArgs] = entrypoint(final);
    const args = nodeArgs.map((a) => (a.startsWith('/app/') ? path.join(app, a.slice('/app/'.length)) : a));
    const version = await run(process.execPath, [...args, '--version'], { cwd: app });
    assert.equal(version.stdout.trim(), VERSION);

    fs.writeFileSync(path.join(root, 'objects.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n');
    const logPath = path.join(root, 'server.log');
    const server = startProcess({ name: 'image-entry', bin: process.execPath, args: [...args, '--objects', path.join(root, 'objects.yaml'), '--host', '127.0.0.1', '--port', '0'], logPath });
    try {
      const port = await listeningPort(server);
      assert.equal((await httpsRequest({ url: `https://127.0.0.1:${port}/healthz` })).status, 200);
    } finally {
      await server.stop(10_000);
    }
    const exit = await server.exited;
    assert.equal(exit.code, 0, `SIGTERM ends it cleanly:\n${fs.readFileSync(logPath, 'utf8').slice(-2000)}`);
  });
});

/** The lockfile's non-dev packages, hard-linked from node_modules: what `npm ci --omit=dev` would install. */
function installProductionDependencies(target: string): void {
  const lock = JSON.parse(fs.readFileSync(path.join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const prod = Object.entries(lock.packages).filter(([k, v]) => k.startsWith('node_modules/') && !v.dev && !v.devOptional);
  assert.ok(prod.length > 10, 'production packages in the lockfile');
  for (const [k] of prod) {
    const src = path.join(REPO, k);
    if (!fs.existsSync(src)) continue; // an optional package for another platform
    linkTree(src, path.join(target, k.slice('node_modules/'.length)));
  }
}

/** Hard-links a package's files (its own nested node_modules are separate lockfile entries). */
function linkTree(src: string, dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const s = path.join(src, entry.name);
    const d = path.join(dest, entry.name);
    if (entry.isDirectory()) linkTree(s, d);
    else if (entry.isFile()) linkOrCopy(s, d);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(s), d);
  }
}

function linkOrCopy(src: string, dest: string): void {
  try {
    fs.linkSync(src, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.copyFileSync(src, dest);
  }
}

async function listeningPort(server: ManagedProcess): Promise<number> {
  const listening = (): Record<string, unknown> | undefined => readLogLines(server.logPath).find((l) => l.msg === 'devx-webhook listening');
  await waitFor({ what: 'devx-webhook listening', probe: async () => listening() !== undefined, timeoutMs: 20_000, watch: [server] });
  return Number(listening()?.port);
}
