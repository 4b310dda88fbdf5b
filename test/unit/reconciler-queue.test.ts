// The reconciler's work queue and settings: one worker per key at a time, repeated adds collapse, failures retry
// with backoff, handlers may ask to look again later; settings come from the environment and fail loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWorkQueue } from '../../src/reconciler/queue.ts';
import { reconcilerSettings, replicaIdentity } from '../../src/reconciler/settings.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('a key added many times while queued is handled once, with all hints; never by two workers at once', async () => {
  const q = createWorkQueue({ workers: 4 });
  const calls: Array<{ key: string; hints: string[] }> = [];
  let active = 0;
  let maxActiveForA = 0;
  q.start(async (key, hints) => {
    if (key === 'a') maxActiveForA = Math.max(maxActiveForA, ++active);
    calls.push({ key, hints: [...hints].sort() });
    await sleep(30);
    if (key === 'a') active--;
    return undefined;
  });
  q.add('a', { hint: 'x' });
  q.add('a', { hint: 'y' }); // queued while a runs: handled once more afterwards
  q.add('a', { hint: 'z' });
  q.add('b');
  await sleep(150);
  assert.equal(maxActiveForA, 1);
  assert.deepEqual(calls.filter((c) => c.key === 'a').map((c) => c.hints), [['x'], ['y', 'z']]);
  assert.equal(calls.filter((c) => c.key === 'b').length, 1);
  await q.stop();
});

test('failures retry with growing delays; success resets; afterMs brings a key back; stop forgets everything', async () => {
  const errors: number[] = [];
  const q = createWorkQueue({ baseRetryMs: 20, maxRetryMs: 80, onError: (_k, _e, retryInMs) => errors.push(retryInMs) });
  let n = 0;
  const times: number[] = [];
  const started = Date.now();
  q.start(async (key) => {
    if (key === 'flaky') {
      n++;
      if (n <= 4) throw new Error('boom');
      return undefined;
    }
    times.push(Date.now() - started);
    return times.length < 2 ? { afterMs: 60 } : undefined;
  });
  q.add('flaky');
  q.add('later');
  await sleep(400);
  assert.deepEqual(errors, [20, 40, 80, 80]);
  assert.equal(n, 5);
  assert.equal(times.length, 2);
  assert.ok(times[1]! - times[0]! >= 55, `came back after afterMs: ${times.join(', ')}`);
  q.add('later', { afterMs: 10_000 });
  assert.equal(q.size(), 1);
  await q.stop();
  assert.equal(q.size(), 0);
  q.add('after-stop');
  assert.equal(q.size(), 0, 'a stopped queue takes nothing');
});

test('settings: durations from the environment, defaults otherwise, every bad value named', () => {
  const d = reconcilerSettings({});
  assert.deepEqual(d, { lease: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 }, resyncMs: 60_000, stepDelayMs: 0 });
  const fast = reconcilerSettings({ DEVX_LEASE_DURATION: '2s', DEVX_LEASE_RENEW_DEADLINE: '1500ms', DEVX_LEASE_RETRY_PERIOD: '250ms', DEVX_RESYNC_PERIOD: '3s', DEVX_RECONCILE_STEP_DELAY: '1s' });
  assert.deepEqual(fast, { lease: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 }, resyncMs: 3000, stepDelayMs: 1000 });
  assert.throws(() => reconcilerSettings({ DEVX_LEASE_DURATION: 'soon', DEVX_RESYNC_PERIOD: '1ms' }), (err: Error) => {
    assert.match(err.message, /DEVX_LEASE_DURATION="soon" is not a duration/);
    assert.match(err.message, /DEVX_RESYNC_PERIOD must be at least 100ms/);
    return true;
  });
  assert.throws(() => reconcilerSettings({ DEVX_LEASE_DURATION: '2s' }), /renew deadline must be shorter than the lease duration/);
  assert.equal(replicaIdentity('flag', { POD_NAME: 'pod' }), 'flag');
  assert.equal(replicaIdentity(undefined, { POD_NAME: 'devx-7c9-abcde' }), 'devx-7c9-abcde');
  assert.equal(replicaIdentity(undefined, {}, 'host', 42), 'host-42');
});
