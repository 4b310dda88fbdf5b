// Free TCP ports on the loopback interface, for servers the tests start (etcd, kube-apiserver, the controller
// manager, devx-webhook…). A port is found by binding it and closing again, so another process could take it before
// the caller binds it. The likeliest taker is not another server but any outgoing connection: the kernel picks the
// source port of every `connect()` from `net.ipv4.ip_local_port_range` (32768–60999 by default), the very range a
// bind to port 0 draws from — and a test run makes thousands of connections. So the ports come from below that range,
// picked at random and probed, which leaves only the rarer race with another test's probe. They also stay below
// 30000, where the node's NodePort range begins. Taking several ports at
// once (all held open until every one is known) keeps them distinct from one another.
import fs from 'node:fs';
import net from 'node:net';

export const LOOPBACK = '127.0.0.1';

const FIRST = 20_000;
/** Where Services' NodePorts begin (kube-apiserver's default --service-node-port-range). */
const NODE_PORTS = 30_000;
const ATTEMPTS = 200;

/** One past the last port to pick: below the kernel's range for outgoing connections and below the NodePorts. */
function pickEnd(): number {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > FIRST + 1000 ? Math.min(first, NODE_PORTS) : NODE_PORTS;
  } catch {
    return NODE_PORTS;
  }
}

function listenOn(port: number): Promise<net.Server | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' || err.code === 'EACCES' ? resolve(undefined) : reject(err)));
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => resolve(server));
  });
}

async function listenOnFree(end: number): Promise<net.Server> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const server = await listenOn(FIRST + Math.floor(Math.random() * (end - FIRST)));
    if (server) return server;
  }
  throw new Error(`no free loopback port in ${FIRST}-${end - 1} after ${ATTEMPTS} attempts`);
}

function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `count` distinct free ports on 127.0.0.1, outside the kernel's range for outgoing connections. */
export async function freePorts(count: number): Promise<number[]> {
  const end = pickEnd();
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnFree(end));
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
