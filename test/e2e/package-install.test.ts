// Installing the plugin is one command: `npm pack` makes a package (its prepack script builds dist/) whose global
// install puts kubectl-devx and devx-webhook on PATH, and kubectl finds the plugin by its own discovery. Packed from a
// copy of the sources, so the repository's dist/ (which other tests run) is never rebuilt under them; installed into a
// temporary prefix from npm's cache where it can.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-package-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string> };
// npm and the installed bins run on this Node (24), whatever `node` the machine has on PATH.
const NODE_BIN = path.dirname(process.execPath);

test('npm pack, then npm install -g of the package: kubectl devx version through kubectl, devx-webhook --help', async () => {
  const src = path.join(tmp, 'src');
  fs.mkdirSync(src);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md']) fs.copyFileSync(path.join(REPO, f), path.join(src, f));
  fs.cpSync(path.join(REPO, 'src'), path.join(src, 'src'), { recursive: true });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(src, 'node_modules'));
  const env = { ...process.env, PATH: `${NODE_BIN}:${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
  const packed = await run('npm', ['pack', '--pack-destination', tmp], { cwd: src, env, timeout: 180_000 });
  const tarball = path.join(tmp, `${pkg.name}-${pkg.version}.tgz`);
  assert.ok(fs.existsSync(tarball), packed.stdout + packed.stderr);
  const listed = (await run('tar', ['-tzf', tarball])).stdout.split('\n');
  for (const bin of Object.values(pkg.bin)) assert.ok(listed.includes(`package/${bin}`), `${bin} in the package`);
  assert.equal(listed.filter((f) => f.startsWith('package/src/') || f.startsWith('package/test/')).length, 0, 'sources and tests stay out');

  const prefix = path.join(tmp, 'prefix');
  await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', tarball], { env, timeout: 300_000 });
  const withPlugin = { ...env, PATH: `${path.join(prefix, 'bin')}:${env.PATH}`, KUBECONFIG: path.join(tmp, 'no-kubeconfig') };
  const version = await run(process.env.DEVX_KUBECTL ?? 'kubectl', ['devx', 'version'], { env: withPlugin });
  assert.equal(version.stdout.trim(), pkg.version);
  const plugins = await run(process.env.DEVX_KUBECTL ?? 'kubectl', ['plugin', 'list', '--name-only'], { env: withPlugin }).catch((e: { stdout: string }) => e);
  assert.match(plugins.stdout, /kubectl-devx/);
  const help = await run('devx-webhook', ['--help'], { env: withPlugin });
  assert.match(help.stdout, new RegExp(`devx-webhook ${pkg.version.replaceAll('.', '\\.')}`));
});
