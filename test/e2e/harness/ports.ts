// Free TCP ports on the loopback interface. The port is found by binding to port 0 and closing again, so another
// process could in theory take it before the caller binds it; on a test machine that race is rare enough, and taking
// several ports at once (all held open until every one is known) at least keeps them distinct from one another.
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

function listenOnEphemeral(): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port: 0, exclusive: true }, () => resolve(server));
  });
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `count` distinct free ports on 127.0.0.1. */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnEphemeral());
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map(close));
  }
}

/** One free port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free loopback port');
  return port;
}
