// The agent syncing with a real sidecar: a real control plane (the workload, its injected dev pod and its sync Secret
// are real API objects), a stand-in for the devx-sync container started from that pod's container spec and that
// Secret as the API server returns them, and `kubectl devx sync` as a child process with the local syncthing. The one
// seam: there is no kubelet, so nothing can be port-forwarded; `--address` points the agent at the stand-in's
// loopback port instead (the port-forward path has its own test, agent-portforward.test.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, decodeSecret, eventually, getJson, installCrd, startDevx, type DevxServer } from './harness/devx.ts';
import { freePorts } from './harness/ports.ts';
import { complaints, ensureSyncSecret, fileContent, LOCAL, start, startAgent, startSidecarStandIn, waitFor, type StandIn } from './harness/syncthing.ts';

const NS = 'sync';
const SYNC_TIMEOUT_MS = 60_000;
let cp: ControlPlane;
let devx: DevxServer;
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-agent-sync-'));
  fs.chmodSync(tmp, 0o755); // the stand-in runs as a non-root user and must reach its volumes below
  cp = await startControlPlane();
  await installCrd(cp);
  await applyPolicy(cp);
  await cp.createNamespace(NS, { 'dev.x/policy': 'default' });
  devx = await startDevx(cp);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

async function kubectlOk(args: string[], input?: string): Promise<string> {
  const r = await cp.kubectl(args, { namespace: NS, ...(input ? { input } : {}) });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A Deployment in dev mode, its injected pod and its Secret read back from the API server, and the stand-in. */
async function devWorkload(name: string): Promise<{ standIn: StandIn; pod: any }> {
  const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `example.com/${name}:1` }] } } } };
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(deploy));
  await kubectlOk(['label', 'deploy', name, 'dev.x/enabled=true']);
  const uid = (await getJson(cp, ['deploy', name], NS)).metadata.uid;
  const pod = await eventually(`the injected ${name} pod`, async () =>
    (await getJson(cp, ['pods', '-l', `app=${name}`], NS)).items.find((p: any) => p.metadata.annotations?.['dev.x/status'] && !p.metadata.deletionTimestamp),
  );
  const secretName = await ensureSyncSecret(cp, { namespace: NS, kind: 'Deployment', name, uid });
  const data = decodeSecret(await getJson(cp, ['secret', secretName], NS));
  const container = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c: any) => c.name === 'devx-sync');
  assert.ok(container, 'the pod has the devx-sync container');
  const root = path.join(tmp, `pod-${name}`);
  fs.mkdirSync(root);
  const standIn = await startSidecarStandIn({ root, container, volumes: pod.spec.volumes, secrets: { [secretName]: data } });
  return { standIn, pod };
}

/** Relative paths of the regular files under `dir`, sorted, without syncthing's own `.stfolder` and `.stignore`. */
function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .filter((p) => !p.startsWith('.stfolder') && p !== '.stignore')
    .sort();
}

function agentEnv(configHome: string): NodeJS.ProcessEnv {
  return { KUBECONFIG: cp.kubeconfigPath, XDG_CONFIG_HOME: configHome, NO_COLOR: '1' };
}

async function arrives(file: string, content: string, what: string): Promise<void> {
  await waitFor(what, async () => ((await fileContent(file)) === content ? true : undefined), SYNC_TIMEOUT_MS);
}

async function goneFrom(file: string, what: string): Promise<void> {
  await waitFor(what, async () => (fs.existsSync(file) ? undefined : true), SYNC_TIMEOUT_MS);
}

describe('kubectl devx sync with a real sidecar stand-in', () => {
  test('two-way: 1,000 files arrive complete; create, edit, delete, rename propagate; .git and .devxignore entries do not; pod-side files come back; Ctrl-C stops everything; a stale syncthing is stopped', async () => {
    const { standIn, pod } = await devWorkload('app');
    try {
      const local = path.join(tmp, 'local-app');
      const configHome = path.join(tmp, 'config-app');
      fs.mkdirSync(local);
      for (let d = 0; d < 10; d++) {
        fs.mkdirSync(path.join(local, `dir${d}`, 'nested'), { recursive: true });
        for (let f = 0; f < 100; f++) {
          const where = f % 2 === 0 ? `dir${d}` : `dir${d}/nested`;
          fs.writeFileSync(path.join(local, where, `f${f}.txt`), `file ${d}/${f}\n${'x'.repeat((d * 100 + f) % 700)}\n`);
        }
      }
      fs.mkdirSync(path.join(local, '.git', 'objects'), { recursive: true });
      fs.writeFileSync(path.join(local, '.git', 'HEAD'), 'ref: refs/heads/main\n');
      fs.writeFileSync(path.join(local, '.git', 'objects', 'pack'), 'binary\n');
      fs.writeFileSync(path.join(local, '.devxignore'), '// build output and logs stay local\n*.log\nbuild/\n');
      fs.writeFileSync(path.join(local, 'debug.log'), 'ignored\n');
      fs.mkdirSync(path.join(local, 'build'));
      fs.writeFileSync(path.join(local, 'build', 'out.bin'), 'ignored\n');
      const expected = listFiles(local).filter((p) => !p.startsWith('.git/') && !p.endsWith('.log') && !p.startsWith('build/'));
      assert.equal(expected.filter((p) => p.startsWith('dir')).length, 1000);

      const started = performance.now();
      const agent = startAgent(['sync', 'deploy/app', local, '-n', NS, '--address', standIn.address, '-o', 'json'], agentEnv(configHome));
      try {
        const synced = await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
        const seconds = (performance.now() - started) / 1000;
        assert.equal(synced.pod, pod.metadata.name);
        assert.ok(synced.files >= 1001, `synced event counts the files:\n${agent.stdout()}\n${agent.stderr()}`);
        assert.ok(agent.events().some((e) => e.event === 'progress'), 'progress was reported before the first full sync');
        // Complete: every file, same content, nothing else (the .stignore the agent wrote is syncthing's own, never synced).
        const arrived = listFiles(standIn.workdir);
        assert.equal(arrived.length, expected.length, `files on the pod side at the synced event; agent said:\n${agent.stdout()}`);
        assert.deepEqual(arrived, expected);
        for (const p of expected) assert.equal(fs.readFileSync(path.join(standIn.workdir, p), 'utf8'), fs.readFileSync(path.join(local, p), 'utf8'), p);
        assert.ok(!fs.existsSync(path.join(standIn.workdir, '.git')), '.git is never synced');
        assert.ok(!fs.existsSync(path.join(standIn.workdir, 'debug.log')), '.devxignore: *.log');
        assert.ok(!fs.existsSync(path.join(standIn.workdir, 'build')), '.devxignore: build/');
        console.log(`# initial sync of ${expected.length} files: ${seconds.toFixed(1)} s (agent start to synced event)`);

        // Create, edit, delete, rename.
        fs.writeFileSync(path.join(local, 'new.txt'), 'created\n');
        fs.writeFileSync(path.join(local, 'dir0', 'f0.txt'), 'edited\n');
        fs.rmSync(path.join(local, 'dir0', 'f2.txt'));
        fs.renameSync(path.join(local, 'dir0', 'f4.txt'), path.join(local, 'dir0', 'renamed.txt'));
        fs.writeFileSync(path.join(local, 'later.log'), 'ignored\n');
        fs.writeFileSync(path.join(local, '.git', 'index'), 'ignored\n');
        await arrives(path.join(standIn.workdir, 'new.txt'), 'created\n', 'a created file on the pod side');
        await arrives(path.join(standIn.workdir, 'dir0', 'f0.txt'), 'edited\n', 'an edit on the pod side');
        await goneFrom(path.join(standIn.workdir, 'dir0', 'f2.txt'), 'a deletion on the pod side');
        await arrives(path.join(standIn.workdir, 'dir0', 'renamed.txt'), fs.readFileSync(path.join(local, 'dir0', 'renamed.txt'), 'utf8'), 'the renamed file');
        await goneFrom(path.join(standIn.workdir, 'dir0', 'f4.txt'), 'the old name gone');
        // Pod side → local (two-way); a pod-side file matching .devxignore stays there.
        fs.writeFileSync(path.join(standIn.workdir, 'pod.log'), 'pod log\n');
        fs.writeFileSync(path.join(standIn.workdir, 'from-pod.txt'), 'made in the pod\n');
        await arrives(path.join(local, 'from-pod.txt'), 'made in the pod\n', 'a pod-side file locally');
        // Ignored files stayed where they were, both ways (checked after later changes went through).
        fs.writeFileSync(path.join(local, 'marker.txt'), 'marker\n');
        await arrives(path.join(standIn.workdir, 'marker.txt'), 'marker\n', 'a marker file after the ignored ones');
        assert.ok(!fs.existsSync(path.join(standIn.workdir, 'later.log')));
        assert.ok(!fs.existsSync(path.join(standIn.workdir, '.git')));
        assert.ok(!fs.existsSync(path.join(local, 'pod.log')));
        // .devxignore edited while syncing: the new pattern applies at once.
        fs.appendFileSync(path.join(local, '.devxignore'), '*.tmp\n');
        await agent.waitForEvent('the ignore patterns reloaded', (e) => e.event === 'note' && /\.devxignore changed/.test(e.message), 15_000);
        fs.writeFileSync(path.join(local, 'scratch.tmp'), 'ignored now\n');
        fs.writeFileSync(path.join(local, 'marker2.txt'), 'marker 2\n');
        await arrives(path.join(standIn.workdir, 'marker2.txt'), 'marker 2\n', 'a marker after the new pattern');
        assert.ok(!fs.existsSync(path.join(standIn.workdir, 'scratch.tmp')), 'a pattern added while syncing applies');
        const live = agent.events().filter((e) => e.event === 'status');
        assert.ok(live.some((e) => e.lastChange?.direction === 'in' && e.lastChange.path === 'from-pod.txt'), 'the live status reported the change from the pod');

        // `status` sees the running session.
        const st = startAgent(['status', '-n', NS, '-o', 'json'], agentEnv(configHome));
        assert.equal(await st.exited, 0, st.stderr());
        const row = JSON.parse(st.stdout()).items.find((r: any) => r.workload === 'deployment/app');
        assert.equal(row.sync, `two-way (pid ${agent.pid})`);

        // A second agent for the same workload is refused.
        const second = startAgent(['sync', 'deploy/app', local, '-n', NS, '--address', standIn.address], agentEnv(configHome));
        assert.equal(await second.exited, 8, second.stderr());
        assert.match(second.stderr(), /already runs on this machine \(pid \d+\)/);

        // A sidecar container restart: syncthing in the "pod" starts again over the same volumes; the agent reconnects.
        await standIn.restart();
        fs.writeFileSync(path.join(local, 'after-restart.txt'), 'after the restart\n');
        await arrives(path.join(standIn.workdir, 'after-restart.txt'), 'after the restart\n', 'a file after the sidecar restarted');

        // Ctrl-C: the agent and its syncthing stop, the pid files go, the session is recorded as stopped.
        const home = path.join(configHome, 'devx', 'devx-e2e', NS, 'deployment-app');
        const syncthingPid = Number(fs.readFileSync(path.join(home, 'syncthing.pid'), 'utf8'));
        assert.ok(isAlive(syncthingPid));
        assert.equal((fs.statSync(home).mode & 0o777).toString(8), '700');
        assert.equal(await agent.interrupt(), 0, agent.stderr());
        assert.ok(!isAlive(syncthingPid), 'the local syncthing stopped with the agent');
        assert.ok(!fs.existsSync(path.join(home, 'syncthing.pid')));
        assert.ok(!fs.existsSync(path.join(home, 'agent.pid')));
        assert.ok(JSON.parse(fs.readFileSync(path.join(home, 'session.json'), 'utf8')).stoppedAt);
        assert.deepEqual(complaints(fs.readFileSync(path.join(home, 'syncthing.log'), 'utf8')), []);
      } finally {
        await agent.interrupt();
      }

      // A crashed run left its syncthing behind: the next run stops it first, then syncs as before.
      const home = path.join(configHome, 'devx', 'devx-e2e', NS, 'deployment-app');
      const stale = start({ command: LOCAL.path, args: ['serve', `--home=${home}`, '--no-browser', '--no-restart', '--no-default-folder', '--no-upgrade'], env: { PATH: process.env.PATH, HOME: home } });
      try {
        fs.writeFileSync(path.join(home, 'syncthing.pid'), `${stale.child.pid}\n`);
        await new Promise((r) => setTimeout(r, 500));
        const rerun = startAgent(['sync', 'deploy/app', local, '-n', NS, '--address', standIn.address, '-o', 'json'], agentEnv(configHome));
        try {
          await rerun.waitForEvent('the note about the stale syncthing', (e) => e.event === 'note' && e.message.includes(`stopped syncthing pid ${stale.child.pid}`), 30_000);
          await rerun.waitForEvent('the first full sync of the second run', (e) => e.event === 'synced', 60_000);
          assert.notEqual(stale.child.exitCode ?? stale.child.signalCode, null, 'the stale syncthing is gone');
          fs.writeFileSync(path.join(local, 'second-run.txt'), 'second run\n');
          await arrives(path.join(standIn.workdir, 'second-run.txt'), 'second run\n', 'a file in the second run');
        } finally {
          assert.equal(await rerun.interrupt(), 0, rerun.stderr());
        }
      } finally {
        await stale.stop();
      }
    } finally {
      assert.equal(await standIn.stop(), 0, standIn.proc.log());
    }
  });

  test('push: local files and changes arrive in the pod; a file created in the pod does not come back', async () => {
    const { standIn } = await devWorkload('pusher');
    try {
      const local = path.join(tmp, 'local-pusher');
      fs.mkdirSync(local);
      for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(local, `p${i}.txt`), `push ${i}\n`);
      const agent = startAgent(['sync', 'pusher', local, '-n', NS, '--address', standIn.address, '--mode', 'push', '-o', 'json'], agentEnv(path.join(tmp, 'config-pusher')));
      try {
        await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
        assert.deepEqual(listFiles(standIn.workdir), listFiles(local));
        fs.writeFileSync(path.join(standIn.workdir, 'pod-only.txt'), 'stays in the pod\n');
        fs.writeFileSync(path.join(local, 'p0.txt'), 'pushed edit\n');
        await arrives(path.join(standIn.workdir, 'p0.txt'), 'pushed edit\n', 'a pushed edit');
        // The agent's syncthing has heard of the pod's file (it counts as "needed" locally) and still does not fetch it.
        await agent.waitForEvent('the pod-side file known to the agent', (e) => e.event === 'status' && e.localNeed?.items >= 1, SYNC_TIMEOUT_MS);
        await new Promise((r) => setTimeout(r, 3000));
        assert.ok(fs.existsSync(path.join(standIn.workdir, 'pod-only.txt')));
        assert.ok(!fs.existsSync(path.join(local, 'pod-only.txt')), 'push mode never writes pod-side files locally');
        // Dev mode ends (label removed): the agent notices, stops, and says why (exit 4).
        await kubectlOk(['label', 'deploy', 'pusher', 'dev.x/enabled-']);
        const stopped = await agent.waitForEvent('the agent stopping', (e) => e.event === 'stopped', 30_000);
        assert.equal(stopped.exitCode, 4);
        assert.match(stopped.message, /deployment\/pusher left dev mode/);
        assert.equal(await agent.exited, 4);
      } finally {
        await agent.interrupt();
      }
    } finally {
      await standIn.stop();
    }
  });

  test('up --sync: labels the workload, waits for its dev pod, then syncs', async () => {
    const deploy = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'quick' }, spec: { selector: { matchLabels: { app: 'quick' } }, template: { metadata: { labels: { app: 'quick' } }, spec: { containers: [{ name: 'quick', image: 'example.com/quick:1' }] } } } };
    await kubectlOk(['apply', '-f', '-'], JSON.stringify(deploy));
    const local = path.join(tmp, 'local-quick');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'main.go'), 'package main\n');
    // The stand-in can only start once the pod and its Secret exist, so its port is chosen up front.
    const [syncPort, guiPort] = await freePorts(2);
    const agent = startAgent(['up', 'deploy/quick', '-n', NS, '--sync', local, '--address', `tcp://127.0.0.1:${syncPort}`, '-o', 'json'], agentEnv(path.join(tmp, 'config-quick')));
    let standIn: StandIn | undefined;
    try {
      const pod = await eventually('the injected quick pod', async () => (await getJson(cp, ['pods', '-l', 'app=quick'], NS)).items.find((p: any) => p.metadata.annotations?.['dev.x/status']));
      const uid = (await getJson(cp, ['deploy', 'quick'], NS)).metadata.uid;
      const secretName = await ensureSyncSecret(cp, { namespace: NS, kind: 'Deployment', name: 'quick', uid });
      const data = decodeSecret(await getJson(cp, ['secret', secretName], NS));
      const container = pod.spec.containers.find((c: any) => c.name === 'devx-sync');
      const root = path.join(tmp, 'pod-quick');
      fs.mkdirSync(root);
      standIn = await startSidecarStandIn({ root, container, volumes: pod.spec.volumes, secrets: { [secretName]: data }, syncPort, guiPort });
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 60_000);
      assert.equal(fs.readFileSync(path.join(standIn.workdir, 'main.go'), 'utf8'), 'package main\n');
      const up = agent.events().find((e) => e.workload !== undefined)!;
      assert.equal(up.workload, 'deployment/quick');
      assert.equal(up.pod, pod.metadata.name);
    } finally {
      assert.equal(await agent.interrupt(), 0, agent.stderr());
      await standIn?.stop();
    }
  });
});

describe('kubectl devx sync verifies the dev pod (DESIGN §10)', () => {
  /** A pod that claims to be a dev pod of `workload`: the real dev pod's dev.x/status and devx-* containers and
   * volumes copied, newer than it, with the owner references given. */
  function decoy(name: string, real: any, o: { workload: string; owners: unknown[]; secret?: string }): Record<string, unknown> {
    const devxOnly = (mounts: any[] | undefined): any[] => (mounts ?? []).filter((m) => m.name.startsWith('devx-'));
    const volumes = (real.spec.volumes as any[])
      .filter((v) => v.name.startsWith('devx-'))
      .map((v) => (v.name === 'devx-sync-secret' && o.secret ? { name: v.name, secret: { secretName: o.secret } } : v));
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels: { 'dev.x/enabled': 'true', app: 'decoy' },
        annotations: { 'dev.x/status': real.metadata.annotations['dev.x/status'], 'dev.x/workload': o.workload },
        ownerReferences: o.owners,
      },
      spec: { containers: (real.spec.containers as any[]).map((c) => ({ ...c, volumeMounts: devxOnly(c.volumeMounts) })), volumes, securityContext: real.spec.securityContext },
    };
  }

  test('decoys that claim the workload are skipped for the real dev pod; with decoys only, sync gives up and names each with its reason', async () => {
    const { standIn, pod } = await devWorkload('real');
    try {
      const realUid = (await getJson(cp, ['deploy', 'real'], NS)).metadata.uid;
      // A second workload in dev mode that has no dev pod: paused, so no ReplicaSet and no pod is ever made.
      const ghost = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'ghost' }, spec: { paused: true, selector: { matchLabels: { app: 'ghost' } }, template: { metadata: { labels: { app: 'ghost' } }, spec: { containers: [{ name: 'ghost', image: 'example.com/ghost:1' }] } } } };
      await kubectlOk(['apply', '-f', '-'], JSON.stringify(ghost));
      await kubectlOk(['label', 'deploy', 'ghost', 'dev.x/enabled=true']);
      const ghostUid = (await getJson(cp, ['deploy', 'ghost'], NS)).metadata.uid;
      await ensureSyncSecret(cp, { namespace: NS, kind: 'Deployment', name: 'ghost', uid: ghostUid });

      // Pods like these are what admission would inject or refuse; they are made while devx is away (stopped, its
      // webhook configurations gone), as anyone who may create pods in the namespace could have made them before.
      await devx.stop();
      await kubectlOk(['delete', 'mutatingwebhookconfiguration,validatingwebhookconfiguration', 'devx', '--ignore-not-found']);
      const byDeployment = (name: string, uid: string): unknown => ({ apiVersion: 'apps/v1', kind: 'Deployment', name, uid, controller: true, blockOwnerDeletion: true });
      const decoys = [
        decoy('real-decoy-unowned', pod, { workload: 'deployment/real', owners: [] }),
        decoy('real-decoy-deployment', pod, { workload: 'deployment/real', owners: [byDeployment('real', realUid)] }),
        decoy('ghost-decoy-unowned', pod, { workload: 'deployment/ghost', owners: [], secret: 'devx-sync-deployment-ghost' }),
        decoy('ghost-decoy-deployment', pod, { workload: 'deployment/ghost', owners: [byDeployment('ghost', ghostUid)], secret: 'devx-sync-deployment-ghost' }),
        decoy('ghost-decoy-secret', pod, { workload: 'deployment/ghost', owners: [] }),
      ];
      for (const d of decoys) await kubectlOk(['create', '-f', '-'], JSON.stringify(d));
      devx = await startDevx(cp);
      const pods = (await getJson(cp, ['pods', '-l', 'dev.x/enabled=true'], NS)).items.map((p: any) => p.metadata.name);
      for (const d of decoys) assert.ok(pods.includes((d.metadata as { name: string }).name), `decoy ${JSON.stringify(d.metadata)} exists`);

      // The real dev pod is older than every decoy: by its claim alone a decoy would be chosen.
      const local = path.join(tmp, 'local-real');
      fs.mkdirSync(local);
      fs.writeFileSync(path.join(local, 'secret-source.txt'), 'for the real dev pod only\n');
      const agent = startAgent(['sync', 'deploy/real', local, '-n', NS, '--address', standIn.address, '-o', 'json'], agentEnv(path.join(tmp, 'config-real')));
      try {
        const synced = await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
        assert.equal(synced.pod, pod.metadata.name, `synced with the real dev pod, not a decoy:\n${agent.stdout()}`);
        assert.equal(fs.readFileSync(path.join(standIn.workdir, 'secret-source.txt'), 'utf8'), 'for the real dev pod only\n');
      } finally {
        assert.equal(await agent.interrupt(), 0, agent.stderr());
      }

      const lonely = startAgent(['sync', 'deploy/ghost', local, '-n', NS, '--address', 'tcp://127.0.0.1:1', '--timeout', '3s'], agentEnv(path.join(tmp, 'config-ghost')));
      assert.equal(await lonely.exited, 6, lonely.stderr());
      const err = lonely.stderr();
      assert.match(err, /gave up after 3 s waiting for the dev pod of deployment\/ghost; not syncing with 3 pods that are not devx's dev pod of it: /);
      assert.match(err, /pod ghost-decoy-unowned: the pod has no controller owner \(expected a ReplicaSet on the way to deployment\/ghost\)/);
      assert.match(err, /pod ghost-decoy-deployment: the pod is controlled by Deployment ghost \(apps\/v1\), not by a ReplicaSet \(apps\/v1\)/);
      assert.match(err, /pod ghost-decoy-secret: volume devx-sync-secret is Secret devx-sync-deployment-real, not devx-sync-deployment-ghost/);
      assert.doesNotMatch(err, /real-decoy/, 'pods that claim another workload are not this one\'s candidates');
    } finally {
      await standIn.stop();
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
