// Leader election: the pure decision (client-go's rules, the candidate's own clock), and the loop against an
// in-memory Lease with the API server's optimistic concurrency: one leader at a time, takeover after a crash,
// immediate handover after a clean stop, and a leader that cannot renew stops before anyone may take over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElector, type Elector, type LeaseStore } from '../../src/reconciler/leader-election.ts';
import { decideLease, leaseTimingProblems, microTime, nextRecord, releasedRecord, type LeaseRecord, type LeaseTimings } from '../../src/reconciler/lease-decision.ts';
import { silentLogger } from '../../src/k8s/logger.ts';
import { pollCondition } from '../../src/wait.ts';

const T: LeaseTimings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };

test('decideLease: create when missing, renew our own, take a free one, wait out another holder on our own clock', () => {
  const held: LeaseRecord = { holderIdentity: 'b', renewTime: 'r1', acquireTime: 'a1' };
  assert.deepEqual(decideLease({ current: undefined, observation: undefined, identity: 'a', nowMs: 0, timings: T }), { type: 'create' });
  assert.deepEqual(decideLease({ current: { ...held, holderIdentity: 'a' }, observation: undefined, identity: 'a', nowMs: 0, timings: T }), { type: 'renew' });
  assert.deepEqual(decideLease({ current: { ...held, holderIdentity: '' }, observation: undefined, identity: 'a', nowMs: 0, timings: T }), { type: 'acquire' });
  // First sight: the renewTime written by another clock is not trusted; wait a full duration from now.
  assert.deepEqual(decideLease({ current: held, observation: undefined, identity: 'a', nowMs: 1_000_000, timings: T }), { type: 'wait', holder: 'b' });
  const seen = { record: held, observedAtMs: 1000 };
  assert.equal(decideLease({ current: held, observation: seen, identity: 'a', nowMs: 15_999, timings: T }).type, 'wait');
  assert.equal(decideLease({ current: held, observation: seen, identity: 'a', nowMs: 16_000, timings: T }).type, 'acquire');
  // Any renewal resets the wait.
  assert.equal(decideLease({ current: { ...held, renewTime: 'r2' }, observation: seen, identity: 'a', nowMs: 16_000, timings: T }).type, 'wait');
});

test('records: whole seconds, transitions counted on takeover only, release frees it; timings checked as client-go does', () => {
  const now = new Date('2026-01-01T00:00:00.123Z');
  assert.equal(microTime(now), '2026-01-01T00:00:00.123000Z');
  const created = nextRecord({ action: 'create', current: undefined, identity: 'a', now, timings: { ...T, leaseDurationMs: 1500 } });
  assert.deepEqual(created, { holderIdentity: 'a', leaseDurationSeconds: 2, renewTime: microTime(now), acquireTime: microTime(now), leaseTransitions: 0 });
  const renewed = nextRecord({ action: 'renew', current: { ...created, resourceVersion: '5' }, identity: 'a', now: new Date(now.getTime() + 1000), timings: T });
  assert.equal(renewed.acquireTime, created.acquireTime);
  assert.equal(renewed.leaseTransitions, 0);
  assert.equal(renewed.resourceVersion, '5');
  const taken = nextRecord({ action: 'acquire', current: { ...created, holderIdentity: 'b', leaseTransitions: 3 }, identity: 'a', now, timings: T });
  assert.equal(taken.leaseTransitions, 4);
  assert.equal(releasedRecord(taken, now).holderIdentity, '');
  assert.deepEqual(leaseTimingProblems(T), []);
  assert.equal(leaseTimingProblems({ leaseDurationMs: 500, renewDeadlineMs: 400, retryPeriodMs: 100 }).length, 1);
  assert.equal(leaseTimingProblems({ leaseDurationMs: 2000, renewDeadlineMs: 2000, retryPeriodMs: 2000 }).length, 2);
});

/** One Lease shared by candidates, with resourceVersion conflicts like the API server's; a candidate can be cut off. */
function memoryLease(): { store(name: string): LeaseStore; cut(name: string): void; record(): LeaseRecord | undefined } {
  let stored: LeaseRecord | undefined;
  let rv = 0;
  const cutOff = new Set<string>();
  const check = (name: string): void => {
    if (cutOff.has(name)) throw new Error('connection refused');
  };
  return {
    store: (name) => ({
      describe: () => 'test/lease',
      get: async () => {
        check(name);
        return stored ? { ...stored } : undefined;
      },
      create: async (r) => {
        check(name);
        if (stored) throw Object.assign(new Error('exists'), { status: 409 });
        stored = { ...r, resourceVersion: String(++rv) };
        return { ...stored };
      },
      update: async (r) => {
        check(name);
        if (!stored || r.resourceVersion !== stored.resourceVersion) throw Object.assign(new Error('conflict'), { status: 409 });
        stored = { ...r, resourceVersion: String(++rv) };
        return { ...stored };
      },
    }),
    cut: (name) => cutOff.add(name),
    record: () => stored,
  };
}

const FAST: LeaseTimings = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function candidate(lease: ReturnType<typeof memoryLease>, name: string, log: string[]): Elector {
  return createElector({
    store: lease.store(name),
    identity: name,
    timings: FAST,
    logger: silentLogger,
    onStartedLeading: () => log.push(`${name}+`),
    onStoppedLeading: () => log.push(`${name}-`),
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  if (!(await pollCondition(check, { timeoutMs, intervalMs: 10 }))) throw new Error(`timed out: ${what}`);
  return Date.now() - started;
}

test('election loop: one leader; a crashed leader (no release) is replaced after the lease duration; a clean stop hands over at once', async () => {
  const lease = memoryLease();
  const log: string[] = [];
  const a = candidate(lease, 'a', log);
  const b = candidate(lease, 'b', log);
  a.start();
  await until('a leads', () => a.isLeader());
  b.start();
  await sleep(400);
  assert.ok(!b.isLeader(), 'never two leaders');
  // a "crashes": it can no longer reach the API server (and stops leading itself after the renew deadline).
  lease.cut('a');
  const takeover = await until('b leads', () => b.isLeader());
  assert.ok(!a.isLeader(), 'a stepped down');
  assert.ok(log.indexOf('a-') < log.indexOf('b+'), `a stops before b starts: ${log.join(' ')}`);
  assert.ok(takeover >= FAST.leaseDurationMs - 200 && takeover < FAST.leaseDurationMs + 1000, `takeover after about a lease duration: ${takeover} ms`);
  assert.equal(lease.record()?.holderIdentity, 'b');
  assert.equal(lease.record()?.leaseTransitions, 1);
  await a.stop();
  // A clean stop releases the Lease: a new candidate takes it at its next try, not after a duration.
  const c = candidate(lease, 'c', log);
  c.start();
  await sleep(300);
  assert.ok(!c.isLeader());
  await b.stop();
  assert.equal(lease.record()?.holderIdentity, '');
  const handover = await until('c leads', () => c.isLeader());
  assert.ok(handover < 500, `handover at the next try: ${handover} ms`);
  await c.stop();
});
