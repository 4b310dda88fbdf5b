// The informer (devx's list/relist/restart loop around client-node's Watch, with client-node's KubeConfig) against a
// small fake API server on loopback (plain HTTP): list, then watch from the list's
// resourceVersion; events into the cache; bookmarks move the resourceVersion; 410 Gone (as an ERROR event or as
// the watch's status) lists again and turns what vanished into deletes; a dropped connection or an error restarts
// with backoff; a watch the server ends is re-opened from where it left off; stop() leaves nothing running.
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { resilientInformer, type ChangeType, type ResilientInformer } from '../../src/k8s/resilient-informer.ts';
import { recordingLogger } from '../recording-logger.ts';
import { pollCondition } from '../../src/wait.ts';

interface Obj {
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  data?: string;
}

const PATH = '/api/v1/namespaces';

/** A kubeconfig for the plain-HTTP fake (client-node allows http:// only with skipTLSVerify). */
function connection(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser({ name: 'fake', server, skipTLSVerify: true }, { name: 'nobody' });
  return kc;
}

/** The fake: one collection, a history of events, and knobs to misbehave. */
async function fakeApi() {
  let rv = 100;
  let oldest = 0;
  let failLists = 0;
  let goneAs: 'event' | 'status' = 'event';
  const objects = new Map<string, Obj>();
  const history: Array<{ rv: number; line: string }> = [];
  const watches = new Set<http.ServerResponse>();
  const requests: Array<{ watch: boolean; query: URLSearchParams }> = [];
  const status = (res: http.ServerResponse, code: number, reason: string): void => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message: `${reason} (fake)` }));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const watch = ['1', 'true'].includes(url.searchParams.get('watch') ?? '');
    requests.push({ watch, query: url.searchParams });
    if (url.pathname !== PATH) return status(res, 404, 'NotFound');
    if (!watch) {
      if (failLists > 0) {
        failLists--;
        return status(res, 500, 'InternalError');
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(rv) }, items: [...objects.values()] }));
      return;
    }
    const from = Number(url.searchParams.get('resourceVersion') ?? '0');
    if (from < oldest && goneAs === 'status') return status(res, 410, 'Expired');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    if (from < oldest) {
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } }) + '\n');
      return;
    }
    for (const h of history) if (h.rv > from) res.write(h.line);
    watches.add(res);
    res.on('close', () => watches.delete(res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const broadcast = (line: string): void => {
    for (const w of watches) w.write(line);
  };
  const record = (type: string, obj: Obj, silently: boolean): void => {
    if (silently) return;
    const line = JSON.stringify({ type, object: obj }) + '\n';
    history.push({ rv, line });
    broadcast(line);
  };
  return {
    conn: connection(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    requests,
    watches,
    put(name: string, data: string, o: { silently?: boolean } = {}): void {
      rv++;
      const type = objects.has(name) ? 'MODIFIED' : 'ADDED';
      const obj: Obj = { kind: 'Namespace', metadata: { name, resourceVersion: String(rv), labels: { team: 'a' } }, data };
      objects.set(name, obj);
      record(type, obj, o.silently ?? false);
    },
    del(name: string, o: { silently?: boolean } = {}): void {
      const obj = objects.get(name);
      if (!obj) return;
      rv++;
      objects.delete(name);
      record('DELETED', { ...obj, metadata: { ...obj.metadata, resourceVersion: String(rv) } }, o.silently ?? false);
    },
    bookmark(): void {
      rv++;
      broadcast(JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Namespace', metadata: { resourceVersion: String(rv) } } }) + '\n');
    },
    errorEvent(code: number, reason = 'InternalError'): void {
      broadcast(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code, reason, message: 'boom' } }) + '\n');
    },
    /** Every resourceVersion seen so far becomes too old to watch from. */
    compact(as: 'event' | 'status'): void {
      oldest = rv + 1;
      goneAs = as;
      history.length = 0;
    },
    rv: () => rv,
    failLists: (n: number) => (failLists = n),
    endWatches: () => [...watches].forEach((w) => w.end()),
    dropWatches: () => [...watches].forEach((w) => w.socket?.destroy()),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

type Fake = Awaited<ReturnType<typeof fakeApi>>;

const { logger, logs } = recordingLogger();

let fake: Fake | undefined;
let informer: ResilientInformer<Obj> | undefined;

afterEach(async () => {
  await informer?.stop();
  await fake?.close();
  informer = undefined;
  fake = undefined;
  logs.length = 0;
});

async function eventually(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  if (!(await pollCondition(check, { timeoutMs, intervalMs: 10 }))) throw new Error(`timed out waiting for ${what}`);
}

function start(f: Fake, opts: { labelSelector?: string } = {}): { events: Array<[ChangeType, string, string | undefined]>; informer: ResilientInformer<Obj> } {
  const events: Array<[ChangeType, string, string | undefined]> = [];
  informer = resilientInformer<Obj>({
    kubeConfig: f.conn,
    kind: 'Namespace',
    path: PATH,
    logger,
    onEvent: (type, obj) => events.push([type, obj.metadata.name, obj.data]),
    backoff: { initialMs: 20, maxMs: 200 },
    ...opts,
  });
  return { events, informer };
}

const names = (i: ResilientInformer<Obj>): string[] => i.cache().list().map((o) => o.metadata.name).sort();

test('lists, then watches from the list: adds, updates and deletes reach the cache and the callback', async () => {
  fake = await fakeApi();
  fake.put('a', '1');
  fake.put('b', '1');
  const { events, informer: inf } = start(fake, { labelSelector: 'team=a' });
  assert.equal(inf.synced(), false);
  await inf.start();
  assert.equal(inf.synced(), true, 'synced once start() has listed and opened the watch');
  assert.deepEqual(names(inf), ['a', 'b']);
  assert.deepEqual(events, [['add', 'a', '1'], ['add', 'b', '1']]);

  const [list, watch] = fake.requests;
  assert.equal(list?.watch, false);
  assert.equal(list?.query.get('labelSelector'), 'team=a');
  assert.equal(watch?.watch, true);
  assert.equal(watch?.query.get('labelSelector'), 'team=a');
  assert.equal(watch?.query.get('allowWatchBookmarks'), 'true');
  assert.equal(watch?.query.get('resourceVersion'), '102', 'the watch starts where the list ended');

  events.length = 0;
  fake.put('c', '1');
  fake.put('a', '2');
  fake.del('b');
  await eventually('three events', () => events.length === 3);
  assert.deepEqual(events, [['add', 'c', '1'], ['update', 'a', '2'], ['delete', 'b', '1']]);
  assert.deepEqual(names(inf), ['a', 'c']);
  assert.equal(inf.cache().get('a')?.data, '2');
  assert.equal(inf.cache().get('b'), undefined);
  assert.deepEqual(inf.cache().list('some-namespace'), []);
});

test('a watch the server ends is re-opened from the last resourceVersion, bookmarks included, without a list', async () => {
  fake = await fakeApi();
  fake.put('a', '1');
  const { events, informer: inf } = start(fake);
  await inf.start();
  fake.put('b', '1');
  await eventually('b seen', () => inf.cache().get('b') !== undefined);
  fake.bookmark();
  const bookmarkRv = String(fake.rv());
  await new Promise((r) => setTimeout(r, 50));
  const before = fake.requests.length;
  fake.endWatches();
  await eventually('a new watch', () => fake!.watches.size === 1 && fake!.requests.length > before);
  const next = fake.requests.slice(before);
  assert.deepEqual(next.map((r) => r.watch), [true], 'no list, just a new watch');
  assert.equal(next[0]?.query.get('resourceVersion'), bookmarkRv, 'the bookmark moved the resourceVersion');
  fake.put('c', '1');
  await eventually('c seen', () => inf.cache().get('c') !== undefined);
  assert.deepEqual(events.map((e) => e[1]), ['a', 'b', 'c']);
  assert.ok(!logs.some((l) => l.level === 'warn'), 'a clean end is not an error');
});

for (const as of ['event', 'status'] as const) {
  test(`410 Gone (${as === 'event' ? 'an ERROR event' : 'the watch status'}) lists again: what vanished becomes a delete, unchanged objects stay quiet`, async () => {
    fake = await fakeApi();
    fake.put('stays', '1');
    fake.put('goes', '1');
    fake.put('changes', '1');
    const { events, informer: inf } = start(fake);
    await inf.start();
    events.length = 0;
    // Changes the informer never hears about, then the server forgets the history.
    fake.del('goes', { silently: true });
    fake.put('changes', '2', { silently: true });
    fake.put('new', '1', { silently: true });
    fake.compact(as);
    // 'event': on the open watch; 'status': the watch re-opened after a clean end is refused with 410.
    if (as === 'event') fake.errorEvent(410, 'Expired');
    else fake.endWatches();
    await eventually('relisted', () => events.length === 3);
    assert.deepEqual(
      [...events].sort((x, y) => x[1].localeCompare(y[1])),
      [['update', 'changes', '2'], ['delete', 'goes', '1'], ['add', 'new', '1']],
    );
    assert.deepEqual(names(inf), ['changes', 'new', 'stays']);
    assert.ok(!logs.some((l) => l.level === 'warn'), '410 is routine, not a warning');
    fake.put('later', '1');
    await eventually('watching again after the relist', () => inf.cache().get('later') !== undefined);
  });
}

test('an ERROR event on an open watch that is not 410 restarts with a relist', async () => {
  fake = await fakeApi();
  fake.put('a', '1');
  const { informer: inf } = start(fake);
  await inf.start();
  const lists = (): number => fake!.requests.filter((r) => !r.watch).length;
  fake.put('b', '1', { silently: true });
  fake.errorEvent(500);
  await eventually('relisted', () => lists() === 2 && inf.cache().get('b') !== undefined);
  assert.ok(logs.some((l) => l.level === 'warn' && (l.obj as { code?: number }).code === 500));
});

test('a dropped connection restarts with backoff; changes made meanwhile arrive, and synced() stays true', async () => {
  fake = await fakeApi();
  fake.put('a', '1');
  const { events, informer: inf } = start(fake);
  await inf.start();
  events.length = 0;
  fake.failLists(2);
  fake.dropWatches();
  fake.del('a', { silently: true });
  fake.put('b', '1', { silently: true });
  await eventually('restarted', () => inf.cache().get('b') !== undefined && inf.cache().get('a') === undefined);
  assert.equal(inf.synced(), true);
  assert.deepEqual(events, [['delete', 'a', '1'], ['add', 'b', '1']]);
  const restarts = logs.filter((l) => l.msg === 'informer stopped by an error; restarting').map((l) => (l.obj as { retryInMs: number }).retryInMs);
  assert.deepEqual(restarts, [20, 40, 80], 'the connection error, then two failed lists: the delay doubles');
  await eventually('watching logged', () => logs.some((l) => l.msg === 'informer watching' && (l.obj as { afterFailures: number }).afterFailures === 3));
  fake.put('c', '1');
  await eventually('watching again', () => inf.cache().get('c') !== undefined);
});

test('not synced until a list succeeds; a 404 is logged with the hint', async () => {
  fake = await fakeApi();
  const events: string[] = [];
  informer = resilientInformer<Obj>({
    kubeConfig: fake.conn,
    kind: 'DevPolicy',
    path: '/apis/dev.x/v1alpha1/devpolicies',
    logger,
    onEvent: (type) => events.push(type),
    backoff: { initialMs: 20, maxMs: 40 },
    notFoundHint: 'install the CRD',
  });
  await informer.start();
  assert.equal(informer.synced(), false);
  await eventually('a few retries', () => fake!.requests.length >= 3);
  assert.equal(informer.synced(), false);
  const warn = logs.find((l) => l.level === 'warn');
  assert.deepEqual({ code: (warn?.obj as { code?: number }).code, hint: (warn?.obj as { hint?: string }).hint }, { code: 404, hint: 'install the CRD' });
});

test('stop() leaves nothing running: no open watch, no retry later', async () => {
  fake = await fakeApi();
  fake.put('a', '1');
  const { informer: inf } = start(fake);
  await inf.start();
  assert.equal(fake.watches.size, 1);
  await inf.stop();
  await eventually('watch closed', () => fake!.watches.size === 0);

  // Stopped while a restart is pending: the timer is cleared.
  await inf.start();
  fake.failLists(1000);
  fake.dropWatches();
  await eventually('failing', () => logs.some((l) => l.level === 'warn'));
  await inf.stop();
  const after = fake.requests.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(fake.requests.length, after, 'no request after stop()');
  assert.equal(fake.watches.size, 0);
});

test('a handler that throws is logged and does not stop the informer', async () => {
  fake = await fakeApi();
  const seen: string[] = [];
  informer = resilientInformer<Obj>({
    kubeConfig: fake.conn,
    kind: 'Namespace',
    path: PATH,
    logger,
    onEvent: (_type, obj) => {
      seen.push(obj.metadata.name);
      if (obj.metadata.name === 'bad') throw new Error('handler bug');
    },
    backoff: { initialMs: 20, maxMs: 40 },
  });
  await informer.start();
  fake.put('bad', '1');
  fake.put('good', '1');
  await eventually('both', () => seen.length === 2);
  assert.ok(logs.some((l) => l.level === 'error' && l.msg === 'informer event handler failed'));
  assert.equal(fake.requests.filter((r) => !r.watch).length, 1, 'no restart');
});
