// The app's ports on this machine (dev.x/ports, --forward): 127.0.0.1:LOCAL carried to port REMOTE of the dev pod by
// the same tunnel as the sync (tunnel.ts: one port-forward through the API server per connection, to whichever dev
// pod the session has verified by then), so a replaced pod is reached again without anything of its own.
import net from 'node:net';
import { AgentError, EXIT } from './exit-codes.ts';
import type { PortMapping } from './port-spec.ts';
import { openTunnel, type Connect, type Tunnel, type TunnelEvent } from './tunnel.ts';

const HOST = '127.0.0.1';

/** The message for a local port that cannot be bound: in use, or reserved to root. */
function bindFailure(error: unknown, p: PortMapping): AgentError {
  const code = (error as NodeJS.ErrnoException).code;
  const elsewhere = p.local + 10000 <= 65535 ? p.local + 10000 : 10000 + (p.local % 10000);
  const move = `forward the pod's port ${p.remote} to another local port, e.g. --forward ${elsewhere}:${p.remote}`;
  if (code === 'EADDRINUSE') {
    return new AgentError(EXIT.FAILURE, `local port ${p.local} (forwarded to port ${p.remote} of the dev pod) is already in use on this machine: stop what listens on ${HOST}:${p.local}, or ${move}`);
  }
  if (code === 'EACCES') return new AgentError(EXIT.FAILURE, `local port ${p.local} needs root to listen on: ${move}`);
  return new AgentError(EXIT.FAILURE, `cannot listen on ${HOST}:${p.local} for port ${p.remote} of the dev pod (${(error as Error).message}): ${move}`);
}

function listenOnce(p: PortMapping): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (e) => reject(bindFailure(e, p)));
    server.listen({ host: HOST, port: p.local, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** Fails with a clear message when a local port cannot be listened on; checked before anything else is done (a
 * port taken later is reported when the forward opens). */
export async function assertPortsFree(ports: readonly PortMapping[]): Promise<void> {
  for (const p of ports) await listenOnce(p);
}

export interface AppPortsOptions {
  ports: readonly PortMapping[];
  /** Carries a connection to `remote` of the current dev pod. */
  connect: (remote: number) => Connect;
  /** A forward's trouble (pod not ready, nothing listening in the pod, RBAC), once per change. */
  onEvent: (p: PortMapping, e: TunnelEvent) => void;
}

export interface AppPorts {
  close(): Promise<void>;
}

/** Listens on every local port (all or none: a failure closes the ones opened and throws the bind message). */
export async function openAppPorts(opts: AppPortsOptions): Promise<AppPorts> {
  const open: Tunnel[] = [];
  const closeAll = async (): Promise<void> => {
    await Promise.all(open.map((t) => t.close()));
  };
  for (const p of opts.ports) {
    try {
      open.push(await openTunnel({ host: HOST, port: p.local, connect: opts.connect(p.remote), onEvent: (e) => opts.onEvent(p, e) }));
    } catch (error) {
      await closeAll();
      throw bindFailure(error, p);
    }
  }
  return { close: closeAll };
}

/**
 * What went wrong with connections to an app port, as notes: once per port and text (a browser opens many
 * connections). `handled(error)`: the caller took care of a refused forward itself (RBAC stops the session).
 */
export function appPortNotes(note: (message: string) => void, handled: (error: unknown) => boolean): (p: PortMapping, e: TunnelEvent) => void {
  const last = new Map<number, string>();
  const once = (p: PortMapping, text: string): void => {
    if (last.get(p.local) !== text) note(`${HOST}:${p.local} → port ${p.remote}: ${text}`);
    last.set(p.local, text);
  };
  return (p, e) => {
    if (e.type === 'open') return;
    if (e.type === 'closed') {
      if (e.error) once(p, /connection refused/.test(e.error) ? `nothing listens on port ${p.remote} in the dev pod (yet)` : e.error);
      return;
    }
    if (!handled(e.error)) once(p, `${(e.error as Error).message}; the next connection tries again`);
  };
}
