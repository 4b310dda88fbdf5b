// Dev mode on a real node: the control plane plus kube-scheduler, containerd, runc, CNI and a kubelet
// (harness/node.ts), devx-webhook with its reconciler, and images the project builds (test/tools/node-images) standing
// in for the user's images and syncthing/syncthing:1.27. Pods really run; `kubectl exec` and `kubectl devx sync`
// go through the API server's real `pods/exec` and `pods/portforward` to the kubelet, with no seam.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, getJson, type DevxServer } from './harness/devx.ts';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster } from './harness/node.ts';
import { kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { listeningSockets, startAgent, type AgentProcess } from './harness/syncthing.ts';

const NS = 'bookinfo';
/** Read before the node starts: the node must leave the host's IP forwarding as it was. */
const IP_FORWARD_BEFORE = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
const WORKDIR = '/home/devx';
let c: NodeCluster;
let devx: DevxServer;
let k: Kube;
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-e2e-node-'));
  c = await startNodeCluster();
  k = kube(c);
  devx = await startReconcilingDevx(c, NS, [{ name: 'default', spec: nodePolicySpec(c.node.images) }]);
});

after(async () => {
  await devx?.stop();
  await c?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A bookinfo-like `reviews`: the app image answering its probes on :9080. */
function reviews(name: string, replicas: number, extra: { securityContext?: Record<string, unknown>; annotations?: Record<string, string> } = {}): Record<string, unknown> {
  const probe = { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name }, ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: 'reviews',
              image: c.node.images.reviews,
              ports: [{ containerPort: 9080 }],
              readinessProbe: probe,
              livenessProbe: probe,
              ...(extra.securityContext ? { securityContext: extra.securityContext } : {}),
            },
          ],
        },
      },
    },
  };
}

const running = podReady;

/** The one dev pod of `selector`, Running with every container ready, and no other pod left. */
async function devPodRunning(selector: string, timeoutMs = 60_000): Promise<any> {
  return eventually(
    `the dev pod of ${selector} Running with both containers ready, alone`,
    async () => {
      const pods = await k.pods(selector, NS);
      const all = (await getJson(c, ['pods', '-l', selector], NS)).items as any[];
      return pods.length === 1 && all.length === 1 && pods[0].metadata.annotations?.['dev.x/status'] && running(pods[0]) ? pods[0] : undefined;
    },
    timeoutMs,
  );
}

async function originalsRunning(selector: string, replicas: number, timeoutMs = 60_000): Promise<any[]> {
  return eventually(
    `${replicas} original pods of ${selector} Running and ready`,
    async () => {
      const all = (await getJson(c, ['pods', '-l', selector], NS)).items as any[];
      return all.length === replicas && all.every((p) => running(p) && !p.metadata.annotations?.['dev.x/status']) ? all : undefined;
    },
    timeoutMs,
  );
}

async function exec(pod: string, container: string, script: string): Promise<string> {
  const r = await c.kubectl(['exec', '-n', NS, pod, '-c', container, '--', 'sh', '-c', script]);
  assert.equal(r.code, 0, `kubectl exec ${pod} -c ${container}: ${r.stderr}`);
  return r.stdout;
}

function agentEnv(configHome: string): NodeJS.ProcessEnv {
  return { KUBECONFIG: c.kubeconfigPath, XDG_CONFIG_HOME: configHome, NO_COLOR: '1' };
}

/** The content of `file` in the dev container's workdir, or undefined while it is not there. */
async function podFile(pod: string, file: string): Promise<string | undefined> {
  const r = await c.kubectl(['exec', '-n', NS, pod, '-c', 'reviews', '--', 'cat', `${WORKDIR}/${file}`]);
  return r.code === 0 ? r.stdout : undefined;
}

async function arrivesInPod(pod: string, file: string, content: string, timeoutMs = 30_000): Promise<void> {
  await eventually(`${file} in the dev container`, async () => (await podFile(pod, file)) === content, timeoutMs);
}

async function arrivesLocally(file: string, content: string, timeoutMs = 30_000): Promise<void> {
  await eventually(`${file} locally`, async () => fs.existsSync(file) && fs.readFileSync(file, 'utf8') === content, timeoutMs);
}

describe('dev mode on a real node', () => {
  test('label: the dev pod runs the dev image with the sidecar; exec lands in the workdir; unlabel: the original pods run again', async () => {
    await k.apply(reviews('reviews', 3), NS);
    const before = await originalsRunning('app=reviews', 3);
    const original = before[0].spec.containers[0];
    await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: NS });
    const pod = await devPodRunning('app=reviews');
    const dev = pod.spec.containers.find((x: any) => x.name === 'reviews');
    assert.equal(dev.image, c.node.images.dev);
    assert.equal(dev.readinessProbe, undefined);
    assert.deepEqual(pod.spec.containers.map((x: any) => x.name).sort(), ['devx-sync', 'reviews']);
    assert.equal((await exec(pod.metadata.name, 'reviews', 'pwd')).trim(), WORKDIR);
    // The sidecar is really syncthing, listening on the pod's loopback only.
    const listening = await exec(pod.metadata.name, 'devx-sync', 'cat /proc/net/tcp /proc/net/tcp6');
    const ports = listening
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A')
      .map((f) => f[1] as string);
    assert.ok(ports.includes('0100007F:55F0'), `syncthing listens on 127.0.0.1:22000: ${ports.join(' ')}`);
    assert.ok(!ports.some((p) => p.endsWith(':55F0') && !p.startsWith('0100007F')), `nothing else listens on 22000: ${ports.join(' ')}`);

    // devx-webhook, run with a loopback --register-url and no --host, listens on that address alone.
    const sockets = listeningSockets(devx.process.pid);
    assert.ok(sockets.length > 0 && sockets.every((x) => x.address === '127.0.0.1'), `devx-webhook listens on ${JSON.stringify(sockets)}`);

    await k.ok(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: NS });
    const after = await originalsRunning('app=reviews', 3);
    assert.deepEqual(after[0].spec.containers[0].image, original.image);
    assert.deepEqual(after[0].spec.containers[0].readinessProbe, original.readinessProbe);
    assert.deepEqual(after[0].spec.containers[0].livenessProbe, original.livenessProbe);
  });

  test('kubectl devx sync through the real port-forward: 1,000 files arrive; edits both ways; the dev user owns what it may change', async () => {
    await k.apply(reviews('sync', 1), NS);
    await originalsRunning('app=sync', 1);
    await k.ok(['label', 'deploy', 'sync', 'dev.x/enabled=true'], { namespace: NS });
    const pod = await devPodRunning('app=sync');
    const name = pod.metadata.name as string;
    const local = path.join(tmp, 'sync');
    for (let d = 0; d < 10; d++) {
      fs.mkdirSync(path.join(local, `dir${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) fs.writeFileSync(path.join(local, `dir${d}`, `f${f}.txt`), `file ${d}/${f}\n${'x'.repeat((d * 100 + f) % 500)}\n`);
    }
    fs.writeFileSync(path.join(local, 'run.sh'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
    const agent: AgentProcess = startAgent(['sync', 'deploy/sync', local, '-n', NS, '-o', 'json'], agentEnv(path.join(tmp, 'config-sync')));
    try {
      const started = performance.now();
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 180_000);
      console.log(`# first full sync of 1,001 files through the port-forward: ${((performance.now() - started) / 1000).toFixed(1)} s`);
      const count = await exec(name, 'reviews', `find ${WORKDIR} -type f ! -path '*/.st*' | wc -l`);
      assert.equal(Number(count.trim()), 1001);
      const sums = await exec(name, 'reviews', `cd ${WORKDIR} && sha256sum dir3/f7.txt dir9/f99.txt`);
      assert.match(sums, /dir3\/f7\.txt/);
      assert.equal(await podFile(name, 'dir9/f99.txt'), fs.readFileSync(path.join(local, 'dir9/f99.txt'), 'utf8'));
      assert.equal((await exec(name, 'reviews', `${WORKDIR}/run.sh`)).trim(), 'ran', 'the executable bit arrived');

      // Local edits, deletes and renames.
      fs.writeFileSync(path.join(local, 'dir0', 'f0.txt'), 'edited\n');
      fs.rmSync(path.join(local, 'dir0', 'f1.txt'));
      fs.renameSync(path.join(local, 'dir0', 'f2.txt'), path.join(local, 'dir0', 'renamed.txt'));
      await arrivesInPod(name, 'dir0/f0.txt', 'edited\n');
      await eventually('the delete in the pod', async () => (await podFile(name, 'dir0/f1.txt')) === undefined, 30_000);
      await arrivesInPod(name, 'dir0/renamed.txt', fs.readFileSync(path.join(local, 'dir0', 'renamed.txt'), 'utf8'));

      // The dev container's user (root here) edits, creates and deletes synced files; the changes come back, and a
      // local edit of a file it made goes back in.
      await exec(name, 'reviews', `cd ${WORKDIR} && echo 'from the pod' > dir1/f0.txt && echo new > in-pod.txt && rm dir1/f1.txt`);
      await arrivesLocally(path.join(local, 'dir1', 'f0.txt'), 'from the pod\n');
      await arrivesLocally(path.join(local, 'in-pod.txt'), 'new\n');
      await eventually('the pod-side delete locally', async () => !fs.existsSync(path.join(local, 'dir1', 'f1.txt')), 30_000);
      fs.writeFileSync(path.join(local, 'in-pod.txt'), 'edited locally\n');
      await arrivesInPod(name, 'in-pod.txt', 'edited locally\n');

      // Save → visible in the dev container, through the real port-forward.
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        fs.writeFileSync(path.join(local, `save-${i}.txt`), `save ${i}\n`);
        await arrivesInPod(name, `save-${i}.txt`, `save ${i}\n`);
        latencies.push(performance.now() - t0);
      }
      console.log(`# save → visible in the dev container (kubectl exec polling included): ${latencies.map((l) => (l / 1000).toFixed(2)).join(' ')} s`);

      // The sidecar's container is killed on the node: the kubelet restarts it, the agent's tunnel comes back, sync resumes.
      const sidecarId = String(pod.status.containerStatuses.find((s: any) => s.name === 'devx-sync').containerID).replace(/^containerd:\/\//, '');
      const killed = await c.node.ctr(['tasks', 'kill', '--signal', 'SIGKILL', sidecarId]);
      assert.equal(killed.code, 0, killed.stderr);
      const t0 = performance.now();
      await eventually(
        'the sidecar restarted',
        async () => {
          const p = await getJson(c, ['pod', name], NS);
          const st = p.status.containerStatuses.find((s: any) => s.name === 'devx-sync');
          return st.restartCount >= 1 && st.ready;
        },
        60_000,
      );
      const restarted = performance.now() - t0;
      fs.writeFileSync(path.join(local, 'after-kill.txt'), 'after the sidecar was killed\n');
      await arrivesInPod(name, 'after-kill.txt', 'after the sidecar was killed\n', 120_000);
      const total = performance.now() - t0;
      console.log(`# sidecar killed → running and ready again ${(restarted / 1000).toFixed(1)} s → a new file in the dev container ${(total / 1000).toFixed(1)} s`);
    } finally {
      await agent.interrupt();
    }
  });

  test('a non-root dev user (runAsUser 2000): the sidecar runs as that user, and the user reads, writes, creates and deletes synced files both ways', async () => {
    await k.apply(reviews('nonroot', 1, { securityContext: { runAsUser: 2000, runAsGroup: 2000 } }), NS);
    await originalsRunning('app=nonroot', 1);
    await k.ok(['label', 'deploy', 'nonroot', 'dev.x/enabled=true'], { namespace: NS });
    const pod = await devPodRunning('app=nonroot');
    const name = pod.metadata.name as string;
    assert.equal((await exec(name, 'reviews', 'id -u')).trim(), '2000');
    assert.equal((await exec(name, 'devx-sync', 'id -u')).trim(), '2000', 'the sidecar runs as the dev user');
    const local = path.join(tmp, 'nonroot');
    fs.mkdirSync(path.join(local, 'src'), { recursive: true });
    fs.writeFileSync(path.join(local, 'src', 'main.txt'), 'v1\n');
    fs.writeFileSync(path.join(local, 'src', 'gone.txt'), 'delete me\n');
    const agent = startAgent(['sync', 'deploy/nonroot', local, '-n', NS, '-o', 'json'], agentEnv(path.join(tmp, 'config-nonroot')));
    try {
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
      const owners = await exec(name, 'reviews', `stat -c '%u:%g %n' ${WORKDIR}/src ${WORKDIR}/src/main.txt`);
      assert.match(owners, /^2000:2000 .*src\n2000:2000 .*main\.txt\n$/, owners);
      // The dev user edits a synced file, deletes one, makes a directory and a file in it.
      await exec(name, 'reviews', `cd ${WORKDIR} && echo 'v2 from the pod' > src/main.txt && rm src/gone.txt && mkdir -p made && echo made > made/it.txt`);
      await arrivesLocally(path.join(local, 'src', 'main.txt'), 'v2 from the pod\n');
      await arrivesLocally(path.join(local, 'made', 'it.txt'), 'made\n');
      await eventually('the pod-side delete locally', async () => !fs.existsSync(path.join(local, 'src', 'gone.txt')), 30_000);
      // Local changes land in what the dev user made.
      fs.writeFileSync(path.join(local, 'made', 'it.txt'), 'edited locally\n');
      fs.writeFileSync(path.join(local, 'made', 'new.txt'), 'new locally\n');
      await arrivesInPod(name, 'made/it.txt', 'edited locally\n');
      await arrivesInPod(name, 'made/new.txt', 'new locally\n');
      await exec(name, 'reviews', `cd ${WORKDIR} && echo appended >> made/new.txt && rm made/it.txt`);
      await arrivesLocally(path.join(local, 'made', 'new.txt'), 'new locally\nappended\n');
    } finally {
      await agent.interrupt();
    }
  });

  test('StatefulSet, DaemonSet, Job, CronJob and a bare Pod each get a running dev container', async () => {
    const template = (app: string, restartPolicy?: string): Record<string, unknown> => ({
      metadata: { labels: { app } },
      spec: {
        terminationGracePeriodSeconds: 2,
        ...(restartPolicy ? { restartPolicy } : {}),
        containers: [{ name: 'reviews', image: c.node.images.reviews, readinessProbe: { httpGet: { path: '/health', port: 9080 }, periodSeconds: 1 } }],
      },
    });
    const objects = [
      { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { replicas: 2, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db') } },
      { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') } },
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'batch' }, spec: { template: template('batch', 'Never') } },
      { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: template('nightly', 'Never') } } } },
    ];
    for (const o of objects) await k.apply(o, NS);
    for (const [kind, n] of [['statefulset', 'db'], ['daemonset', 'agent'], ['job', 'batch'], ['cronjob', 'nightly']] as const) {
      await k.ok(['label', kind, n, 'dev.x/enabled=true'], { namespace: NS });
    }
    const solo = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', labels: { app: 'solo', 'dev.x/enabled': 'true' } }, spec: template('solo').spec };
    await k.apply(solo, NS);
    for (const app of ['db', 'agent', 'batch', 'nightly', 'solo']) {
      const pod = await eventually(
        `a running dev container for ${app}`,
        async () => (await k.pods(`app=${app}`, NS)).find((p) => p.metadata.annotations?.['dev.x/status'] && running(p)),
        90_000,
      );
      const dev = pod.spec.containers.find((x: any) => x.name === 'reviews');
      assert.equal(dev.image, c.node.images.dev, app);
      assert.equal((await exec(pod.metadata.name, 'reviews', 'pwd')).trim(), WORKDIR, app);
    }
  });

  test("an image-default non-root user: the agent says the synced files are read-only for it and prints the patch; after it, the sidecar runs as that user and sync works both ways", async () => {
    await k.apply(reviews('imgdefault', 1, { annotations: { 'dev.x/image': c.node.images.devNonroot } }), NS);
    await originalsRunning('app=imgdefault', 1);
    await k.ok(['label', 'deploy', 'imgdefault', 'dev.x/enabled=true'], { namespace: NS });
    const first = await devPodRunning('app=imgdefault');
    assert.equal((await exec(first.metadata.name, 'reviews', 'id -u')).trim(), '2000', "the image's own user");
    const local = path.join(tmp, 'imgdefault');
    fs.mkdirSync(local, { recursive: true });
    fs.writeFileSync(path.join(local, 'a.txt'), 'v1\n');
    const agent = startAgent(['sync', 'deploy/imgdefault', local, '-n', NS, '-o', 'json'], agentEnv(path.join(tmp, 'config-imgdefault')));
    try {
      const advice = await agent.waitForEvent('the ownership advice', (e) => e.event === 'note' && /runs as uid 2000 \(its image's user\)/.test(e.message), 60_000);
      const patch = /kubectl patch deployment\/imgdefault -n bookinfo -p '(.*)'$/.exec(advice.message)?.[1];
      assert.ok(patch, advice.message);
      // As advised: the user fixes the dev container's user in the workload.
      await k.ok(['patch', 'deployment/imgdefault', '-n', NS, '-p', patch]);
      const pod = await eventually(
        'the dev pod with the sidecar as uid 2000',
        async () => (await k.pods('app=imgdefault', NS)).find((p) => p.metadata.name !== first.metadata.name && running(p) && p.metadata.annotations?.['dev.x/status']),
        90_000,
      );
      const name = pod.metadata.name as string;
      assert.equal((await exec(name, 'devx-sync', 'id -u')).trim(), '2000');
      await arrivesInPod(name, 'a.txt', 'v1\n', 90_000);
      await exec(name, 'reviews', `cd ${WORKDIR} && echo 'v2 from uid 2000' > a.txt && mkdir d && echo x > d/b.txt`);
      await arrivesLocally(path.join(local, 'a.txt'), 'v2 from uid 2000\n');
      await arrivesLocally(path.join(local, 'd', 'b.txt'), 'x\n');
      fs.writeFileSync(path.join(local, 'd', 'b.txt'), 'edited locally\n');
      await arrivesInPod(name, 'd/b.txt', 'edited locally\n');
    } finally {
      await agent.interrupt();
    }
  });

  test('contained: pod addresses route to the pods\' bridge, the rest of their range and the Service range are blackholed, pods have no way out, forwarding is as it was', async () => {
    await k.apply(reviews('contain', 1), NS);
    const [pod] = await originalsRunning('app=contain', 1);
    const ip = String(pod.status.podIP);
    const route = (to: string): string => {
      try {
        return execFileSync('ip', ['route', 'get', to], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        return String((err as { stderr?: string }).stderr ?? err);
      }
    };
    assert.match(route(ip), /dev devx-cni0/, `the pod ${ip} is reached on the pods' bridge`);
    for (const unused of ['10.213.200.7', '10.213.1.250', '10.0.0.1']) assert.doesNotMatch(route(unused), /dev eth|via /, `${unused}: ${route(unused)}`);
    // The kubelet's probes reached the pod here: it is Ready through its readiness probe.
    assert.ok(running(pod));
    // From the pod: the node IP answers (the apiserver does not listen there, but the route exists); anything else has no route.
    const gateway = /default via (\S+)/.exec(execFileSync('ip', ['route', 'show', 'default'], { encoding: 'utf8' }))?.[1] ?? '192.0.2.1';
    const out = await c.kubectl(['exec', '-n', NS, pod.metadata.name, '--', 'sh', '-c', `ip route; wget -T 2 -q -O- http://${gateway}/ 2>&1; echo rc=$?`]);
    assert.match(out.stdout, /10\.213\.0\.0\/16 via 10\.213\.1\.1/, out.stdout);
    assert.doesNotMatch(out.stdout, /^default/m, out.stdout);
    assert.match(out.stdout, /unreachable|rc=1/i, out.stdout);
    assert.equal(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8'), IP_FORWARD_BEFORE, 'the host\'s IP forwarding is unchanged');
    assert.equal(fs.readFileSync('/proc/sys/net/ipv4/conf/devx-cni0/forwarding', 'utf8').trim(), '0');
  });
});
