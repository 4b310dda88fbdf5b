// What a sync session leaves in its home (`session.json`) for the next run and for `kubectl devx status`: which
// directory it synced with which pod, and which processes run it. Pure: parsing and decisions.
import { z } from 'zod';

export const SESSION_FILE = 'session.json';
export const AGENT_PID_FILE = 'agent.pid';
export const SYNCTHING_PID_FILE = 'syncthing.pid';
export const SYNCTHING_LOG_FILE = 'syncthing.log';

const SessionRecordSchema = z.object({
  folderPath: z.string(),
  podUid: z.string(),
  pod: z.string(),
  mode: z.enum(['two-way', 'push']),
  agentPid: z.number().int(),
  startedAt: z.string(),
  /** Set when the session ended cleanly. */
  stoppedAt: z.string().optional(),
});
export type SessionRecord = z.infer<typeof SessionRecordSchema>;

export function parseSessionRecord(text: string | undefined): SessionRecord | undefined {
  if (text === undefined) return undefined;
  try {
    const r = SessionRecordSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the local index database must go before syncthing starts, or undefined to keep it. Syncthing keys its index by
 * folder ID, not path: pointed at another directory with the old index, it would take every file it no longer sees
 * for deleted and send the deletions to the pod. A new pod (new uid) starts with an empty sidecar, and an index that
 * still describes the old pod's files would make the first full sync look finished before it is.
 */
export function indexResetReason(previous: SessionRecord | undefined, next: { folderPath: string; podUid: string }): string | undefined {
  if (previous === undefined) return undefined;
  if (previous.folderPath !== next.folderPath) return `the local directory changed (${previous.folderPath} → ${next.folderPath})`;
  if (previous.podUid !== next.podUid) return `the dev pod is new (${previous.pod} was synced last)`;
  return undefined;
}

/** The SYNC column of `status`: a live agent's session, or nothing. */
export function sessionSummary(record: SessionRecord | undefined, agentAlive: boolean): string | undefined {
  if (record === undefined || record.stoppedAt !== undefined || !agentAlive) return undefined;
  return `${record.mode} (pid ${record.agentPid})`;
}
