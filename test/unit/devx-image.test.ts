// The image tools/devx-image.ts builds without a container engine must be the Dockerfile's image: the same Node.js
// major as the distroless base, user, entry point (with its node flags), WORKDIR, ENV, port, labels and files under
// /app. The facts come from the Dockerfile through tools/dockerfile.ts, and imageSpec() builds the writer's spec from
// them; this pins the facts (a change to the Dockerfile fails here until it is looked at) and shows that the spec
// follows them, or refuses where it cannot (a base of another Node.js major, a COPY the build does not stage). No
// network and no engine: building the archive itself needs the npm registry (`npm ci --omit=dev`), so that is run by
// hand (`npx node tools/devx-image.ts --out DIR --verify`, which also runs the image's entry point in a chroot).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parseDockerfile, runtimeStage, type RuntimeStage } from '../../tools/dockerfile.ts';
import { DOCKERFILE, REPO, defaultRef, imageSpec, parseLdd, type ImageSpec, type Staged } from '../../tools/devx-image.ts';

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
const TEXT = fs.readFileSync(DOCKERFILE, 'utf8');
const runtime = runtimeStage(parseDockerfile(TEXT), { VERSION: pkg.version });
/** The Node.js the image carries: the npm `node` package the repository pins. */
const NODE = fs.realpathSync(path.join(REPO, 'node_modules/node/bin/node'));

const staged: Staged = {
  copies: { 'package.json': '/stage/package.json', node_modules: '/stage/prod-deps/node_modules', dist: '/stage/dist' },
  node: { path: NODE, version: execFileSync(NODE, ['--version'], { encoding: 'utf8' }).trim() },
  libraries: ['/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2'],
};
const spec = imageSpec({ runtime, staged, ref: defaultRef(pkg.version) });

/** The runtime stage of the Dockerfile with one edit, which must apply. */
function edited(from: string | RegExp, to: string): RuntimeStage {
  const text = TEXT.replace(from, to);
  assert.notEqual(text, TEXT, `the edit ${String(from)} applies`);
  return runtimeStage(parseDockerfile(text), { VERSION: pkg.version });
}

describe('devx-image: the Dockerfile’s runtime facts', () => {
  test('Node.js: NODE_VERSION (the npm node the repository pins) is the distroless base’s major, 24', () => {
    assert.equal(runtime.base, 'gcr.io/distroless/nodejs24-debian12:nonroot');
    assert.equal(runtime.baseNodeMajor, 24);
    assert.equal(Number(runtime.nodeVersion.split('.')[0]), runtime.baseNodeMajor);
    assert.equal(staged.node.version, `v${runtime.nodeVersion}`, 'the image’s node is the pinned one');
  });

  test('user, entry point with its node flags, WORKDIR, ENV, port, labels', () => {
    assert.equal(runtime.user, '65532:65532');
    assert.deepEqual(runtime.entrypoint, ['/nodejs/bin/node', '--enable-source-maps', `/app/${pkg.bin['devx-webhook']}`]);
    assert.equal(runtime.workdir, '/app');
    assert.deepEqual(runtime.env, ['NODE_ENV=production']);
    assert.deepEqual(runtime.exposedPorts, ['8443/tcp', '8081/tcp']);
    assert.equal(runtime.labels['org.opencontainers.image.version'], pkg.version);
    assert.equal(runtime.labels['org.opencontainers.image.title'], 'devx-webhook');
  });

  test('what it copies: package.json from the context, node_modules from prod-deps, dist from build, under /app', () => {
    assert.deepEqual(
      runtime.copies.map((c) => [c.from, c.dest]),
      [
        [undefined, '/app/package.json'],
        ['prod-deps', '/app/node_modules'],
        ['build', '/app/dist'],
      ],
    );
  });
});

describe('devx-image: the image spec follows the Dockerfile', () => {
  test('config: the Dockerfile’s entry point, user, WORKDIR, ENV (after the base’s PATH), port and labels', () => {
    assert.deepEqual(spec.config, {
      Entrypoint: runtime.entrypoint,
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...runtime.env],
      User: runtime.user,
      WorkingDir: runtime.workdir,
      ExposedPorts: { '8443/tcp': {}, '8081/tcp': {} },
      Labels: runtime.labels,
    });
    assert.equal(spec.ref, `devx.local/devx-webhook:${pkg.version}`);
  });

  test('layers: a base with node at the entry point’s path, then one per COPY of what was staged', () => {
    const [base, ...rest] = spec.layers;
    const files = base?.files ?? [];
    assert.deepEqual(
      files.find((f) => f.path === runtime.entrypoint[0]),
      { path: '/nodejs/bin/node', mode: '755', from: NODE },
    );
    for (const lib of staged.libraries) assert.deepEqual(files.find((f) => f.path === lib), { path: lib, from: lib }, `${lib} at its own path`);
    assert.deepEqual(
      rest.map((l) => l.copy),
      [
        [{ from: '/stage/package.json', to: '/app/package.json', recursive: true }],
        [{ from: '/stage/prod-deps/node_modules', to: '/app/node_modules', recursive: true }],
        [{ from: '/stage/dist', to: '/app/dist', recursive: true }],
      ],
    );
    assert.ok(rest.every((l) => l.copy?.every((c) => c.uid === undefined && c.gid === undefined)), 'owned by root, as COPY without --chown');
  });

  test('the base’s users: the USER’s uid:gid is "nonroot" with its own home; /tmp is sticky and world-writable', () => {
    const base = spec.layers[0];
    const content = (p: string): string | undefined => base?.files?.find((f) => f.path === p)?.content;
    assert.match(content('/etc/passwd') ?? '', /^nonroot:x:65532:65532:nonroot:\/home\/nonroot:\/sbin\/nologin$/m);
    assert.match(content('/etc/group') ?? '', /^nonroot:x:65532:$/m);
    assert.deepEqual(base?.dirs?.find((d) => d.path === '/home/nonroot'), { path: '/home/nonroot', mode: '700', uid: 65532, gid: 65532 });
    assert.deepEqual(base?.dirs?.find((d) => d.path === '/tmp'), { path: '/tmp', mode: '1777' });
  });

  test('a changed USER or node flag is followed', () => {
    const otherUser = imageSpec({ runtime: edited('USER 65532:65532', 'USER 1000:2000'), staged, ref: 'x:1' });
    assert.equal(otherUser.config.User, '1000:2000');
    assert.match(otherUser.layers[0]?.files?.find((f) => f.path === '/etc/passwd')?.content ?? '', /^nonroot:x:1000:2000:/m);
    const otherFlags = imageSpec({ runtime: edited('"--enable-source-maps", ', '"--enable-source-maps", "--no-warnings", '), staged, ref: 'x:1' });
    assert.deepEqual(otherFlags.config.Entrypoint.slice(1, 3), ['--enable-source-maps', '--no-warnings']);
  });

  test('what it cannot follow it refuses: another Node.js major, a COPY it does not stage, a non-numeric USER, a shell-form or misplaced ENTRYPOINT', () => {
    const build = (r: RuntimeStage): ImageSpec => imageSpec({ runtime: r, staged, ref: 'x:1' });
    assert.throws(() => build(edited('nodejs24-debian12', 'nodejs26-debian12')), /is not the runtime base's major 26/);
    assert.throws(() => build(edited('COPY package.json ./', 'COPY package.json package-lock.json ./')), /copies package-lock\.json, which the image build does not stage/);
    assert.throws(() => build(edited(/^COPY --from=build .*$/m, '')), /staged dist, which the Dockerfile does not copy/);
    assert.throws(() => build(edited('USER 65532:65532', 'USER nonroot')), /not numeric uid:gid/);
    assert.throws(() => edited(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node /app/dist/cli/devx-webhook.js'), /ENTRYPOINT is not in exec form/);
    assert.throws(() => build(edited('"/app/dist/cli/devx-webhook.js"', '"/srv/devx-webhook.js"')), /is in nothing the Dockerfile copies/);
    assert.throws(() => imageSpec({ runtime, staged: { ...staged, node: { ...staged.node, version: 'v22.12.0' } }, ref: 'x:1' }), /Node\.js v22\.12\.0/);
  });
});

test('devx-image: the libraries of ldd output, with the loader and without the vDSO', () => {
  const ldd = [
    '\tlinux-vdso.so.1 (0x00007ffd)',
    '\tlibdl.so.2 => /lib/x86_64-linux-gnu/libdl.so.2 (0x00007fb6)',
    '\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007fb6)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007fb6)',
    '',
  ].join('\n');
  assert.deepEqual(parseLdd(ldd), ['/lib/x86_64-linux-gnu/libdl.so.2', '/lib/x86_64-linux-gnu/libstdc++.so.6', '/lib64/ld-linux-x86-64.so.2']);
});
