// The pod side of a session, without a pod: the sidecar's /rest/folder/errors answers put into words, when its errors
// count as stuck (one warning, not one per look), when its API counts as out of reach (one note, then local errors
// only), and how the errors show in the status line and the JSON events, apart from the local ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  afterRead,
  describePodError,
  errorReason,
  FIRST_REACH,
  NOT_STUCK,
  parseFolderErrors,
  POLL_MS,
  sidecarUidOf,
  SLOW_POLL_MS,
  STUCK_AFTER_MS,
  watchStuck,
  type PodSideFacts,
  type Reach,
  type StuckWatch,
} from '../../src/agent/pod-side.ts';
import { applyEvent, initialView, type SyncView } from '../../src/agent/progress.ts';
import { ContainerSchema } from '../../src/agent/schemas.ts';
import { PLAIN, renderProgressLine, renderStatusLine } from '../../src/agent/render.ts';
import { jsonReporter, plainReporter } from '../../src/agent/reporter.ts';

const DENIED = 'hashing: open /devx/workdir/made/secret.txt: permission denied';

test('folder errors: syncthing’s answer parsed (null is none); anything else is not an answer', () => {
  assert.deepEqual(parseFolderErrors({ folder: 'devx', errors: [{ path: 'made/secret.txt', error: DENIED }], page: 1, perpage: 65536 }), [{ path: 'made/secret.txt', error: DENIED }]);
  assert.deepEqual(parseFolderErrors({ folder: 'devx', errors: null, page: 1, perpage: 65536 }), []);
  assert.deepEqual(parseFolderErrors({ folder: 'devx', errors: [] }), []);
  for (const bad of [null, 'garbage', {}, { errors: [{ path: 1 }] }, { errors: 'x' }]) assert.equal(parseFolderErrors(bad), undefined, JSON.stringify(bad));
});

test('an error in words: the errno text first, the path, and for a permission error who owns what', () => {
  assert.equal(errorReason(DENIED), 'permission denied');
  assert.equal(errorReason('syncing: no space left on device'), 'no space left on device');
  assert.equal(errorReason('file modified but not rescanned; will try again later'), 'file modified but not rescanned; will try again later');
  assert.deepEqual(describePodError({ path: 'made/secret.txt', error: DENIED }, 1000), {
    path: 'made/secret.txt',
    error: DENIED,
    message: "permission denied: made/secret.txt (the dev container's user owns it; the sidecar runs as uid 1000)",
  });
  assert.equal(describePodError({ path: 'made', error: 'creating directory: mkdir /devx/workdir/made/x: permission denied' }, undefined).message, "permission denied: made (the dev container's user owns it; the sidecar runs as another user)");
  assert.equal(describePodError({ path: 'a', error: 'opening temp file: no space left on device' }, 1000).message, 'no space left on device: a');
});

test('the sidecar’s uid comes from its securityContext as the pod schema keeps it, if the pod fixes it', () => {
  const sidecar = (securityContext?: unknown) => ContainerSchema.parse({ name: 'devx-sync', ...(securityContext === undefined ? {} : { securityContext }) });
  assert.equal(sidecarUidOf(sidecar({ runAsUser: 1000, runAsNonRoot: true, capabilities: { drop: ['ALL'] } })), 1000);
  assert.deepEqual(sidecar({ runAsUser: 1000, runAsNonRoot: true }).securityContext, { runAsUser: 1000 }, 'only the uid is kept');
  assert.equal(sidecarUidOf(sidecar({ runAsUser: '1000' })), undefined, 'a malformed securityContext is dropped, not fatal');
  assert.equal(sidecarUidOf(sidecar()), undefined);
  assert.equal(sidecarUidOf(undefined), undefined);
});

const podError = describePodError({ path: 'made/secret.txt', error: DENIED }, 1000);
const facts = (o: Partial<PodSideFacts> = {}): PodSideFacts => ({ podErrors: [podError], peerCompletion: 100, peerReported: true, ...o });

/** Looks at `steps` (ms, facts) in order; the notes they produce. */
function stuckNotes(steps: Array<[number, PodSideFacts]>): Array<string | undefined> {
  let w: StuckWatch = NOT_STUCK;
  return steps.map(([now, f]) => {
    const r = watchStuck(w, f, now);
    w = r.watch;
    return r.note;
  });
}

test('stuck: one warning once the pod side’s errors have lasted 10 s, none per look after; a word when they are over; warned again after a new stretch', () => {
  const none = facts({ podErrors: [] });
  const notes = stuckNotes([
    [0, none],
    [1000, facts()],
    [1000 + STUCK_AFTER_MS - 1, facts()],
    [1000 + STUCK_AFTER_MS, facts()],
    [20_000, facts()],
    [23_000, facts()],
    [26_000, none],
    [29_000, none],
    [30_000, facts()],
    [35_000, facts()],
    [40_000, facts()],
  ]);
  assert.deepEqual(
    notes.map((n) => (n === undefined ? '-' : n.startsWith('pod side stuck') ? 'warn' : n)),
    ['-', '-', '-', 'warn', '-', '-', 'pod side: the sync errors are resolved', '-', '-', '-', 'warn'],
  );
  const warning = notes[3] ?? '';
  assert.match(warning, /1 item does not sync there: permission denied: made\/secret\.txt \(the dev container's user owns it; the sidecar runs as uid 1000\)/);
  assert.match(warning, /chmod\/chown/);
  assert.equal(stuckNotes([[0, facts()], [5000, facts({ podErrors: [] })], [11_000, facts()]]).filter(Boolean).length, 0, 'errors that come and go are no stuck pod side');
});

test('stuck: the warning says how far behind the pod is when the local syncthing knows, and lists at most five errors', () => {
  const many = Array.from({ length: 7 }, (_, i) => describePodError({ path: `d/f${i}`, error: 'permission denied' }, 1000));
  const [, warn] = stuckNotes([
    [0, facts({ podErrors: many, peerCompletion: 97.25 })],
    [STUCK_AFTER_MS, facts({ podErrors: many, peerCompletion: 97.25 })],
  ]);
  assert.match(warn ?? '', /^pod side stuck: 7 items do not sync there \(the pod has 97\.3 % of the files\): permission denied: d\/f0 \(the dev container's user owns it; the sidecar runs as uid 1000\); permission denied: d\/f1; .*; permission denied: d\/f4; and 2 more\. /);
  const [, stale] = stuckNotes([
    [0, facts({ peerCompletion: 50, peerReported: false })],
    [STUCK_AFTER_MS, facts({ peerCompletion: 50, peerReported: false })],
  ]);
  assert.doesNotMatch(stale ?? '', /%/, 'a stale completion is not quoted');
});

/** Reads with these outcomes in order: the notes, forgets and next poll times. */
function reads(outcomes: boolean[]): Array<{ note?: string; forget: boolean; next: number }> {
  let r: Reach = FIRST_REACH;
  return outcomes.map((ok) => {
    const step = afterRead(r, ok ? { ok: true } : { ok: false, error: 'connection refused' });
    r = step.reach;
    return { ...(step.note ? { note: step.note } : {}), forget: step.forget, next: step.nextPollMs };
  });
}

test('reach: a sidecar API that never answers gets one note after three tries, then a slow retry; answering later is quiet', () => {
  const steps = reads([false, false, false, false, false, true, true]);
  assert.deepEqual(
    steps.map((s) => s.next),
    [POLL_MS, POLL_MS, SLOW_POLL_MS, SLOW_POLL_MS, SLOW_POLL_MS, POLL_MS, POLL_MS],
  );
  const notes = steps.flatMap((s) => (s.note ? [s.note] : []));
  assert.deepEqual(notes, ["cannot read the sync errors of the pod's syncthing (connection refused); showing local errors only"]);
});

test('reach: after answers, failures (a restarting sidecar, a new pod) are silent; after three in a row the old errors are dropped', () => {
  const steps = reads([true, false, false, false, false, true]);
  assert.equal(steps.filter((s) => s.note).length, 0);
  assert.deepEqual(
    steps.map((s) => s.forget),
    [false, false, false, true, true, false],
  );
  assert.ok(steps.every((s) => s.next === POLL_MS));
});

function viewWithPodError(): SyncView {
  const peer = 'P';
  const events = [
    { id: 1, type: 'StateChanged', data: { folder: 'devx', from: 'scanning', to: 'idle' } },
    { id: 2, type: 'FolderSummary', data: { folder: 'devx', summary: { globalTotalItems: 10, globalBytes: 1024, needTotalItems: 0, needBytes: 0, state: 'idle' } } },
    { id: 3, type: 'DeviceConnected', data: { id: peer } },
    { id: 4, type: 'FolderCompletion', data: { folder: 'devx', device: peer, completion: 50, globalItems: 10, globalBytes: 1024, needItems: 5, needBytes: 512, needDeletes: 0, sequence: 5 } },
    { id: 5, type: 'PodFolderErrors', data: { folder: 'devx', errors: [podError, describePodError({ path: 'made/other.txt', error: DENIED }, 1000)] } },
  ];
  return events.reduce(applyEvent, initialView(peer, 'devx'));
}

test('status and progress lines name the pod side’s error apart from the local state', () => {
  const v = viewWithPodError();
  const ctx = { pod: 'reviews-1', mode: 'two-way' as const, clock: (iso: string) => iso.slice(11, 19) };
  assert.equal(
    renderStatusLine(v, ctx, PLAIN),
    "● syncing · 10 files, 1.0 KiB · pod reviews-1 (two-way) · pod side: permission denied: made/secret.txt (the dev container's user owns it; the sidecar runs as uid 1000) (+1 more)",
  );
  assert.match(renderProgressLine(v, 'two-way', PLAIN), /^syncing .* 50\.0% .* · pod side: permission denied: made\/secret\.txt .*\(\+1 more\)$/);
});

test('JSON status events carry podErrors beside the local errors, and a change of them alone is a new event', () => {
  const out: string[] = [];
  const streams = { out: { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream, err: { write: () => true } as unknown as NodeJS.WritableStream };
  const json = jsonReporter(streams, () => new Date('2026-03-04T12:00:00Z'));
  const ctx = { pod: 'reviews-1', mode: 'two-way' as const, clock: (iso: string) => iso };
  const v = viewWithPodError();
  json.live(v, ctx);
  json.live(v, ctx);
  const cleared = applyEvent(v, { id: 6, type: 'PodFolderErrors', data: { folder: 'devx', errors: [] } });
  json.live(cleared, ctx);
  json.progress(v, 'two-way');
  const lines = out.map((l) => JSON.parse(l));
  assert.deepEqual(
    lines.map((l) => [l.event, l.podErrors.length]),
    [
      ['status', 2],
      ['status', 0],
      ['progress', 2],
    ],
  );
  assert.deepEqual(lines[0].errors, []);
  assert.deepEqual(lines[0].podErrors[0], { path: 'made/secret.txt', error: DENIED, message: podError.message });

  const err: string[] = [];
  const plain = plainReporter({ out: streams.out, err: { write: (s: string) => err.push(s) } as unknown as NodeJS.WritableStream }, PLAIN);
  plain.live(v, ctx);
  plain.live(v, ctx);
  plain.live(cleared, ctx);
  assert.equal(err.length, 2, 'plain output: one line per change of the pod side');
  assert.match(err[0] ?? '', /pod side: permission denied/);
});
