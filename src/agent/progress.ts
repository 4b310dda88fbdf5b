// The agent's view of a sync session, folded from the local syncthing's REST events (GET /rest/events) and the
// answers of /rest/db/completion, which the agent feeds in as the same FolderCompletion shape, plus one event of the
// agent's own: PodFolderErrors, the sidecar's folder errors read through a port-forward (pod-side.ts). Pure: an event
// in, a new view out; no clock (event times come with the events), no I/O. Unknown or malformed events change nothing.
import { z } from 'zod';
import type { SyncMode } from '../sync/config.ts';
import { PodErrorSchema, type PodError } from './pod-side.ts';

/** One event as /rest/events returns it. */
export interface SyncthingEvent {
  id: number;
  type: string;
  time?: string;
  data?: unknown;
}

export interface Counts {
  items: number;
  bytes: number;
}

export interface LastChange {
  path: string;
  /** `out`: a local change sent to the pod; `in`: a change from the pod written locally. */
  direction: 'out' | 'in';
  deleted: boolean;
  time: string | undefined;
}

export interface SyncView {
  /** The sidecar's device ID and the folder: events about other devices or folders are ignored. */
  peer: string;
  folder: string;
  connected: boolean;
  /** A completion for the peer arrived after the latest connect: until then its numbers may be stale. */
  peerReported: boolean;
  /** The peer has reported real numbers (an index) at least once since the latest connect, even if stale now. */
  peerKnown: boolean;
  /** Local folder state: idle, scanning, scan-waiting, sync-preparing, syncing, error, … */
  state: string;
  /** The first scan of the local folder has finished: before that, its totals mean nothing. */
  scanned: boolean;
  /** Bytes hashed so far in the running scan, of the total. */
  scan: { current: number; total: number } | undefined;
  /** All files the session covers (syncthing's global view). */
  global: Counts;
  /** What the local folder still has to fetch from the pod. */
  localNeed: Counts;
  /** What the pod still has to fetch, and its completion percentage (syncthing's own number). */
  peerNeed: Counts;
  peerCompletion: number;
  /** The local syncthing's folder errors, `path: error`. */
  errors: string[];
  /** The sidecar's folder errors (what the pod side cannot scan or write), as the agent last read them. */
  podErrors: PodError[];
  lastChange: LastChange | undefined;
  /**
   * Paths pulled from the pod (ItemFinished) whose LocalIndexUpdated has not come yet: syncthing announces a pulled
   * file with both, ItemFinished first, and only LocalIndexUpdated for a local edit. At most MAX_PULLED, oldest dropped.
   */
  pulled: string[];
  /** Items sent and received since the agent started. */
  sent: number;
  received: number;
}

export function initialView(peer: string, folder: string): SyncView {
  return {
    peer,
    folder,
    connected: false,
    peerReported: false,
    peerKnown: false,
    state: 'starting',
    scanned: false,
    scan: undefined,
    global: { items: 0, bytes: 0 },
    localNeed: { items: 0, bytes: 0 },
    peerNeed: { items: 0, bytes: 0 },
    peerCompletion: 0,
    errors: [],
    podErrors: [],
    lastChange: undefined,
    pulled: [],
    sent: 0,
    received: 0,
  };
}

const num = z.number().catch(0);
const DeviceEvent = z.object({ id: z.string() });
const StateChangedData = z.object({ folder: z.string(), from: z.string().optional(), to: z.string() });
const FolderSummaryData = z.object({
  folder: z.string(),
  summary: z.object({ globalTotalItems: num, globalBytes: num, needTotalItems: num, needBytes: num, errors: num, state: z.string().optional() }),
});
const FolderCompletionData = z.object({
  folder: z.string(),
  device: z.string(),
  completion: num,
  globalItems: num,
  globalBytes: num,
  needItems: num,
  needBytes: num,
  needDeletes: num,
  sequence: num,
});
const ScanProgressData = z.object({ folder: z.string(), current: num, total: num });
const FolderErrorsData = z.object({ folder: z.string(), errors: z.array(z.object({ path: z.string(), error: z.string() })).nullable().catch([]) });
const LocalIndexUpdatedData = z.object({ folder: z.string(), items: num, filenames: z.array(z.string()).nullable().catch([]) });
const ItemFinishedData = z.object({ folder: z.string(), item: z.string(), error: z.string().nullable().optional(), action: z.string().optional() });
const PodFolderErrorsData = z.object({ folder: z.string(), errors: z.array(PodErrorSchema) });

/** Pulled paths remembered for their LocalIndexUpdated; a bound, so a missed event cannot grow the list forever. */
const MAX_PULLED = 1000;

type Reducer = (view: SyncView, data: unknown, time: string | undefined) => SyncView;

function parsed<T>(schema: z.ZodType<T>, data: unknown, view: SyncView, apply: (d: T) => SyncView): SyncView {
  const r = schema.safeParse(data);
  if (!r.success) return view;
  const folder = (r.data as { folder?: string }).folder;
  if (folder !== undefined && folder !== view.folder) return view;
  return apply(r.data);
}

const REDUCERS: Record<string, Reducer> = {
  // A connect after a disconnect makes the peer's numbers stale until it reports again; a repeated one changes nothing.
  DeviceConnected: (v, d) => parsed(DeviceEvent, d, v, (e) => (e.id === v.peer && !v.connected ? { ...v, connected: true, peerReported: false, peerKnown: false } : v)),
  DeviceDisconnected: (v, d) => parsed(DeviceEvent, d, v, (e) => (e.id === v.peer ? { ...v, connected: false, peerReported: false, peerKnown: false } : v)),
  // The end of a scan may have changed the global state: the peer's numbers count again only once it reports anew.
  StateChanged: (v, d) =>
    parsed(StateChangedData, d, v, (e) => {
      const scanEnded = e.from === 'scanning';
      return { ...v, state: e.to, scanned: v.scanned || scanEnded, peerReported: v.peerReported && !scanEnded, scan: e.to === 'scanning' ? v.scan : undefined };
    }),
  FolderSummary: (v, d) =>
    parsed(FolderSummaryData, d, v, (e) => ({
      ...v,
      state: e.summary.state ?? v.state,
      global: { items: e.summary.globalTotalItems, bytes: e.summary.globalBytes },
      localNeed: { items: e.summary.needTotalItems, bytes: e.summary.needBytes },
      // FolderErrors reports failures; only the summary's count says when they are over.
      errors: e.summary.errors === 0 ? [] : v.errors,
    })),
  // Syncthing reports 100 % for a peer it has no index from yet (sequence 0): only an index (or nothing to have)
  // makes the number mean something.
  FolderCompletion: (v, d) =>
    parsed(FolderCompletionData, d, v, (e) =>
      e.device !== v.peer
        ? v
        : {
            ...v,
            peerReported: v.connected && (e.sequence > 0 || e.globalItems === 0),
            peerKnown: v.peerKnown || (v.connected && (e.sequence > 0 || e.globalItems === 0)),
            peerCompletion: e.completion,
            peerNeed: { items: e.needItems + e.needDeletes, bytes: e.needBytes },
            global: { items: e.globalItems, bytes: e.globalBytes },
          },
    ),
  FolderScanProgress: (v, d) => parsed(ScanProgressData, d, v, (e) => ({ ...v, scan: { current: e.current, total: e.total } })),
  FolderErrors: (v, d) => parsed(FolderErrorsData, d, v, (e) => ({ ...v, errors: (e.errors ?? []).map((x) => `${x.path}: ${x.error}`) })),
  // Also sent after a pull: the paths ItemFinished announced are changes from the pod, not local ones.
  LocalIndexUpdated: (v, d, time) => parsed(LocalIndexUpdatedData, d, v, (e) => localIndexUpdated(v, e, time)),
  ItemFinished: (v, d, time) =>
    parsed(ItemFinishedData, d, v, (e) =>
      e.error
        ? v
        : {
            ...v,
            received: v.received + 1,
            lastChange: { path: e.item, direction: 'in', deleted: e.action === 'delete', time },
            pulled: [...v.pulled.filter((p) => p !== e.item), e.item].slice(-MAX_PULLED),
          },
    ),
  PodFolderErrors: (v, d) => parsed(PodFolderErrorsData, d, v, (e) => ({ ...v, podErrors: e.errors })),
};

function localIndexUpdated(v: SyncView, e: z.infer<typeof LocalIndexUpdatedData>, time: string | undefined): SyncView {
  const names = e.filenames ?? [];
  const pulled = new Set(v.pulled);
  const local = names.filter((n) => !pulled.has(n));
  const named = new Set(names);
  const remaining = local.length === names.length ? v.pulled : v.pulled.filter((p) => !named.has(p));
  // Only pulled files: the pod has them already, so its last completion still holds.
  if (names.length > 0 && local.length === 0) return { ...v, pulled: remaining };
  const last = local.at(-1);
  // A local change is something the pod does not have yet, whatever the last completion said.
  const lastChange: LastChange | undefined = last === undefined ? v.lastChange : { path: last, direction: 'out', deleted: false, time };
  const sent = v.sent + Math.max(0, e.items - (names.length - local.length));
  return { ...v, sent, peerReported: false, lastChange, pulled: remaining };
}

/** The view after one event. */
export function applyEvent(view: SyncView, event: SyncthingEvent): SyncView {
  const reducer = REDUCERS[event.type];
  return reducer === undefined ? view : reducer(view, event.data, event.time);
}

export type Phase = 'connecting' | 'scanning' | 'syncing' | 'in-sync' | 'error';

/** Where the session stands. `in-sync`: the pod has everything (and, two-way, so does the local folder). */
export function phaseOf(view: SyncView, mode: SyncMode): Phase {
  if (view.state === 'error' || view.errors.length > 0) return 'error';
  if (!view.scanned || view.state === 'scanning' || view.state === 'scan-waiting') return 'scanning';
  if (!view.connected) return 'connecting';
  return view.peerReported && peerComplete(view) && localComplete(view, mode) ? 'in-sync' : 'syncing';
}

function peerComplete(view: SyncView): boolean {
  return view.peerCompletion >= 100 && view.peerNeed.items === 0;
}

/** Push mode ignores what the pod has that the local folder lacks: it is never fetched. */
function localComplete(view: SyncView, mode: SyncMode): boolean {
  return view.state === 'idle' && (mode === 'push' || view.localNeed.items === 0);
}

export interface Progress {
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** 0..100. */
  percent: number;
}

/**
 * Numbers for the progress bar: of the files and bytes the session covers, how many are where they belong. Push: on
 * the pod. Two-way: on the pod and, for changes made there, locally (a file is rarely missing on both sides at once).
 */
export function progressOf(view: SyncView, mode: SyncMode): Progress {
  const localNeed = mode === 'push' ? { items: 0, bytes: 0 } : view.localNeed;
  // Before the peer's first report its "100 %" means "no index yet": count everything as still to send. Later, a
  // stale report (a local change since) still shows the last numbers rather than dropping to 0 %.
  const peerNeed = view.peerKnown ? view.peerNeed : { items: Math.max(view.peerNeed.items, view.global.items), bytes: Math.max(view.peerNeed.bytes, view.global.bytes) };
  const files = { done: Math.max(0, view.global.items - peerNeed.items - localNeed.items), total: view.global.items };
  const bytes = { done: Math.max(0, view.global.bytes - peerNeed.bytes - localNeed.bytes), total: view.global.bytes };
  const fraction = bytes.total > 0 ? bytes.done / bytes.total : files.total > 0 ? files.done / files.total : 1;
  return { files, bytes, percent: Math.floor(fraction * 1000) / 10 };
}
