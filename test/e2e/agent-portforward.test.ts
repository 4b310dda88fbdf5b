// The agent's port-forward path (src/k8s/portforward.ts behind src/agent/tunnel.ts) against a local HTTPS server that
// speaks the Kubernetes port-forward WebSocket protocol as the API server proxies it from the kubelet: subprotocol
// v4.channel.k8s.io, one data and one error channel for the port, each channel's first frame carrying the port
// number (2 bytes, little endian), the error channel's text when the pod's port cannot be reached, and the socket
// closed when the forwarded connection ends. Behind it, plain TCP servers play the pod's port 22000.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { stringify } from 'yaml';
import { agentKube } from '../../src/k8s/agent-api.ts';
import { forwardSocket, PortForwardRefusedError } from '../../src/k8s/portforward.ts';
import { openTunnel, type Tunnel, type TunnelEvent } from '../../src/agent/tunnel.ts';
import { generateCA, issueCertificate } from '../../src/tls/pki.ts';
import { pollValue } from '../../src/wait.ts';

const TOKEN = 'devx-test-token';
const SYNC_PORT = 22000;

interface Upgrade {
  pod: string;
  query: string;
  /** Subprotocols the client offered (Sec-WebSocket-Protocol). */
  offered: string;
  authorization: string | undefined;
  /** The subprotocol the server chose, once the upgrade went through. */
  chosen?: string;
}

/** A fake API server for pods/portforward: each pod maps to a TCP port on loopback, `refused`, or `forbidden`. */
class FakeApiServer {
  readonly upgrades: Upgrade[] = [];
  readonly sockets = new Set<WebSocket>();
  readonly pods = new Map<string, number | 'refused' | 'forbidden'>();
  server!: https.Server;
  port = 0;
  caPem = '';

  async start(): Promise<void> {
    const now = new Date(Date.now() - 60_000);
    const ca = generateCA({ commonName: 'fake-apiserver-ca', notBefore: now, validityMs: 3_600_000 });
    const cert = issueCertificate(ca, { commonName: 'fake-apiserver', ipAddresses: ['127.0.0.1'], usage: 'server', notBefore: now, validityMs: 3_600_000 });
    this.caPem = ca.certPem;
    this.server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    const wss = new WebSocketServer({ noServer: true, handleProtocols: (offered) => (offered.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false) });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'https://x');
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/portforward$/.exec(url.pathname);
      const pod = m?.[2] ?? '';
      const upgrade: Upgrade = { pod, query: url.search, offered: String(req.headers['sec-websocket-protocol'] ?? ''), authorization: req.headers.authorization };
      this.upgrades.push(upgrade);
      const target = this.pods.get(pod);
      const refuse = (status: number, text: string): void => {
        socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"kind":"Status","code":${status}}`);
      };
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return refuse(401, 'Unauthorized');
      if (target === 'forbidden') return refuse(403, 'Forbidden');
      if (target === undefined || m?.[1] !== 'dev') return refuse(404, 'Not Found');
      wss.handleUpgrade(req, socket, head, (ws) => {
        upgrade.chosen = ws.protocol;
        this.#forward(ws, pod, target);
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** What the kubelet does for one port: port headers first, then data both ways, errors on channel 1. */
  #forward(ws: WebSocket, pod: string, target: number | 'refused'): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    const header = (channel: number): Buffer => Buffer.from([channel, SYNC_PORT & 0xff, SYNC_PORT >> 8]);
    ws.send(header(0));
    ws.send(header(1));
    const port = target === 'refused' ? 1 : target; // port 1 on loopback: nothing listens, connection refused
    const tcp = net.connect(port, '127.0.0.1');
    tcp.on('data', (chunk: Buffer) => ws.send(Buffer.concat([Buffer.from([0]), chunk])));
    tcp.on('error', (err) => {
      ws.send(Buffer.concat([Buffer.from([1]), Buffer.from(`error forwarding port ${SYNC_PORT} to pod ${pod}, uid : ${err.message}`)]));
      ws.close();
    });
    tcp.on('end', () => ws.close());
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) tcp.write(data.subarray(1));
    });
    ws.on('close', () => tcp.destroy());
  }

  /** Drops every forwarded connection, as when the pod dies or the API server restarts. */
  dropAll(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  kubeconfig(dir: string): string {
    const file = path.join(dir, 'kubeconfig');
    const cfg = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: `https://127.0.0.1:${this.port}`, 'certificate-authority-data': Buffer.from(this.caPem).toString('base64') } }],
      users: [{ name: 'dev', user: { token: TOKEN } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'dev', namespace: 'dev' } }],
      'current-context': 'fake',
    };
    fs.writeFileSync(file, stringify(cfg), { mode: 0o600 });
    return file;
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A TCP server standing in for the pod's port: greets each connection, then echoes. */
async function echoServer(greeting: string): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const open = new Set<net.Socket>();
  const server = net.createServer((s) => {
    count++;
    open.add(s);
    s.on('close', () => open.delete(s));
    s.on('error', () => undefined);
    s.write(greeting);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: () => {
      for (const s of open) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Connects to the tunnel, sends `payload`, collects `expect` bytes back. */
async function roundTrip(port: number, payload: Buffer, expect: number): Promise<{ received: Buffer; socket: net.Socket }> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  let got = 0;
  const received = new Promise<Buffer>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= expect) resolve(Buffer.concat(chunks));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after ${got} of ${expect} bytes`)));
  });
  socket.write(payload);
  return { received: await received, socket };
}

function closed(socket: net.Socket): Promise<void> {
  return socket.closed ? Promise.resolve() : new Promise((r) => socket.once('close', () => r()));
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const v = await pollValue(probe, { timeoutMs, intervalMs: 20 });
  if (v === undefined) throw new Error(`timed out waiting for ${what}`);
  return v;
}

describe('port-forward through a server speaking the Kubernetes port-forward WebSocket protocol', () => {
  const api = new FakeApiServer();
  let dir: string;
  let tunnel: Tunnel;
  let pod = 'web-1';
  const events: TunnelEvent[] = [];
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let echo2: Awaited<ReturnType<typeof echoServer>>;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-pf-'));
    await api.start();
    echo = await echoServer('hello from web-1\n');
    echo2 = await echoServer('hello from web-2\n');
    api.pods.set('web-1', echo.port);
    api.pods.set('web-2', echo2.port);
    api.pods.set('broken', 'refused');
    api.pods.set('locked', 'forbidden');
    const kc = agentKube({ kubeconfig: api.kubeconfig(dir) }).kubeConfig;
    tunnel = await openTunnel({ connect: (socket) => forwardSocket(kc, { namespace: 'dev', pod, port: SYNC_PORT }, socket), onEvent: (e) => events.push(e) });
  });

  after(async () => {
    await tunnel?.close();
    await api.close();
    await echo?.close();
    await echo2?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('bytes both ways, byte for byte: the pod side speaks first, 4 MiB go out and come back; the port headers never reach the socket', async () => {
    const greeting = Buffer.from('hello from web-1\n');
    const payload = randomBytes(4 * 1024 * 1024);
    const { received, socket } = await roundTrip(tunnel.port, payload, greeting.length + payload.length);
    assert.ok(received.subarray(0, greeting.length).equals(greeting), `first bytes: ${JSON.stringify(received.subarray(0, 20).toString('latin1'))}`);
    assert.ok(received.subarray(greeting.length).equals(payload), 'the echo is identical');
    const up = api.upgrades.at(-1);
    assert.equal(up?.pod, 'web-1');
    assert.equal(up?.query, `?ports=${SYNC_PORT}`);
    assert.equal(up?.authorization, `Bearer ${TOKEN}`);
    assert.match(up?.offered ?? '', /(^|, ?)v4\.channel\.k8s\.io(,|$)/);
    assert.equal(up?.chosen, 'v4.channel.k8s.io');
    assert.equal(tunnel.active(), 1);
    socket.end();
    await until('the tunnel to let go of the connection', () => (tunnel.active() === 0 ? true : undefined));
    await until('the server side closed', () => (api.sockets.size === 0 ? true : undefined));
  });

  test('the error channel: a pod port that refuses ends the local connection with the kubelet’s message', async () => {
    pod = 'broken';
    try {
      const before = events.length;
      const socket = net.connect(tunnel.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await closed(socket);
      const ended = await until('a closed event', () => events.slice(before).find((e) => e.type === 'closed'));
      assert.equal(ended.type, 'closed');
      assert.match((ended as { error?: string }).error ?? '', /error forwarding port 22000 to pod broken, uid : connect ECONNREFUSED/);
    } finally {
      pod = 'web-1';
    }
  });

  test('a dropped port-forward closes the local connection; the next connection gets a new one, to the pod that is there now', async () => {
    const first = await roundTrip(tunnel.port, Buffer.from('ping\n'), 'hello from web-1\nping\n'.length);
    assert.equal(first.received.toString(), 'hello from web-1\nping\n');
    const before = events.length;
    const upgrades = api.upgrades.length;
    api.dropAll();
    await closed(first.socket);
    await until('the drop reported', () => events.slice(before).find((e) => e.type === 'closed'));
    // The pod was replaced meanwhile: the reconnect goes to the new one.
    pod = 'web-2';
    const second = await roundTrip(tunnel.port, Buffer.from('pong\n'), 'hello from web-2\npong\n'.length);
    assert.equal(second.received.toString(), 'hello from web-2\npong\n');
    assert.equal(api.upgrades.length, upgrades + 1);
    assert.equal(api.upgrades.at(-1)?.pod, 'web-2');
    assert.equal(echo2.connections(), 1);
    second.socket.destroy();
    pod = 'web-1';
  });

  test('403 on the upgrade: refused with the status, the local connection closed', async () => {
    pod = 'locked';
    try {
      const before = events.length;
      const socket = net.connect(tunnel.port, '127.0.0.1');
      socket.on('error', () => undefined);
      await closed(socket);
      const refused = await until('a refused event', () => events.slice(before).find((e) => e.type === 'refused'));
      assert.ok(refused.type === 'refused' && refused.error instanceof PortForwardRefusedError, String((refused as { error?: unknown }).error));
      assert.equal((refused.error as PortForwardRefusedError).status, 403);
      assert.match((refused.error as Error).message, /port-forward to pod dev\/locked port 22000: .*403/);
    } finally {
      pod = 'web-1';
    }
  });

  test('close() ends every carried connection and stops listening', async () => {
    const open = await roundTrip(tunnel.port, Buffer.from('x'), 'hello from web-1\nx'.length);
    await until('one connection on the server', () => (api.sockets.size === 1 ? true : undefined));
    await tunnel.close();
    await closed(open.socket);
    await until('the server side closed', () => (api.sockets.size === 0 ? true : undefined));
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(tunnel.port, '127.0.0.1');
      s.on('connect', () => resolve(false));
      s.on('error', () => resolve(true));
    });
    assert.ok(refused, 'nothing listens any more');
  });
});
