// Proves the real control plane harness: the API server is ready, the controller-manager turns a Deployment into
// Pods, RBAC really decides for impersonated users, and stop() leaves no process and no directory behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startControlPlane } from './harness/control-plane.ts';
import type { ControlPlane } from './harness/control-plane.ts';
import { pollValue } from '../../src/wait.ts';

let cp: ControlPlane;

before(async () => {
  cp = await startControlPlane();
  console.log(`control plane up in ${Math.round(cp.timings.total)} ms`, cp.timings);
});

after(async () => {
  await cp?.stop();
});

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const v = await pollValue(fn, { timeoutMs, intervalMs: 100 });
  if (v === undefined) throw new Error(`timed out waiting for ${what}`);
  return v;
}

test('the API server is ready and kubectl talks to it with the written kubeconfig', async () => {
  assert.equal((await cp.request('GET', '/readyz')).status, 200);
  const raw = await cp.kubectl(['get', '--raw', '/readyz']);
  assert.equal(raw.code, 0, raw.stderr);
  assert.equal(raw.stdout.trim(), 'ok');
  assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
  const kubeconfig = fs.readFileSync(cp.kubeconfigPath, 'utf8');
  assert.ok(kubeconfig.includes(cp.server));
});

test('a Deployment with 2 replicas gets 2 Pods from the real controller-manager (Pending: no scheduler)', async () => {
  await cp.createNamespace('web', { team: 'a' });
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.k8s.io/pause:3.10' }] } },
    },
  };
  const applied = await cp.kubectl(['apply', '-f', '-'], { namespace: 'web', input: JSON.stringify(deployment) });
  assert.equal(applied.code, 0, applied.stderr);
  const pods = await eventually('2 pods', async () => {
    const res = await cp.kubectl(['get', 'pods', '-l', 'app=web', '-o', 'json'], { namespace: 'web' });
    assert.equal(res.code, 0, res.stderr);
    const items = (JSON.parse(res.stdout) as { items: Array<{ status?: { phase?: string }; spec: { serviceAccountName?: string } }> }).items;
    return items.length === 2 ? items : undefined;
  });
  for (const pod of pods) {
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.spec.serviceAccountName, 'default', 'the ServiceAccount admission plugin is on');
  }
  const labels = await cp.kubectl(['get', 'ns', 'web', '-o', 'jsonpath={.metadata.labels.team}']);
  assert.equal(labels.stdout, 'a');
});

test('RBAC decides for impersonated users: alice is forbidden until a RoleBinding allows her', async () => {
  const denied = await cp.kubectl(['get', 'pods'], { as: 'alice', namespace: 'web' });
  assert.notEqual(denied.code, 0);
  assert.match(denied.stderr, /forbidden/i);
  assert.match(denied.stderr, /"alice"/);

  const bind = await cp.kubectl(['create', 'rolebinding', 'alice-view', '--clusterrole=view', '--user=alice'], { namespace: 'web' });
  assert.equal(bind.code, 0, bind.stderr);
  const allowed = await eventually('alice allowed', async () => {
    const res = await cp.kubectl(['get', 'pods', '-o', 'name'], { as: 'alice', namespace: 'web' });
    return res.code === 0 ? res : undefined;
  });
  assert.equal(allowed.stdout.trim().split('\n').length, 2);
  const stillDenied = await cp.kubectl(['delete', 'deployment', 'web'], { as: 'alice', namespace: 'web' });
  assert.notEqual(stillDenied.code, 0, 'view does not allow delete');
  const groupAllowed = await cp.kubectl(['get', 'pods'], { as: 'bob', asGroups: ['system:masters'], namespace: 'web' });
  assert.equal(groupAllowed.code, 0, groupAllowed.stderr);
});

test('stop() leaves no process and no directory behind', async () => {
  const pids = cp.pids();
  assert.equal(pids.length, 3, 'etcd, kube-apiserver, kube-controller-manager');
  const dir = cp.dir;
  const t0 = performance.now();
  await cp.stop();
  console.log(`control plane stopped in ${Math.round(performance.now() - t0)} ms`);
  for (const pid of pids) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} still exists`);
  assert.equal(fs.existsSync(dir), false);
  // Nothing else on the machine runs with this directory in its command line either.
  const leftovers = fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    });
  assert.deepEqual(leftovers, []);
  assert.deepEqual(cp.pids(), []);
  await cp.stop(); // idempotent
});

test('missing binaries fail with a message that names `npm run real-parts`', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-empty-cache-'));
  const saved = process.env.DEVX_CACHE;
  process.env.DEVX_CACHE = empty;
  try {
    await assert.rejects(startControlPlane(), /npm run real-parts/);
  } finally {
    if (saved === undefined) delete process.env.DEVX_CACHE;
    else process.env.DEVX_CACHE = saved;
    fs.rmSync(empty, { recursive: true, force: true });
  }
});
