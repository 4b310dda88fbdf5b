// The local end of the sync tunnel: a TCP listener on loopback whose every connection is carried to the pod by a
// `connect` function (a port-forward through the API server). Reconnecting needs nothing special: when the pod
// restarts or the port-forward drops, the connection closes, the local syncthing dials again (every few seconds),
// and the new connection gets a new port-forward, to whichever pod `connect` resolves to by then.
import net from 'node:net';

export interface CarriedConnection {
  ended: Promise<{ error?: string }>;
  close(): void;
}

/** Carries one local connection; rejects when it cannot be carried now (the socket is then closed). */
export type Connect = (socket: net.Socket) => Promise<CarriedConnection>;

export type TunnelEvent =
  | { type: 'open'; active: number }
  | { type: 'closed'; active: number; error?: string }
  | { type: 'refused'; error: unknown };

export interface Tunnel {
  /** `tcp://127.0.0.1:PORT`: what the local syncthing dials. */
  readonly address: string;
  readonly port: number;
  active(): number;
  /** Stops listening and closes every carried connection. */
  close(): Promise<void>;
}

export interface TunnelOptions {
  connect: Connect;
  onEvent: (event: TunnelEvent) => void;
  /** Default 127.0.0.1: nothing but this machine may use the tunnel. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
}

export async function openTunnel(opts: TunnelOptions): Promise<Tunnel> {
  const live = new Set<{ socket: net.Socket; carried?: CarriedConnection }>();
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    const entry: { socket: net.Socket; carried?: CarriedConnection } = { socket };
    live.add(entry);
    socket.on('error', () => undefined); // reported through `closed`; an unhandled 'error' would crash the agent
    socket.once('close', () => live.delete(entry));
    opts.connect(socket).then(
      (carried) => {
        entry.carried = carried;
        socket.resume();
        opts.onEvent({ type: 'open', active: live.size });
        void carried.ended.then((end) => {
          live.delete(entry);
          opts.onEvent({ type: 'closed', active: live.size, ...(end.error ? { error: end.error } : {}) });
        });
      },
      (error: unknown) => {
        live.delete(entry);
        socket.destroy();
        opts.onEvent({ type: 'refused', error });
      },
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: opts.port ?? 0 }, resolve);
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `tcp://${host}:${port}`,
    port,
    active: () => live.size,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const entry of live) {
        entry.carried?.close();
        entry.socket.destroy();
      }
      await closed;
    },
  };
}
