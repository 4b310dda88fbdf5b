// Reads the sidecar's folder errors while a session runs: a second loopback tunnel, whose connections the session
// carries to the pod's syncthing GUI port (127.0.0.1:8384 in the pod, guarded by the Secret's API key) with the same
// port-forward as the sync tunnel, and a read of /rest/folder/errors every few seconds. The errors go into the
// session's view as PodFolderErrors events; what they mean (stuck? out of reach?) is decided in pod-side.ts. Ends with
// the session's signal.
import { setTimeout as sleep } from 'node:timers/promises';
import { FOLDER_ID } from '../sync/constants.ts';
import { afterRead, describePodError, FIRST_REACH, NOT_STUCK, parseFolderErrors, watchStuck, type PodError, type ReadOutcome, type Reach, type StuckWatch } from './pod-side.ts';
import type { SyncthingEvent, SyncView } from './progress.ts';
import { syncthingApi, type SyncthingApi } from './syncthing-api.ts';
import { openTunnel, type Connect, type TunnelEvent } from './tunnel.ts';

export interface PodSideWatchOptions {
  /** Carries a connection to the dev pod's GUI port (rejects while there is no pod to carry it to). */
  connect: Connect;
  /** The sidecar's uid in the current dev pod, for the hint on permission errors. */
  sidecarUid: () => number | undefined;
  /** The sidecar's API key (the sync Secret's `api-key`). */
  apiKey: string;
  /** Feeds the session's view, and reads it back (completion for the stuck warning). */
  apply: (e: SyncthingEvent) => void;
  view: () => SyncView;
  note: (message: string) => void;
  signal: AbortSignal;
}

const podErrorsEvent = (errors: PodError[]): SyncthingEvent => ({ id: 0, type: 'PodFolderErrors', data: { folder: FOLDER_ID, errors } });

/** The last thing the tunnel reported going wrong: a better reason than fetch's own "fetch failed". */
function problemTracker(): { onEvent: (e: TunnelEvent) => void; take: () => string | undefined } {
  let problem: string | undefined;
  return {
    onEvent: (e) => {
      if (e.type === 'refused') problem = (e.error as Error).message;
      if (e.type === 'closed' && e.error) problem = e.error;
    },
    take: () => {
      const p = problem;
      problem = undefined;
      return p;
    },
  };
}

async function readOnce(api: SyncthingApi, opts: PodSideWatchOptions, uid: number | undefined): Promise<ReadOutcome> {
  try {
    const errors = parseFolderErrors(await api.folderErrors(FOLDER_ID, AbortSignal.any([opts.signal, AbortSignal.timeout(10_000)])));
    if (errors === undefined) return { ok: false, error: 'an answer that is not a list of folder errors' };
    opts.apply(podErrorsEvent(errors.map((e) => describePodError(e, uid))));
    return { ok: true };
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    return { ok: false, error: cause ?? (err as Error).message };
  }
}

export async function watchPodSide(opts: PodSideWatchOptions): Promise<void> {
  const problems = problemTracker();
  const tunnel = await openTunnel({ connect: opts.connect, onEvent: problems.onEvent });
  const api = syncthingApi(`127.0.0.1:${tunnel.port}`, opts.apiKey);
  let reach: Reach = FIRST_REACH;
  let stuck: StuckWatch = NOT_STUCK;
  try {
    while (!opts.signal.aborted) {
      const outcome = await readOnce(api, opts, opts.sidecarUid());
      const tunnelProblem = problems.take();
      const step = afterRead(reach, outcome.ok || tunnelProblem === undefined ? outcome : { ok: false, error: tunnelProblem });
      reach = step.reach;
      if (step.note) opts.note(step.note);
      if (step.forget && opts.view().podErrors.length > 0) opts.apply(podErrorsEvent([]));
      const next = watchStuck(stuck, opts.view(), Date.now());
      stuck = next.watch;
      if (next.note && !opts.signal.aborted) opts.note(next.note);
      await sleep(step.nextPollMs, undefined, { signal: opts.signal }).catch(() => undefined);
    }
  } finally {
    await tunnel.close();
  }
}
