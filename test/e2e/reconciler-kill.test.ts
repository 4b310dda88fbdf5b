// The reconciler survives SIGKILL: devx-webhook is killed before it acts on a label, halfway through entering dev
// mode (a bare pod already deleted, its replacement not yet created) and halfway through leaving it, and at random
// moments in a loop; started again, it converges with nothing left behind. Two replicas elect one leader through a
// Lease; killing the leader hands the reconciler to the other within seconds. The real control plane throughout.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, eventually, getJson, installCrd, startDevx, type DevxServer } from './harness/devx.ts';
import { FAST_RECONCILER_ENV, isInjected, kube, type Kube } from './harness/reconciler.ts';

let cp: ControlPlane;
let k: Kube;
const NS = 'kill';
const running: DevxServer[] = [];

/** A slow reconciler: a pause before every change it makes, so a kill lands between two known steps. */
const SLOW = { DEVX_RECONCILE_STEP_DELAY: '1500ms' };

async function start(opts: { env?: Record<string, string>; args?: string[]; name?: string; register?: boolean } = {}): Promise<DevxServer> {
  const d = await startDevx(cp, { env: { ...FAST_RECONCILER_ENV, ...(opts.env ?? {}) }, args: opts.args ?? [], name: opts.name ?? 'devx', register: opts.register ?? true, timeoutMs: 60_000 });
  running.push(d);
  return d;
}

async function kill9(d: DevxServer): Promise<void> {
  process.kill(d.process.pid, 'SIGKILL');
  const exit = await d.process.exited;
  assert.equal(exit.signal, 'SIGKILL');
}

/** When (epoch ms, the server's own log) the server began listening and became leader, if it did. */
function milestones(d: DevxServer): { listening?: number; leading?: number } {
  const at = (msg: string): number | undefined => d.logs().find((l) => l.msg === msg)?.time as number | undefined;
  return { listening: at('devx-webhook listening'), leading: at('became leader') ?? at('reconciler running without leader election') };
}

/** `restart -> converged` split into process start, Lease takeover and the reconciler's own work. */
function breakdown(d: DevxServer, startedAt: number, convergedAt: number): string {
  const m = milestones(d);
  const part = (from: number | undefined, to: number | undefined): string => (from && to ? `${Math.max(0, to - from)} ms` : '?');
  // Without leader election the reconciler starts before the server listens; the webhook (needed to create dev pods)
  // is there from "listening" on.
  const working = Math.max(m.listening ?? 0, m.leading ?? 0) || undefined;
  return `${convergedAt - startedAt} ms = start ${part(startedAt, m.listening)} + until leader ${part(m.listening, m.leading)} + reconcile ${part(working, convergedAt)}`;
}

const leads = (d: DevxServer): boolean => d.logs().some((l) => l.msg === 'became leader' || l.msg === 'reconciler running without leader election');

/** The object through the API (faster than kubectl for tight polling), or undefined. */
async function get(path: string): Promise<any> {
  const r = await cp.request('GET', path);
  if (r.status === 404) return undefined;
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body);
}

const podPath = (name: string): string => `/api/v1/namespaces/${NS}/pods/${name}`;
const secretPath = (name: string): string => `/api/v1/namespaces/${NS}/secrets/${name}`;
const jobPath = (name: string): string => `/apis/batch/v1/namespaces/${NS}/jobs/${name}`;

/** Nothing of devx left in the namespace: no sync Secrets, no copies, no pods of copies. */
async function nothingLeft(): Promise<boolean> {
  const secrets = await getJson(cp, ['secrets', '-l', 'app.kubernetes.io/managed-by=devx'], NS);
  const copies = await getJson(cp, ['jobs,deployments', '-l', 'dev.x/copy'], NS);
  return secrets.items.length === 0 && copies.items.length === 0;
}

before(async () => {
  cp = await startControlPlane();
  k = kube(cp);
  await installCrd(cp);
  await applyPolicy(cp);
  await cp.createNamespace('devx-system');
  await cp.createNamespace(NS, { 'dev.x/policy': 'default' });
});

after(async () => {
  for (const d of running) await d.stop();
  await cp?.stop();
});

describe('SIGKILL and leader election', () => {
  test('killed right after the label, before the reconciler acts: the restarted server creates copy and Secret', async (t) => {
    await k.apply({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'early' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'e', image: 'example.com/e:1' }] } } } }, NS);
    const slow = await start({ env: SLOW });
    await eventually('leader', async () => leads(slow), 30_000);
    await k.ok(['label', 'job', 'early', 'dev.x/enabled=true'], { namespace: NS });
    await kill9(slow);
    assert.equal(await get(jobPath('early-devx')), undefined, 'killed before it acted');
    assert.equal(await get(secretPath('devx-sync-job-early')), undefined, 'killed before it acted');
    const restartedAt = Date.now();
    const fresh = await start();
    await eventually('copy and Secret', async () => (await get(jobPath('early-devx'))) && (await get(secretPath('devx-sync-job-early'))), 30_000);
    t.diagnostic(`restart -> converged (entering): ${breakdown(fresh, restartedAt, Date.now())} (the dead holder's Lease is waited out)`);
    // Leaving, killed halfway: after the copy is deleted, before the Secret is.
    await fresh.stop();
    const slow2 = await start({ env: SLOW });
    await eventually('leader', async () => leads(slow2), 30_000);
    await k.ok(['label', 'job', 'early', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the copy deleted', async () => (await get(jobPath('early-devx'))) === undefined, 30_000);
    await kill9(slow2);
    assert.ok(await get(secretPath('devx-sync-job-early')), 'killed halfway: the Secret is still there');
    const again = Date.now();
    const third = await start();
    await eventually('the Secret gone', async () => (await get(secretPath('devx-sync-job-early'))) === undefined, 30_000);
    t.diagnostic(`restart -> converged (leaving): ${breakdown(third, again, Date.now())}`);
    await eventually('nothing left', nothingLeft);
  });

  test('bare pod: killed after the old pod was deleted and before the new one exists, entering and leaving; it converges', async (t) => {
    await running.at(-1)?.stop();
    await k.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', labels: { app: 'solo' } }, spec: { containers: [{ name: 'app', image: 'example.com/solo:1' }] } }, NS);
    const original = await get(podPath('solo'));
    const slow = await start({ env: SLOW });
    await eventually('leader', async () => leads(slow), 30_000);
    await k.ok(['label', 'pod', 'solo', 'dev.x/enabled=true'], { namespace: NS });
    // The pod is gone and only the record on the Secret knows what comes next.
    await eventually('the old pod deleted', async () => (await get(podPath('solo'))) === undefined, 30_000);
    await kill9(slow);
    const record = (await get(secretPath('devx-sync-pod-solo'))).metadata.annotations['dev.x/pending-pod'];
    assert.ok(record, 'the pending-pod record is on the Secret');
    assert.equal(await get(podPath('solo')), undefined, 'no pod at all at the moment of the kill');
    const restartedAt = Date.now();
    const fresh = await start();
    const dev = await eventually('the pod back, in dev mode', async () => {
      const p = await get(podPath('solo'));
      return p && isInjected(p) ? p : undefined;
    }, 30_000);
    t.diagnostic(`restart -> dev pod: ${breakdown(fresh, restartedAt, Date.now())}`);
    await eventually('the record spent and the Secret owned by the new pod', async () => {
      const s = await get(secretPath('devx-sync-pod-solo'));
      return !s.metadata.annotations['dev.x/pending-pod'] && s.metadata.ownerReferences?.[0]?.uid === dev.metadata.uid;
    });

    await fresh.stop();
    const slow2 = await start({ env: SLOW });
    await eventually('leader', async () => leads(slow2), 30_000);
    await k.ok(['label', 'pod', 'solo', 'dev.x/enabled-'], { namespace: NS });
    await eventually('the dev pod deleted', async () => (await get(podPath('solo'))) === undefined, 30_000);
    await kill9(slow2);
    const again = Date.now();
    const last = await start();
    const back = await eventually('the original pod back', async () => {
      const p = await get(podPath('solo'));
      return p && !isInjected(p) ? p : undefined;
    }, 30_000);
    t.diagnostic(`restart -> original pod: ${breakdown(last, again, Date.now())}`);
    assert.deepEqual(back.spec, original.spec);
    assert.deepEqual(back.metadata.labels, original.metadata.labels);
    await eventually('nothing left', nothingLeft, 30_000);
  });

  test('killed at random moments while five kinds enter and leave dev mode: converges, and ends exactly as it started', async (t) => {
    await running.at(-1)?.stop();
    const workloads: Array<{ kind: string; name: string; obj: unknown }> = [
      { kind: 'deploy', name: 'r-web', obj: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'r-web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'r-web' } }, template: { metadata: { labels: { app: 'r-web' } }, spec: { containers: [{ name: 'w', image: 'example.com/w:1' }] } } } } },
      { kind: 'job', name: 'r-job', obj: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'r-job' }, spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'j', image: 'example.com/j:1' }] } } } } },
      { kind: 'cronjob', name: 'r-cron', obj: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'r-cron' }, spec: { schedule: '0 4 * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'example.com/c:1' }] } } } } } } },
      { kind: 'ds', name: 'r-ds', obj: { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'r-ds' }, spec: { selector: { matchLabels: { app: 'r-ds' } }, template: { metadata: { labels: { app: 'r-ds' } }, spec: { containers: [{ name: 'd', image: 'example.com/d:1' }] } } } } },
      { kind: 'pod', name: 'r-pod', obj: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'r-pod', labels: { app: 'r-pod' } }, spec: { containers: [{ name: 'p', image: 'example.com/p:1' }] } } },
    ];
    const before = new Map<string, any>();
    for (const w of workloads) {
      await k.apply(w.obj, NS);
      before.set(w.name, (await getJson(cp, [w.kind, w.name], NS)).spec);
    }
    // A seeded sequence, so a failure can be replayed (DEVX_KILL_SEED).
    let seed = Number(process.env.DEVX_KILL_SEED ?? Date.now() % 100_000);
    t.diagnostic(`seed ${seed}`);
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const labelled = new Set<string>();
    const kills: number[] = [];
    for (let round = 0; round < 6; round++) {
      const d = await start({ args: ['--no-leader-election'], env: { DEVX_RECONCILE_STEP_DELAY: '150ms' } });
      // Flip two workloads each round; label changes need the webhook, which this process serves.
      for (const w of [workloads[Math.floor(random() * workloads.length)]!, workloads[Math.floor(random() * workloads.length)]!]) {
        const on = labelled.has(w.name);
        const r = await cp.kubectl(['label', w.kind, w.name, on ? 'dev.x/enabled-' : 'dev.x/enabled=true'], { namespace: NS });
        if (r.code === 0) {
          if (on) labelled.delete(w.name);
          else labelled.add(w.name);
        }
      }
      const wait = Math.floor(random() * 2500);
      kills.push(wait);
      await new Promise((r) => setTimeout(r, wait));
      await kill9(d);
    }
    t.diagnostic(`killed ${kills.length} times, ${kills.join(', ')} ms after the label changes; in dev mode at the end: ${[...labelled].join(', ') || 'none'}`);
    const restartedAt = Date.now();
    const final = await start({ args: ['--no-leader-election'] });
    // Converged: every labelled workload complete (Secret, copy, injected pod), every other one without leftovers.
    await eventually('converged', async () => {
      for (const w of workloads) {
        const kindName = { deploy: 'deployment', job: 'job', cronjob: 'cronjob', ds: 'daemonset', pod: 'pod' }[w.kind]!;
        const secret = await get(secretPath(`devx-sync-${kindName}-${w.name}`));
        if (Boolean(secret) !== labelled.has(w.name)) return false;
        if (secret?.metadata.annotations['dev.x/pending-pod']) return false;
        const copyKind = { job: 'jobs', cronjob: 'jobs', ds: 'deployments' }[w.kind as 'job'];
        if (copyKind) {
          const copy = await get(`/apis/${copyKind === 'jobs' ? 'batch' : 'apps'}/v1/namespaces/${NS}/${copyKind}/${w.name}-devx`);
          if (Boolean(copy && !copy.metadata.deletionTimestamp) !== labelled.has(w.name)) return false;
        }
        if (w.kind === 'pod') {
          const pod = await get(podPath(w.name));
          if (!pod || isInjected(pod) !== labelled.has(w.name)) return false;
        }
      }
      return true;
    }, 60_000);
    t.diagnostic(`restart -> converged after ${kills.length} kills: ${breakdown(final, restartedAt, Date.now())}`);
    // Then everything leaves dev mode and is exactly as it was.
    for (const name of labelled) {
      const w = workloads.find((x) => x.name === name)!;
      await k.ok(['label', w.kind, w.name, 'dev.x/enabled-'], { namespace: NS });
    }
    await eventually('nothing left', nothingLeft, 30_000);
    await eventually('the pod restored', async () => {
      const p = await get(podPath('r-pod'));
      return p && !isInjected(p) && !p.metadata.labels['dev.x/enabled'];
    }, 30_000);
    for (const w of workloads) assert.deepEqual((await getJson(cp, [w.kind, w.name], NS)).spec, before.get(w.name), `${w.kind}/${w.name} exactly as before`);
  });

  test('two replicas: one leads; SIGKILL of the leader hands the reconciler to the other within seconds; a clean stop hands it over at once', async (t) => {
    await running.at(-1)?.stop();
    const a = await start({ name: 'replica-a', args: ['--identity', 'replica-a'] });
    await eventually('replica-a leads', async () => leads(a), 30_000);
    const b = await start({ name: 'replica-b', args: ['--identity', 'replica-b'] });
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(!leads(b), 'one leader at a time');
    assert.equal((await getJson(cp, ['lease', 'devx-reconciler'], 'devx-system')).spec.holderIdentity, 'replica-a');

    const killedAt = performance.now();
    await kill9(a);
    await eventually('replica-b leads', async () => leads(b), 30_000);
    const takeoverMs = performance.now() - killedAt;
    t.diagnostic(`takeover after SIGKILL of the leader: ${takeoverMs.toFixed(0)} ms (lease duration 2 s, retry 250 ms)`);
    assert.ok(takeoverMs < 5000, `takeover within seconds (${takeoverMs.toFixed(0)} ms)`);
    const lease = await getJson(cp, ['lease', 'devx-reconciler'], 'devx-system');
    assert.equal(lease.spec.holderIdentity, 'replica-b');
    assert.ok(lease.spec.leaseTransitions >= 1);
    // The new leader does the work (replica-b also serves the webhook: it registered last).
    await k.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'after' }, spec: { replicas: 1, selector: { matchLabels: { app: 'after' } }, template: { metadata: { labels: { app: 'after' } }, spec: { containers: [{ name: 'a', image: 'example.com/a:1' }] } } } }, NS);
    await k.ok(['label', 'deploy', 'after', 'dev.x/enabled=true'], { namespace: NS });
    await eventually('the Secret, made by replica-b', async () => get(secretPath('devx-sync-deployment-after')), 15_000);
    const events = await getJson(cp, ['events', '--field-selector', 'involvedObject.name=after,reason=SyncSecretCreated'], NS);
    assert.equal(events.items[0]?.reportingInstance, 'replica-b');

    // A clean stop releases the Lease: a third replica takes over without waiting the lease out.
    const c = await start({ name: 'replica-c', args: ['--identity', 'replica-c'] });
    const stoppedAt = performance.now();
    await b.stop();
    await eventually('replica-c leads', async () => leads(c), 30_000);
    const handoverMs = performance.now() - stoppedAt;
    t.diagnostic(`handover after a clean stop (SIGTERM) of the leader: ${handoverMs.toFixed(0)} ms (stop included)`);
    // Released on the way out — unless b had already lost the Lease (a renewal missed on a loaded machine), which its
    // log then says, and c took over by expiry.
    const lostBefore = b.logs().some((l) => l.msg === 'stopped leading' && l.why !== 'shutting down');
    assert.ok(lostBefore || b.logs().some((l) => l.msg === 'lease released'), 'the leader released the Lease on a clean stop');
    await k.ok(['label', 'deploy', 'after', 'dev.x/enabled-'], { namespace: NS });
    await eventually('nothing left', nothingLeft, 15_000);
  });
});
