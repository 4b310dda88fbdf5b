// Which pod is a workload's dev pod, what the agent says while it waits for one, the rows and table of
// `kubectl devx status`, and the text the agent prints (progress, live status, JSON lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { belongsTo, pickDevPod, readyToSync, waitingFor } from '../../src/agent/dev-pod.ts';
import { applyEvent, initialView } from '../../src/agent/progress.ts';
import { fitToWidth, formatAge, formatBytes, PLAIN, COLOUR, progressBar, renderProgressLine, renderStatusLine, renderTable, chooseStyle } from '../../src/agent/render.ts';
import { jsonReporter, plainReporter } from '../../src/agent/reporter.ts';
import type { Pod, Workload } from '../../src/agent/schemas.ts';
import { effectiveTtl, renderStatusTable, statusRows } from '../../src/agent/status.ts';

const REF = { kind: 'Deployment' as const, name: 'reviews', namespace: 'bookinfo' };
const NOW = new Date('2026-03-04T12:00:00Z');

function pod(name: string, o: { workload?: string; created?: string; deleting?: boolean; phase?: string; sidecar?: 'running' | 'waiting'; restarts?: number; injected?: boolean; nodeName?: string } = {}): Pod {
  const anns: Record<string, string> = {};
  if (o.injected !== false) anns['dev.x/status'] = JSON.stringify({ target: 'reviews', image: 'registry.example.com/dev/java:21', version: '0.1.0' });
  if (o.workload !== undefined) anns['dev.x/workload'] = o.workload;
  const sidecarState = o.sidecar === 'running' ? { running: { startedAt: 'x' } } : o.sidecar === 'waiting' ? { waiting: { reason: 'ImagePullBackOff', message: 'pull failed' } } : undefined;
  return {
    metadata: { name, namespace: 'bookinfo', uid: `uid-${name}`, creationTimestamp: o.created ?? '2026-03-04T11:00:00Z', annotations: anns, ...(o.deleting ? { deletionTimestamp: '2026-03-04T11:59:00Z' } : {}) },
    spec: {
      containers: [
        { name: 'reviews', image: 'registry.example.com/dev/java:21', workingDir: '/home/devx', volumeMounts: [{ name: 'devx-workdir', mountPath: '/home/devx' }] },
        { name: 'devx-sync', image: 'syncthing/syncthing:1.27', command: ['sh', '-c'], args: ['script'] },
      ],
      ...(o.nodeName ? { nodeName: o.nodeName } : {}),
    },
    status: {
      phase: o.phase ?? 'Pending',
      ...(sidecarState ? { containerStatuses: [{ name: 'devx-sync', restartCount: o.restarts ?? 0, state: sidecarState }] } : {}),
    },
  };
}

test('the dev pod of a workload: injected, named by dev.x/workload, not terminating if possible, newest first', () => {
  const pods = [
    pod('reviews-old', { workload: 'deployment/reviews', created: '2026-03-04T10:00:00Z' }),
    pod('reviews-new', { workload: 'deployment/reviews', created: '2026-03-04T11:30:00Z', deleting: true }),
    pod('reviews-mid', { workload: 'deployment/reviews', created: '2026-03-04T11:00:00Z' }),
    pod('ratings-1', { workload: 'deployment/ratings', created: '2026-03-04T11:50:00Z' }),
    pod('reviews-plain', { workload: 'deployment/reviews', created: '2026-03-04T11:55:00Z', injected: false }),
  ];
  const chosen = pickDevPod(pods, REF);
  assert.equal(chosen?.name, 'reviews-mid');
  assert.equal(chosen?.target, 'reviews');
  assert.equal(chosen?.workdir, '/home/devx');
  assert.equal(chosen?.image, 'registry.example.com/dev/java:21');
  assert.equal(chosen?.sidecar?.name, 'devx-sync');
  assert.equal(pickDevPod([pods[1]!], REF)?.name, 'reviews-new', 'only a terminating one: that one');
  assert.equal(pickDevPod([], REF), undefined);
  assert.equal(belongsTo(pod('solo'), { kind: 'Pod', name: 'solo', namespace: 'x' }), true, 'a bare dev pod is its own workload');
  assert.equal(belongsTo(pod('solo'), REF), false);
});

test('ready to sync only when running with the sidecar running; otherwise one sentence says what is awaited', () => {
  const running = pickDevPod([pod('r', { workload: 'deployment/reviews', phase: 'Running', sidecar: 'running', restarts: 2 })], REF)!;
  assert.equal(readyToSync(running), true);
  assert.equal(running.sidecarRestarts, 2);
  const pulling = pickDevPod([pod('r', { workload: 'deployment/reviews', phase: 'Pending', sidecar: 'waiting', nodeName: 'n1' })], REF)!;
  assert.equal(readyToSync(pulling), false);
  assert.equal(waitingFor(pulling, REF), 'pod r to run (Pending: container devx-sync: ImagePullBackOff (pull failed))');
  assert.equal(waitingFor(pickDevPod([pod('r', { workload: 'deployment/reviews' })], REF), REF), 'pod r to run (Pending: not scheduled yet)');
  assert.equal(waitingFor(pickDevPod([pod('r', { workload: 'deployment/reviews', deleting: true })], REF), REF), 'pod r to finish terminating and its replacement to start');
  assert.match(waitingFor(undefined, REF), /^the dev pod of deployment\/reviews/);
  const sidecarDown = pickDevPod([pod('r', { workload: 'deployment/reviews', phase: 'Running', sidecar: 'waiting', nodeName: 'n1' })], REF)!;
  assert.equal(waitingFor(sidecarDown, REF), 'container devx-sync of pod r to run (container devx-sync: ImagePullBackOff (pull failed))');
});

function workload(kind: string, name: string, anns: Record<string, string>, extra: Partial<Workload['metadata']> = {}): { kind: any; object: Workload } {
  return { kind, object: { metadata: { name, namespace: extra.namespace ?? 'bookinfo', labels: { 'dev.x/enabled': 'true' }, annotations: anns, ...extra } } };
}

test('status rows: who, since, TTL (dev.x/ttl capped by the policy), pod, phase, image, local session; copies and owned pods left out', () => {
  const enabled = { 'dev.x/enabled-by': 'alice', 'dev.x/enabled-at': '2026-03-04T11:00:00Z' };
  const rows = statusRows({
    workloads: [
      workload('Deployment', 'reviews', { ...enabled, 'dev.x/ttl': '4h' }),
      workload('Deployment', 'ratings', { ...enabled, 'dev.x/ttl': '12h', 'dev.x/image': 'img:dev' }),
      workload('Deployment', 'job-copy-devx', { 'dev.x/copy-of': 'job/x' }),
      workload('Pod', 'owned', {}, { ownerReferences: [{ kind: 'ReplicaSet', name: 'rs' }] }),
      workload('StatefulSet', 'db', enabled, { namespace: 'data' }),
    ],
    pods: [pod('reviews-1', { workload: 'deployment/reviews', phase: 'Running' }), pod('other-ns', { workload: 'statefulset/db' })],
    maxDuration: (ns) => (ns === 'bookinfo' ? '8h' : undefined),
    session: (ns, w) => (w === 'deployment/reviews' ? 'two-way (pid 7)' : undefined),
    now: NOW,
  });
  assert.deepEqual(
    rows.map((r) => [r.namespace, r.workload]),
    [
      ['bookinfo', 'deployment/ratings'],
      ['bookinfo', 'deployment/reviews'],
      ['data', 'statefulset/db'],
    ],
  );
  const [ratings, reviews, db] = rows;
  assert.deepEqual(
    { by: reviews!.enabledBy, ttl: reviews!.ttl, left: reviews!.ttlLeftSeconds, expires: reviews!.expiresAt, pod: reviews!.pod, phase: reviews!.phase, image: reviews!.image, sync: reviews!.sync },
    { by: 'alice', ttl: '4h', left: 3 * 3600, expires: '2026-03-04T15:00:00.000Z', pod: 'reviews-1', phase: 'Running', image: 'registry.example.com/dev/java:21', sync: 'two-way (pid 7)' },
  );
  assert.equal(ratings!.ttl, '8h', 'dev.x/ttl 12h is capped by maxDuration 8h');
  assert.equal(ratings!.ttlLeftSeconds, 7 * 3600);
  assert.equal(ratings!.pod, undefined);
  assert.equal(ratings!.image, 'img:dev', 'no pod yet: the requested image');
  assert.equal(db!.pod, undefined, 'a pod in another namespace is not its pod');
  assert.equal(db!.ttl, undefined);
  const table = renderStatusTable(rows, { allNamespaces: true, now: NOW });
  assert.equal(
    table,
    [
      'NAMESPACE   WORKLOAD             BY      SINCE   TTL LEFT   POD         PHASE     IMAGE                              SYNC',
      'bookinfo    deployment/ratings   alice   1h      7h         -           -         img:dev                            -',
      'bookinfo    deployment/reviews   alice   1h      3h         reviews-1   Running   registry.example.com/dev/java:21   two-way (pid 7)',
      'data        statefulset/db       alice   1h      -          -           -         -                                  -',
      '',
    ].join('\n'),
  );
});

test('TTL: dev.x/ttl capped by maxDuration, maxDuration alone, or none; an expired one shows as expired', () => {
  assert.deepEqual(effectiveTtl('30m', '8h'), { ms: 1_800_000, text: '30m' });
  assert.deepEqual(effectiveTtl('9h', '8h'), { ms: 8 * 3_600_000, text: '8h' });
  assert.deepEqual(effectiveTtl(undefined, '2h'), { ms: 7_200_000, text: '2h' });
  assert.equal(effectiveTtl(undefined, undefined), undefined);
  assert.equal(effectiveTtl('bogus', undefined), undefined);
  const [row] = statusRows({ workloads: [workload('Deployment', 'x', { 'dev.x/enabled-at': '2026-03-04T10:00:00Z', 'dev.x/ttl': '1h' })], pods: [], maxDuration: () => undefined, session: () => undefined, now: NOW });
  assert.equal(row!.ttlLeftSeconds, 0);
  assert.match(renderStatusTable([row!], { allNamespaces: false, now: NOW }), /deployment\/x\s+-\s+2h\s+expired/);
});

test('sizes, ages, bars and line fitting', () => {
  assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024 * 1024, 3.5 * 1024 ** 3].map(formatBytes), ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '10 MiB', '3.5 GiB']);
  assert.deepEqual([5_000, 125_000, 3_600_000, 3_900_000, 90_000_000, 86_400_000].map(formatAge), ['5s', '2m', '1h', '1h5m', '1d1h', '1d']);
  assert.equal(progressBar(50, 10), '█████░░░░░');
  assert.equal(progressBar(150, 4), '████');
  assert.equal(fitToWidth('abcdef', 4), 'abcd');
  assert.equal(fitToWidth(COLOUR.green('abcdef'), 3), '\u001b[32mabc\u001b[0m');
  assert.equal(fitToWidth('abc', 10), 'abc');
  assert.equal(chooseStyle(true, { NO_COLOR: '1' }), PLAIN);
  assert.equal(chooseStyle(false, { FORCE_COLOR: '1' }), COLOUR);
  assert.equal(chooseStyle(false, {}), PLAIN);
});

test('progress line and live status line', () => {
  const peer = 'P';
  let v = initialView(peer, 'devx');
  assert.equal(renderProgressLine(v, 'two-way', PLAIN), 'scanning local files');
  const events = [
    { id: 1, type: 'StateChanged', data: { folder: 'devx', from: 'scanning', to: 'idle' } },
    { id: 2, type: 'FolderSummary', data: { folder: 'devx', summary: { globalTotalItems: 1000, globalBytes: 2 * 1024 * 1024, needTotalItems: 0, needBytes: 0, state: 'idle' } } },
    { id: 3, type: 'DeviceConnected', data: { id: peer } },
    { id: 4, type: 'FolderCompletion', data: { folder: 'devx', device: peer, completion: 25, globalItems: 1000, globalBytes: 2 * 1024 * 1024, needItems: 750, needBytes: 1.5 * 1024 * 1024, needDeletes: 0, sequence: 250 } },
  ];
  for (const e of events) v = applyEvent(v, e);
  assert.equal(renderProgressLine(v, 'two-way', PLAIN), 'syncing █████░░░░░░░░░░░░░░░ 25.0%  250/1,000 files  512 KiB/2.0 MiB');
  v = applyEvent(v, { id: 5, type: 'FolderCompletion', data: { folder: 'devx', device: peer, completion: 100, globalItems: 1000, globalBytes: 2 * 1024 * 1024, needItems: 0, needBytes: 0, needDeletes: 0, sequence: 1000 } });
  v = applyEvent(v, { id: 6, type: 'ItemFinished', time: '2026-03-04T12:01:02Z', data: { folder: 'devx', item: 'src/a.ts', error: null, action: 'update' } });
  const ctx = { pod: 'reviews-1', mode: 'two-way' as const, clock: (iso: string) => iso.slice(11, 19) };
  assert.equal(renderStatusLine(v, ctx, PLAIN), '● in sync · 1,000 files, 2.0 MiB · pod reviews-1 (two-way) · last: src/a.ts ← pod 12:01:02');
});

test('JSON lines: one object per event on stdout, waiting and status only when they change; plain lines on stderr, deduplicated', () => {
  const out: string[] = [];
  const err: string[] = [];
  const streams = { out: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream, err: { write: (s: string) => err.push(s) } as unknown as NodeJS.WritableStream };
  const json = jsonReporter(streams, () => NOW);
  json.waiting('pod x');
  json.waiting('pod x');
  json.step('done');
  json.stopped(4, 'left dev mode');
  const lines = out.map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { time: NOW.toISOString(), event: 'waiting', for: 'pod x' },
    { time: NOW.toISOString(), event: 'step', message: 'done' },
    { time: NOW.toISOString(), event: 'stopped', exitCode: 4, message: 'left dev mode' },
  ]);
  assert.deepEqual(err, ['kubectl devx: left dev mode\n'], 'a failure is also said on stderr');
  out.length = 0;
  err.length = 0;
  const plain = plainReporter(streams, PLAIN);
  plain.waiting('pod x');
  plain.waiting('pod x');
  plain.waiting('pod y');
  plain.stopped(0, undefined);
  assert.deepEqual(err, ['waiting for pod x\n', 'waiting for pod y\n', 'sync stopped\n']);
  assert.deepEqual(out, []);
  assert.equal(renderTable(['A', 'BB'], [['xyz', '1']]), 'A     BB\nxyz   1\n');
});

test('duplicate mode: one row per copy, by its user, with the copy’s own dev pod; none yet: one row for the workload', () => {
  const dup = { 'dev.x/mode': 'duplicate', 'dev.x/enabled-by': 'alice', 'dev.x/enabled-at': '2026-03-04T11:00:00Z' };
  const rows = statusRows({
    workloads: [workload('Deployment', 'reviews', { ...dup, 'dev.x/duplicates': '["alice","bob"]' }), workload('Deployment', 'idle', { ...dup, 'dev.x/duplicates': '[]' })],
    pods: [pod('reviews-devx-bob-1', { workload: 'deployment/reviews-devx-bob', phase: 'Running' }), pod('reviews-1', { workload: 'deployment/reviews', phase: 'Running' })],
    maxDuration: () => undefined,
    session: (ns, w, copy) => (copy === 'reviews-devx-bob' ? 'two-way (pid 9)' : undefined),
    now: NOW,
  });
  assert.deepEqual(
    rows.map((r) => [r.workload, r.copy, r.enabledBy, r.pod, r.sync]),
    [
      ['deployment/idle', undefined, 'alice', undefined, undefined],
      ['deployment/reviews', 'reviews-devx-alice', 'alice', undefined, undefined],
      ['deployment/reviews', 'reviews-devx-bob', 'bob', 'reviews-devx-bob-1', 'two-way (pid 9)'],
    ],
  );
  assert.match(renderStatusTable(rows, { allNamespaces: false, now: NOW }), /deployment\/reviews \(copy reviews-devx-bob\) +bob/);
});
