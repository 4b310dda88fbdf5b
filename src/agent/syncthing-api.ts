// A syncthing's REST API (loopback, API key): the local one's (is it up, what happened (events), how far the pod is
// (completion)), and the sidecar's through a port-forward (its folder errors). Answers are outside input: checked before use, malformed ones become "nothing new".
import { z } from 'zod';
import type { SyncthingEvent } from './progress.ts';

export interface SyncthingApi {
  ping(): Promise<boolean>;
  /**
   * Events after `since`, waiting up to `timeoutS` for one; [] on timeout. Always the default event mask: syncthing
   * buffers that one from its start, while a subscription for a custom mask (`events=`) only begins with its first
   * request, which would lose what happened before (such as the end of the first scan).
   */
  events(since: number, timeoutS: number, signal?: AbortSignal): Promise<SyncthingEvent[]>;
  /** `/rest/db/completion` for the peer, as a FolderCompletion event (so one reducer handles both). */
  completion(folder: string, device: string): Promise<SyncthingEvent | undefined>;
  /** `/rest/db/status` as a FolderSummary event. */
  folderStatus(folder: string): Promise<SyncthingEvent | undefined>;
  /** Whether the peer is connected right now (`/rest/system/connections`), as a DeviceConnected/Disconnected event. */
  connection(device: string): Promise<SyncthingEvent | undefined>;
  /** Asks for a rescan now (after the ignore patterns changed). */
  scan(folder: string): Promise<void>;
  /** `/rest/folder/errors` as it comes (pod-side.ts parses it). */
  folderErrors(folder: string, signal?: AbortSignal): Promise<unknown>;
  /**
   * Dial the device now: a pause and a resume (`/rest/system/pause`, `/rest/system/resume`). Syncthing dials a device
   * at once when it is resumed, where otherwise a failed dial waits out the reconnection interval.
   */
  redial(device: string): Promise<void>;
}

const EventsSchema = z.array(z.object({ id: z.number(), type: z.string(), time: z.string().optional(), data: z.unknown() }));
const ConnectionsSchema = z.object({ connections: z.record(z.string(), z.object({ connected: z.boolean() }).loose()) });

export function syncthingApi(guiAddress: string, apiKey: string): SyncthingApi {
  const base = `http://${guiAddress}`;
  const request = async (path: string, init: { method?: 'GET' | 'POST'; signal?: AbortSignal | undefined } = {}): Promise<Response> => {
    const res = await fetch(base + path, { method: init.method ?? 'GET', headers: { 'X-API-Key': apiKey }, signal: init.signal ?? AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`syncthing ${path}: HTTP ${res.status}`);
    return res;
  };
  const get = async (path: string, signal?: AbortSignal): Promise<unknown> => (await request(path, { signal })).json();
  return {
    ping: async () => {
      try {
        const body = (await get('/rest/system/ping', AbortSignal.timeout(2000))) as { ping?: string };
        return body.ping === 'pong';
      } catch {
        return false;
      }
    },
    events: async (since, timeoutS, signal) => {
      const query = `since=${since}&timeout=${timeoutS}`;
      const timeout = AbortSignal.timeout((timeoutS + 10) * 1000);
      const parsed = EventsSchema.safeParse(await get(`/rest/events?${query}`, signal ? AbortSignal.any([signal, timeout]) : timeout));
      return parsed.success ? parsed.data : [];
    },
    completion: async (folder, device) => {
      const data = (await get(`/rest/db/completion?folder=${encodeURIComponent(folder)}&device=${encodeURIComponent(device)}`)) as Record<string, unknown>;
      return { id: 0, type: 'FolderCompletion', data: { ...data, folder, device } };
    },
    folderStatus: async (folder) => {
      const summary = await get(`/rest/db/status?folder=${encodeURIComponent(folder)}`);
      return { id: 0, type: 'FolderSummary', data: { folder, summary } };
    },
    connection: async (device) => {
      const parsed = ConnectionsSchema.safeParse(await get('/rest/system/connections'));
      if (!parsed.success) return undefined;
      const connected = parsed.data.connections[device]?.connected === true;
      return { id: 0, type: connected ? 'DeviceConnected' : 'DeviceDisconnected', data: { id: device } };
    },
    scan: async (folder) => {
      await request(`/rest/db/scan?folder=${encodeURIComponent(folder)}`, { method: 'POST' });
    },
    folderErrors: async (folder, signal) => get(`/rest/folder/errors?folder=${encodeURIComponent(folder)}`, signal),
    redial: async (device) => {
      await request(`/rest/system/pause?device=${encodeURIComponent(device)}`, { method: 'POST' });
      await request(`/rest/system/resume?device=${encodeURIComponent(device)}`, { method: 'POST' });
    },
  };
}
