// The pod side of a sync session as the sidecar's syncthing sees it: its folder errors (GET /rest/folder/errors, read
// through a port-forward to its GUI port), put into words a developer can act on, and the two decisions around them:
// when the pod side counts as stuck (warn once), and when the sidecar's API counts as out of reach (say so once, then
// carry on with local errors only). Pure: answers, views and times in; values and sentences out.
import { z } from 'zod';

/** One error of the sidecar's folder, as the agent shows it. */
export interface PodError {
  /** The path in the synced folder, as syncthing reports it. */
  path: string;
  /** Syncthing's own text, e.g. `hashing: open /devx/workdir/a.txt: permission denied`. */
  error: string;
  /** For people: `permission denied: a.txt (the dev container's user owns it; the sidecar runs as uid 1000)`. */
  message: string;
}

export const PodErrorSchema = z.object({ path: z.string(), error: z.string(), message: z.string() });

export interface SyncthingFolderError {
  path: string;
  error: string;
}

const FolderErrorsAnswer = z.object({ errors: z.array(z.object({ path: z.string(), error: z.string() }).loose()).nullable() }).loose();

/** The errors in an answer of `/rest/folder/errors` (syncthing sends `null` for none); undefined: not such an answer. */
export function parseFolderErrors(body: unknown): SyncthingFolderError[] | undefined {
  const parsed = FolderErrorsAnswer.safeParse(body);
  if (!parsed.success) return undefined;
  return (parsed.data.errors ?? []).map((e) => ({ path: e.path, error: e.error }));
}

/** The sidecar's uid as the injected pod fixes it (the container's securityContext), if it does. */
export function sidecarUidOf(container: { securityContext?: { runAsUser?: number | undefined } | undefined } | undefined): number | undefined {
  return container?.securityContext?.runAsUser;
}

/**
 * The cause in syncthing's text: Go wraps an errno text in what was being done (`hashing: open /path: permission
 * denied`), and the errno text is what says why; the last `: `-separated part.
 */
export function errorReason(error: string): string {
  const parts = error.split(': ').map((p) => p.trim());
  const last = parts.at(-1) ?? '';
  return last === '' ? error.trim() : last;
}

/** Why the sidecar may not touch a path, where syncthing only says "permission denied". */
function hintFor(reason: string, sidecarUid: number | undefined): string {
  if (!/permission denied|operation not permitted/i.test(reason)) return '';
  const who = sidecarUid === undefined ? 'another user' : `uid ${sidecarUid}`;
  return ` (the dev container's user owns it; the sidecar runs as ${who})`;
}

export function describePodError(e: SyncthingFolderError, sidecarUid: number | undefined): PodError {
  const reason = errorReason(e.error);
  return { path: e.path, error: e.error, message: `${reason}: ${e.path}${hintFor(reason, sidecarUid)}` };
}

/** `pod side: <first error>`, with how many more: for the one-line status. Empty without errors. */
export function podErrorsSummary(errors: readonly PodError[]): string {
  const [first] = errors;
  if (first === undefined) return '';
  return `pod side: ${first.message}${errors.length > 1 ? ` (+${errors.length - 1} more)` : ''}`;
}

// ---- stuck: warn once ----------------------------------------------------------------------------------------------

/** Pod-side errors that last this long are no passing hiccup (a file changing while hashed clears at the next scan). */
export const STUCK_AFTER_MS = 10_000;

export interface StuckWatch {
  /** Since when (ms) the pod side has had errors without a break; undefined: it has none. */
  since: number | undefined;
  warned: boolean;
}

export const NOT_STUCK: StuckWatch = { since: undefined, warned: false };

export interface PodSideFacts {
  podErrors: readonly PodError[];
  /** The local syncthing's completion for the sidecar device (what the pod has of the global state), 0..100. */
  peerCompletion: number;
  /** The completion is a real, current report. */
  peerReported: boolean;
}

function stuckNote(facts: PodSideFacts): string {
  const n = facts.podErrors.length;
  const behind = facts.peerReported && facts.peerCompletion < 100 ? ` (the pod has ${facts.peerCompletion.toFixed(1)} % of the files)` : '';
  // The first in full, with its hint; the rest short: the hint would only repeat.
  const list = facts.podErrors.slice(0, 5).map((e, i) => (i === 0 ? e.message : `${errorReason(e.error)}: ${e.path}`));
  const more = n > 5 ? `; and ${n - 5} more` : '';
  return (
    `pod side stuck: ${n === 1 ? '1 item does' : `${n} items do`} not sync there${behind}: ${list.join('; ')}${more}. ` +
    `Make ${n === 1 ? 'it' : 'them'} readable and writable for the sidecar's user in the dev container (chmod/chown), or run the dev container as a non-root user (runAsUser)`
  );
}

/**
 * The watch after one look at the pod side, and the note to show, if any: a warning once its errors have lasted
 * STUCK_AFTER_MS (once per stretch of errors, not once per look), and a word when they are over after a warning.
 */
export function watchStuck(watch: StuckWatch, facts: PodSideFacts, now: number): { watch: StuckWatch; note?: string } {
  if (facts.podErrors.length === 0) return watch.warned ? { watch: NOT_STUCK, note: 'pod side: the sync errors are resolved' } : { watch: NOT_STUCK };
  const since = watch.since ?? now;
  if (watch.warned || now - since < STUCK_AFTER_MS) return { watch: { since, warned: watch.warned } };
  return { watch: { since, warned: true }, note: stuckNote(facts) };
}

// ---- reach: degrade quietly -----------------------------------------------------------------------------------------

/** How often the sidecar's errors are read while its API answers. */
export const POLL_MS = 3000;
/** After this many failed reads in a row, what was read last is no longer shown, and (never having had an answer)
 * the agent says once that it cannot read the pod side. */
export const FAILURES_TO_GIVE_UP = 3;
/** How often to try again when the sidecar's API has never answered (an older sidecar, or no way in). */
export const SLOW_POLL_MS = 30_000;

export interface Reach {
  /** The sidecar's API has answered at least once in this session. */
  answered: boolean;
  /** Failed reads in a row. */
  failures: number;
  /** The note "cannot read the pod side" has been shown. */
  noted: boolean;
}

export const FIRST_REACH: Reach = { answered: false, failures: 0, noted: false };

export type ReadOutcome = { ok: true } | { ok: false; error: string };

export interface ReachStep {
  reach: Reach;
  /** Drop the pod errors shown so far: they can no longer be confirmed. */
  forget: boolean;
  note?: string;
  nextPollMs: number;
}

/** What one read of the sidecar's errors means for the next. A sidecar restarting or a pod being replaced fails a few
 * reads and then answers again: silently. One that never answers gets one note and a slow retry. */
export function afterRead(reach: Reach, outcome: ReadOutcome): ReachStep {
  if (outcome.ok) return { reach: { ...reach, answered: true, failures: 0 }, forget: false, nextPollMs: POLL_MS };
  const failures = reach.failures + 1;
  const givenUp = failures >= FAILURES_TO_GIVE_UP;
  const next: Reach = { ...reach, failures, noted: reach.noted || (givenUp && !reach.answered) };
  const step: ReachStep = { reach: next, forget: givenUp, nextPollMs: givenUp && !reach.answered ? SLOW_POLL_MS : POLL_MS };
  if (next.noted && !reach.noted) step.note = `cannot read the sync errors of the pod's syncthing (${outcome.error}); showing local errors only`;
  return step;
}
