// The sync view folded from syncthing's events: when the first full sync counts as done (never on syncthing's "100 %"
// for a peer it has no index from yet), what the progress bar shows, and what push mode ignores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyEvent, initialView, phaseOf, progressOf, type SyncthingEvent, type SyncView } from '../../src/agent/progress.ts';

const PEER = 'PEERAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA';
const OTHER = 'OTHERAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA-AAAAAAA';

let id = 0;
const ev = (type: string, data: unknown, time?: string): SyncthingEvent => ({ id: ++id, type, data, ...(time ? { time } : {}) });
const fold = (events: SyncthingEvent[], view: SyncView = initialView(PEER, 'devx')): SyncView => events.reduce(applyEvent, view);

const scanned = [ev('StateChanged', { folder: 'devx', from: 'idle', to: 'scan-waiting' }), ev('StateChanged', { folder: 'devx', from: 'scan-waiting', to: 'scanning' }), ev('StateChanged', { folder: 'devx', from: 'scanning', to: 'idle' })];
const summary = (global: number, need = 0) => ev('FolderSummary', { folder: 'devx', summary: { globalTotalItems: global, globalBytes: global * 100, needTotalItems: need, needBytes: need * 100, state: 'idle' } });
const completion = (c: { completion: number; needItems: number; sequence: number; globalItems?: number; device?: string; folder?: string }) =>
  ev('FolderCompletion', { folder: c.folder ?? 'devx', device: c.device ?? PEER, completion: c.completion, globalItems: c.globalItems ?? 1000, globalBytes: (c.globalItems ?? 1000) * 100, needItems: c.needItems, needBytes: c.needItems * 100, needDeletes: 0, sequence: c.sequence });
const connected = ev('DeviceConnected', { id: PEER, addr: '127.0.0.1:1' });

test('before the first scan ends the phase is scanning, whatever else is reported', () => {
  const v = fold([connected, completion({ completion: 100, needItems: 0, sequence: 5 })]);
  assert.equal(phaseOf(v, 'two-way'), 'scanning');
  assert.equal(phaseOf(fold([ev('FolderScanProgress', { folder: 'devx', current: 10, total: 100 })], v), 'push'), 'scanning');
});

test('scanned but not connected: connecting', () => {
  assert.equal(phaseOf(fold([...scanned, summary(1000)]), 'two-way'), 'connecting');
});

test('syncthing says 100 % for a peer it has no index from (sequence 0): not in sync, and the bar shows 0 %', () => {
  const v = fold([...scanned, summary(1000), connected, completion({ completion: 100, needItems: 0, sequence: 0 })]);
  assert.equal(v.peerReported, false);
  assert.equal(phaseOf(v, 'push'), 'syncing');
  assert.deepEqual(progressOf(v, 'push'), { files: { done: 0, total: 1000 }, bytes: { done: 0, total: 100_000 }, percent: 0 });
});

test('the peer reports with a sequence: progress follows its need; 100 % with nothing needed is in sync', () => {
  const base = [...scanned, summary(1000), connected];
  const partway = fold([...base, completion({ completion: 62.2, needItems: 378, sequence: 622 })]);
  assert.equal(phaseOf(partway, 'push'), 'syncing');
  assert.deepEqual(progressOf(partway, 'push'), { files: { done: 622, total: 1000 }, bytes: { done: 62_200, total: 100_000 }, percent: 62.2 });
  const done = fold([completion({ completion: 100, needItems: 0, sequence: 1000 })], partway);
  assert.equal(phaseOf(done, 'push'), 'in-sync');
  assert.equal(progressOf(done, 'push').percent, 100);
});

test('an empty folder needs no index from the peer to be in sync', () => {
  const v = fold([...scanned, summary(0), connected, completion({ completion: 100, needItems: 0, sequence: 0, globalItems: 0 })]);
  assert.equal(phaseOf(v, 'two-way'), 'in-sync');
});

test('a local change makes the last completion stale until the peer reports again', () => {
  const synced = fold([...scanned, summary(1000), connected, completion({ completion: 100, needItems: 0, sequence: 1000 })]);
  assert.equal(phaseOf(synced, 'two-way'), 'in-sync');
  const changed = fold([ev('LocalIndexUpdated', { folder: 'devx', items: 1, filenames: ['src/a.ts'], sequence: 1001 }, '2026-01-01T12:00:00Z')], synced);
  assert.equal(phaseOf(changed, 'two-way'), 'syncing');
  assert.deepEqual(changed.lastChange, { path: 'src/a.ts', direction: 'out', deleted: false, time: '2026-01-01T12:00:00Z' });
  assert.equal(changed.sent, 1);
  assert.equal(progressOf(changed, 'two-way').files.done, 1000, 'a stale report still shows its numbers (no flicker to 0 %)');
  assert.equal(phaseOf(fold([completion({ completion: 100, needItems: 0, sequence: 1001 })], changed), 'two-way'), 'in-sync');
});

test('the end of a later scan also waits for a fresh report', () => {
  const synced = fold([...scanned, summary(1000), connected, completion({ completion: 100, needItems: 0, sequence: 1000 })]);
  const rescanned = fold(scanned, synced);
  assert.equal(phaseOf(rescanned, 'two-way'), 'syncing');
});

test('two-way waits for what the pod has and the local folder lacks; push ignores it', () => {
  const v = fold([...scanned, connected, completion({ completion: 100, needItems: 0, sequence: 1000 }), summary(1000, 3)]);
  assert.equal(phaseOf(v, 'two-way'), 'syncing');
  assert.equal(progressOf(v, 'two-way').files.done, 997);
  assert.equal(phaseOf(v, 'push'), 'in-sync');
  assert.equal(progressOf(v, 'push').files.done, 1000);
});

test('a file from the pod is recorded as the last change, a failed one is not', () => {
  const v = fold([ev('ItemFinished', { folder: 'devx', item: 'from-pod.txt', error: null, action: 'update' }, 't1'), ev('ItemFinished', { folder: 'devx', item: 'bad.txt', error: 'permission denied', action: 'update' }, 't2')]);
  assert.deepEqual(v.lastChange, { path: 'from-pod.txt', direction: 'in', deleted: false, time: 't1' });
  assert.equal(v.received, 1);
  const deleted = fold([ev('ItemFinished', { folder: 'devx', item: 'gone.txt', error: null, action: 'delete' }, 't3')], v);
  assert.equal(deleted.lastChange?.deleted, true);
});

test('a disconnect returns to connecting, and a repeated connect does not forget the last report', () => {
  const synced = fold([...scanned, summary(1000), connected, completion({ completion: 100, needItems: 0, sequence: 1000 })]);
  assert.equal(fold([connected], synced).peerReported, true, 'a polled "still connected" changes nothing');
  const gone = fold([ev('DeviceDisconnected', { id: PEER, error: 'EOF' })], synced);
  assert.equal(phaseOf(gone, 'two-way'), 'connecting');
  const back = fold([connected], gone);
  assert.equal(phaseOf(back, 'two-way'), 'syncing', 'after a reconnect the old numbers are not trusted');
});

test('folder errors show as the error phase', () => {
  const v = fold([...scanned, ev('FolderErrors', { folder: 'devx', errors: [{ path: 'a.txt', error: 'permission denied' }] })]);
  assert.equal(phaseOf(v, 'two-way'), 'error');
  assert.deepEqual(v.errors, ['a.txt: permission denied']);
  const cleared = fold([summary(1000)], v);
  assert.deepEqual(cleared.errors, [], 'a summary without errors clears them');
});

test('events about other devices, other folders, unknown types or with malformed data change nothing', () => {
  const v = fold([...scanned, summary(1000)]);
  for (const e of [
    completion({ completion: 50, needItems: 500, sequence: 10, device: OTHER }),
    completion({ completion: 50, needItems: 500, sequence: 10, folder: 'other' }),
    ev('DeviceConnected', { id: OTHER }),
    ev('StateChanged', { folder: 'other', from: 'idle', to: 'syncing' }),
    ev('DownloadProgress', { devx: {} }),
    ev('FolderCompletion', 'garbage'),
    ev('StateChanged', { folder: 'devx' }),
    ev('LocalIndexUpdated', null),
  ]) {
    assert.deepEqual(applyEvent(v, e), v, e.type);
  }
});

test('a file pulled from the pod stays `in`: the LocalIndexUpdated that follows its ItemFinished is not a local change', () => {
  const synced = fold([...scanned, summary(1000), connected, completion({ completion: 100, needItems: 0, sequence: 1000 })]);
  const pulled = fold(
    [
      ev('ItemFinished', { folder: 'devx', item: 'made/it.txt', error: null, action: 'update' }, 't1'),
      ev('LocalIndexUpdated', { folder: 'devx', items: 1, filenames: ['made/it.txt'], sequence: 1001 }, 't2'),
    ],
    synced,
  );
  assert.deepEqual(pulled.lastChange, { path: 'made/it.txt', direction: 'in', deleted: false, time: 't1' });
  assert.equal(pulled.sent, 0);
  assert.equal(pulled.received, 1);
  assert.deepEqual(pulled.pulled, [], 'the pulled path is forgotten once its index update came');
  assert.equal(phaseOf(pulled, 'two-way'), 'in-sync', 'the pod has what it sent: its last completion still holds');
  // The same path edited locally afterwards is a local change again.
  const edited = fold([ev('LocalIndexUpdated', { folder: 'devx', items: 1, filenames: ['made/it.txt'], sequence: 1002 }, 't3')], pulled);
  assert.deepEqual(edited.lastChange, { path: 'made/it.txt', direction: 'out', deleted: false, time: 't3' });
  assert.equal(edited.sent, 1);
  assert.equal(phaseOf(edited, 'two-way'), 'syncing');
});

test('a pulled delete stays `in` and deleted; a batch of pulled and local files counts and labels only the local ones', () => {
  const gone = fold([ev('ItemFinished', { folder: 'devx', item: 'gone.txt', error: null, action: 'delete' }, 't1'), ev('LocalIndexUpdated', { folder: 'devx', items: 1, filenames: ['gone.txt'] }, 't2')]);
  assert.deepEqual(gone.lastChange, { path: 'gone.txt', direction: 'in', deleted: true, time: 't1' });
  const mixed = fold([
    ev('ItemFinished', { folder: 'devx', item: 'a.txt', error: null, action: 'update' }, 't1'),
    ev('ItemFinished', { folder: 'devx', item: 'b.txt', error: null, action: 'update' }, 't2'),
    ev('LocalIndexUpdated', { folder: 'devx', items: 3, filenames: ['a.txt', 'mine.txt', 'b.txt'] }, 't3'),
  ]);
  assert.deepEqual(mixed.lastChange, { path: 'mine.txt', direction: 'out', deleted: false, time: 't3' });
  assert.equal(mixed.sent, 1);
  assert.equal(mixed.received, 2);
  assert.deepEqual(mixed.pulled, []);
});

test('a failed pull is not remembered as pulled; the remembered paths are bounded', () => {
  const failed = fold([
    ev('ItemFinished', { folder: 'devx', item: 'x.txt', error: 'permission denied', action: 'update' }, 't1'),
    ev('LocalIndexUpdated', { folder: 'devx', items: 1, filenames: ['x.txt'] }, 't2'),
  ]);
  assert.equal(failed.lastChange?.direction, 'out');
  let v = initialView(PEER, 'devx');
  for (let i = 0; i < 1500; i++) v = applyEvent(v, ev('ItemFinished', { folder: 'devx', item: `f${i}`, error: null, action: 'update' }));
  assert.equal(v.pulled.length, 1000);
  assert.equal(v.pulled[0], 'f500', 'the oldest are dropped');
});

test('the pod side’s errors are their own part of the view: they leave the local errors and the phase alone', () => {
  const synced = fold([...scanned, summary(1000), connected, completion({ completion: 100, needItems: 0, sequence: 1000 })]);
  const podError = { path: 'made/secret.txt', error: 'hashing: open /devx/workdir/made/secret.txt: permission denied', message: 'permission denied: made/secret.txt' };
  const v = fold([ev('PodFolderErrors', { folder: 'devx', errors: [podError] })], synced);
  assert.deepEqual(v.podErrors, [podError]);
  assert.deepEqual(v.errors, []);
  assert.equal(phaseOf(v, 'two-way'), 'in-sync');
  assert.deepEqual(fold([summary(1000)], v).podErrors, [podError], 'a local summary without errors does not clear them');
  assert.deepEqual(fold([ev('PodFolderErrors', { folder: 'devx', errors: [] })], v).podErrors, []);
  for (const bad of [{ folder: 'other', errors: [] }, { folder: 'devx', errors: [{ path: 1 }] }, null]) {
    assert.deepEqual(applyEvent(v, ev('PodFolderErrors', bad)), v);
  }
});
