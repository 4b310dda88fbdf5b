// Real syncthing, real identities: the device IDs devx computes are the ones syncthing prints, and a sidecar
// stand-in started from the very Secret and container command devx generates syncs with an agent-side syncthing.
// Everything listens on 127.0.0.1 only; every process and temp dir is removed at the end, pass or fail.
//
// Binaries: the local end is `syncthing` from PATH (Debian's 1.19 on the test machines). The sidecar stand-in runs
// both that and, when built (`bash test/tools/build-real-parts.sh syncthing`), the sidecar image's version (1.27).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { renderAgentConfig, renderIgnore, renderSidecarConfig } from '../../src/sync/config.ts';
import { generateSyncIdentity } from '../../src/sync/identity.ts';
import { buildSyncSecretData, defaultFolderLabel, readSyncSecretData, type SyncSecret } from '../../src/sync/secret.ts';
import { sidecarCommand, sidecarSyncthingHome, syncthingServeArgs } from '../../src/sync/sidecar-command.ts';
import { freePorts } from './harness/ports.ts';
import {
  complaints,
  fileContent,
  isLoopbackAddress,
  listeningSockets,
  LOCAL,
  mountSecret,
  portRefuses,
  rest,
  SIDECAR_IMAGE_VERSION,
  SIDECAR_USER,
  sidecarVersion,
  start,
  syncthingDeviceId,
  waitFor,
  which,
  type Binary,
  type Proc,
} from './harness/syncthing.ts';

const run = promisify(execFile);
const SYNC_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------------------------------------------
// (a) device IDs

test('device IDs of fresh identities are exactly what real syncthing prints for them', async (t) => {
  assert.ok(SIDECAR_IMAGE_VERSION, `syncthing ${sidecarVersion} is not built: run npm run real-parts`);
  const binaries = [LOCAL, SIDECAR_IMAGE_VERSION];
  const timings: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const identity = generateSyncIdentity({ now: new Date() });
    timings.push(performance.now() - started);
    for (const bin of binaries) {
      assert.equal(await syncthingDeviceId(identity.certPem, identity.keyPem, bin.path), identity.deviceId, `${bin.label}, identity ${i}`);
    }
  }
  t.diagnostic(`checked against: ${binaries.map((b) => b.label).join(', ')}`);
  t.diagnostic(`generateSyncIdentity ms: ${timings.map((ms) => ms.toFixed(1)).join(' ')}`);
});

// ---------------------------------------------------------------------------------------------------------------
// (b) a sidecar stand-in and an agent, syncing

interface Layout {
  root: string;
  secretDir: string;
  home: string;
  workdir: string;
  agentHome: string;
  agentWork: string;
  binDir: string;
}

async function makeLayout(t: TestContext): Promise<Layout> {
  const root = await mkdtemp(join(tmpdir(), 'devx-st-sync-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const l: Layout = {
    root,
    secretDir: join(root, 'secret'),
    home: join(root, 'sidecar-home'),
    workdir: join(root, 'sidecar-workdir'),
    agentHome: join(root, 'agent-home'),
    agentWork: join(root, 'agent-work'),
    binDir: join(root, 'bin'),
  };
  for (const d of [l.secretDir, l.home, l.workdir, l.agentHome, l.agentWork, l.binDir]) await mkdir(d);
  // Like the pod's emptyDirs: world-writable, so the sidecar's non-root user can use them.
  await chmod(root, 0o755);
  for (const d of [l.home, l.workdir]) await chmod(d, 0o777);
  return l;
}

/**
 * Every socket `proc` listens on is on loopback (DESIGN §10: only `pods/portforward` reaches the sidecar), and the
 * TCP `ports` are among them on 127.0.0.1: the sync port and the GUI/REST API, no discovery, QUIC or other listener
 * on another interface.
 */
function assertListensOnLoopbackOnly(proc: Proc, label: string, ports: number[]): void {
  const sockets = listeningSockets(proc.child.pid ?? -1);
  const shown = JSON.stringify(sockets);
  assert.deepEqual(sockets.filter((s) => !isLoopbackAddress(s.address)), [], `${label} listens beyond loopback: ${shown}`);
  for (const port of ports) assert.ok(sockets.some((s) => s.proto === 'tcp' && s.address === '127.0.0.1' && s.port === port), `${label} listens on 127.0.0.1:${port}: ${shown}`);
}

async function syncScenario(t: TestContext, sidecarBin: Binary): Promise<void> {
  const l = await makeLayout(t);
  const workload = { workloadKind: 'Deployment', workloadName: 'reviews', namespace: 'bookinfo' };
  const data = buildSyncSecretData({ ...workload, now: new Date() });
  const read = readSyncSecretData(data);
  assert.ok(read.ok, read.ok ? '' : read.error);
  const s: SyncSecret = read.value;

  // The stand-in's config is the Secret's config with only the folder path and the two addresses substituted:
  // rendering with the defaults must give back the Secret's config.xml byte for byte.
  const [syncPort, guiPort, decoyGuiPort, agentGuiPort] = (await freePorts(4)) as [number, number, number, number];
  const common = { sidecarDeviceId: s.sidecar.deviceId, agentDeviceId: s.agent.deviceId, apiKey: s.apiKey, folderLabel: defaultFolderLabel(workload) };
  assert.equal(renderSidecarConfig(common), data['config.xml']);
  const standInConfig = renderSidecarConfig({ ...common, folderPath: l.workdir, listenAddress: `tcp://127.0.0.1:${syncPort}`, guiAddress: `127.0.0.1:${guiPort}` });
  await mountSecret(l.secretDir, { ...data, 'config.xml': standInConfig });

  // The sidecar: the exact container command, args and env; `syncthing` resolved through PATH as in the image. The
  // image's own env (STGUIADDRESS on all interfaces, STHOMEDIR, a root-owned HOME) is set first, as the container
  // runtime would, and the container's env overrides it.
  // A copy, not a symlink: the sidecar's non-root user may not be able to reach the original (e.g. under /root).
  await copyFile(await which(sidecarBin.path), join(l.binDir, 'syncthing'));
  await chmod(join(l.binDir, 'syncthing'), 0o755);
  const expectedVersion = (await run(sidecarBin.path, ['--version'])).stdout.split(' ')[1] ?? '?';
  const cmd = sidecarCommand({ home: l.home, secretDir: l.secretDir });
  const imageEnv = { PATH: `${l.binDir}:${process.env.PATH ?? ''}`, HOME: '/var/syncthing', STGUIADDRESS: `0.0.0.0:${decoyGuiPort}`, STHOMEDIR: '/var/syncthing/config' };
  const [shell, ...shellArgs] = cmd.command;
  const env = { ...imageEnv, ...Object.fromEntries(cmd.env.map((e) => [e.name, e.value])) };
  const sidecar = start({ command: shell ?? 'sh', args: [...shellArgs, ...cmd.args], env, ...SIDECAR_USER });
  t.after(() => sidecar.stop());

  const ping = await waitFor('the sidecar REST API', async () => ((await rest(guiPort, '/rest/system/ping', s.apiKey)).ok ? true : undefined), SYNC_TIMEOUT_MS).catch((e: Error) => {
    throw new Error(`${e.message}\n--- sidecar log ---\n${sidecar.log()}`);
  });
  assert.ok(ping);
  assert.match(sidecar.log(), new RegExp(`INFO: syncthing ${expectedVersion.replaceAll('.', '\\.')} `), 'the sidecar runs the intended binary');
  // REST: the API key opens it, no key or a wrong key does not; the image's 0.0.0.0 override is off.
  const status = (await (await rest(guiPort, '/rest/system/status', s.apiKey)).json()) as { myID: string };
  assert.equal(status.myID, s.sidecar.deviceId);
  assert.equal((await rest(guiPort, '/rest/system/status')).status, 403);
  assert.equal((await rest(guiPort, '/rest/system/status', 'wrong-key-0123456789')).status, 403);
  assert.ok(await portRefuses(decoyGuiPort), 'STGUIADDRESS from the image must not apply');
  assert.equal((await stat(sidecarSyncthingHome(l.home))).mode & 0o777, 0o700);
  for (const file of ['key.pem', 'config.xml']) assert.equal((await stat(join(sidecarSyncthingHome(l.home), file))).mode & 0o777, 0o600, file);

  // The agent: the local syncthing with the agent config, dialing the sidecar's (here: directly reachable) address.
  await writeFile(
    join(l.agentHome, 'config.xml'),
    renderAgentConfig({ ...common, folderPath: l.agentWork, sidecarAddress: `tcp://127.0.0.1:${syncPort}`, guiAddress: `127.0.0.1:${agentGuiPort}`, mode: 'two-way' }),
  );
  await writeFile(join(l.agentHome, 'cert.pem'), s.agent.certPem);
  await writeFile(join(l.agentHome, 'key.pem'), s.agent.keyPem, { mode: 0o600 });
  await writeFile(join(l.agentWork, '.stignore'), renderIgnore(['*.tmp']));
  await mkdir(join(l.agentWork, '.git'));
  await writeFile(join(l.agentWork, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  await writeFile(join(l.agentWork, 'scratch.tmp'), 'ignored\n');
  const agent = start({ command: LOCAL.path, args: syncthingServeArgs(l.agentHome), env: { PATH: process.env.PATH, HOME: l.agentHome } });
  t.after(() => agent.stop());

  // Agent → sidecar.
  const content = `hello from the agent ${Date.now()}\n`;
  const written = performance.now();
  await writeFile(join(l.agentWork, 'hello.txt'), content);
  await waitFor('hello.txt on the sidecar', async () => ((await fileContent(join(l.workdir, 'hello.txt'))) === content ? true : undefined), SYNC_TIMEOUT_MS).catch(
    (e: Error) => {
      throw new Error(`${e.message}\n--- sidecar log ---\n${sidecar.log()}\n--- agent log ---\n${agent.log()}`);
    },
  );
  t.diagnostic(`agent → sidecar: ${(performance.now() - written).toFixed(0)} ms (includes connection set-up)`);
  assert.ok(!existsSync(join(l.workdir, '.git')), '.git is never synced');
  // Both ends connected and synced, so every listener either opens is up by now.
  assertListensOnLoopbackOnly(sidecar, 'the sidecar', [syncPort, guiPort]);
  assertListensOnLoopbackOnly(agent, 'the agent', [agentGuiPort]);
  assert.ok(!existsSync(join(l.workdir, 'scratch.tmp')), 'ignore patterns apply');

  // Sidecar → agent (two-way).
  const back = `hello from the pod ${Date.now()}\n`;
  const writtenBack = performance.now();
  await writeFile(join(l.workdir, 'from-pod.txt'), back);
  await waitFor('from-pod.txt on the agent', async () => ((await fileContent(join(l.agentWork, 'from-pod.txt'))) === back ? true : undefined), SYNC_TIMEOUT_MS);
  t.diagnostic(`sidecar → agent: ${(performance.now() - writtenBack).toFixed(0)} ms`);

  // A container restart: SIGTERM stops syncthing cleanly (sh has exec'd it, so the signal reaches syncthing itself);
  // the same command over the same volumes starts again on top of the earlier files and index, and the agent
  // reconnects on its own.
  assert.equal(await sidecar.stop(), 0, `sidecar exit\n${sidecar.log()}`);
  const restarted = start({ command: shell ?? 'sh', args: [...shellArgs, ...cmd.args], env, ...SIDECAR_USER });
  t.after(() => restarted.stop());
  const again = `after the restart ${Date.now()}\n`;
  const writtenAgain = performance.now();
  await writeFile(join(l.agentWork, 'again.txt'), again);
  await waitFor('again.txt on the restarted sidecar', async () => ((await fileContent(join(l.workdir, 'again.txt'))) === again ? true : undefined), SYNC_TIMEOUT_MS).catch(
    (e: Error) => {
      throw new Error(`${e.message}\n--- restarted sidecar log ---\n${restarted.log()}\n--- agent log ---\n${agent.log()}`);
    },
  );
  t.diagnostic(`agent → restarted sidecar: ${(performance.now() - writtenAgain).toFixed(0)} ms (includes the reconnect)`);

  assert.equal(await restarted.stop(), 0, `restarted sidecar exit\n${restarted.log()}`);
  assert.equal(await agent.stop(), 0, `agent exit\n${agent.log()}`);
  if (process.env.DEVX_SHOW_LOGS) t.diagnostic(`--- sidecar log ---\n${sidecar.log()}--- restarted ---\n${restarted.log()}--- agent log ---\n${agent.log()}`);
  assert.deepEqual(complaints(sidecar.log()), [], 'the sidecar logged complaints');
  assert.deepEqual(complaints(restarted.log()), [], 'the restarted sidecar logged complaints');
  assert.deepEqual(complaints(agent.log()), [], 'the agent logged complaints');
}

test('sidecar stand-in (local syncthing) from the generated Secret and command syncs both ways with the agent', async (t) => {
  await syncScenario(t, LOCAL);
});

test('sidecar stand-in on the sidecar image version syncs both ways with the local agent', async (t) => {
  assert.ok(SIDECAR_IMAGE_VERSION, `syncthing ${sidecarVersion} is not built: run npm run real-parts`);
  await syncScenario(t, SIDECAR_IMAGE_VERSION);
});
