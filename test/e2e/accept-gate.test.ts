// The listener under overload (src/webhook/accept-gate.ts), on real sockets over loopback: the accept queue is read
// from /proc/net/tcp; at the connection cap the listener stops and a new connection is refused at once, open ones
// are still served, and it listens again below the cap; when connections would wait too long in the kernel's accept
// queue (a server whose event loop turns slowly, in its own process) the listener stops, what was queued is reset,
// and a connection that can be taken in time is taken again. Bounds and outcomes are asserted, not times.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gateAccepting, procAcceptQueueLength, type AcceptGate } from '../../src/webhook/accept-gate.ts';
import { eventually, REPO } from './harness/devx.ts';
import { freePort, LOOPBACK } from './harness/ports.ts';

const cleanups: Array<() => void> = [];
after(() => cleanups.forEach((c) => c()));

/** Connects and says hello; resolves with the echo, or the error code when the connection fails. */
function hello(port: number): Promise<{ echoed?: string; error?: string; socket?: net.Socket }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    socket.once('connect', () => socket.write('hello\n'));
    socket.once('data', (d: Buffer) => resolve({ echoed: d.toString('utf8').trim(), socket }));
  });
}

function echoServer(): net.Server {
  return net.createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
  });
}

test('the accept queue of a listening socket is read from /proc/net/tcp', async () => {
  const server = echoServer();
  const port = await freePort();
  await new Promise<void>((r) => server.listen({ host: LOOPBACK, port, backlog: 64 }, r));
  cleanups.push(() => server.close());
  assert.equal(procAcceptQueueLength(port), 0, 'an idle listener has nothing queued');
  // The kernel completes loopback handshakes without this process: while its loop is held, nothing is accepted.
  const clients = Array.from({ length: 5 }, () => net.connect({ host: LOOPBACK, port }).on('error', () => undefined));
  // net.connect issues its connect() on the next tick: let it, without giving the loop a turn to accept.
  await new Promise((r) => process.nextTick(r));
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
  assert.equal(procAcceptQueueLength(port), 5);
  clients.forEach((c) => c.destroy());
  const other = await freePort();
  assert.equal(procAcceptQueueLength(other), 0, 'a port nobody listens on has no queue');
});

test('at the cap the listener stops: a new connection is refused, open ones are served; below 9/10 it listens again', async () => {
  const server = echoServer();
  const port = await freePort();
  await new Promise<void>((r) => server.listen({ host: LOOPBACK, port, backlog: 64 }, r));
  const events: string[] = [];
  const gate: AcceptGate = gateAccepting(server, {
    maxConnections: 5,
    backlog: 64,
    maxAcceptWaitMs: 500,
    onPause: (reason, open) => events.push(`pause ${reason} ${open}`),
    onResume: () => events.push('resume'),
  });
  cleanups.push(() => {
    gate.stop();
    server.close();
  });

  const held = await Promise.all(Array.from({ length: 5 }, () => hello(port)));
  assert.deepEqual(
    held.map((h) => h.echoed),
    Array(5).fill('hello'),
  );
  assert.ok(gate.paused(), 'five open connections did not stop the listener');
  assert.deepEqual(events, ['pause connections 5']);

  const refused = await hello(port);
  assert.equal(refused.error, 'ECONNREFUSED', 'a sixth connection was not refused');
  // The open ones are still served.
  const again = await new Promise<string>((resolve) => {
    held[0]?.socket?.once('data', (d: Buffer) => resolve(d.toString('utf8').trim()));
    held[0]?.socket?.write('still there\n');
  });
  assert.equal(again, 'still there');

  // Four open is not below 9/10 of five (4.5 rounds down to 4): still refused. Three is.
  held[0]?.socket?.destroy();
  await eventually('the first connection closed', async () => gate.open() === 4, 5000);
  assert.equal((await hello(port)).error, 'ECONNREFUSED');
  assert.ok(gate.paused());
  held[1]?.socket?.destroy();
  await eventually('the listener back', async () => !gate.paused(), 5000);
  const back = await hello(port);
  assert.equal(back.echoed, 'hello');
  assert.deepEqual(events, ['pause connections 5', 'resume']);
  for (const h of [...held, back]) h.socket?.destroy();
});

test('connections that would wait too long in the accept queue: the listener stops, the queue is reset, and it takes connections again', async (t) => {
  // A server in its own process whose loop spends 60 ms of every turn on other work (as a loop serving hundreds of
  // connections does), gated with a 200 ms accept wait. Connections arriving meanwhile are accepted one per turn.
  const port = await freePort();
  const script = `
    import net from 'node:net';
    import { gateAccepting } from ${JSON.stringify(join(REPO, 'src/webhook/accept-gate.ts'))};
    setInterval(() => { const until = performance.now() + 60; while (performance.now() < until); }, 1);
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d) => s.write(d));
    });
    server.listen({ host: '127.0.0.1', port: ${port}, backlog: 512 }, () => {
      gateAccepting(server, { maxConnections: 1000, backlog: 512, maxAcceptWaitMs: 200,
        onPause: (reason) => console.log('pause ' + reason), onResume: () => console.log('resume') });
      console.log('listening');
    });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanups.push(() => child.kill('SIGKILL'));
  const lines: string[] = [];
  child.stdout.on('data', (d: Buffer) => lines.push(...d.toString('utf8').trim().split('\n')));
  await eventually('the slow server listening', async () => lines.includes('listening'), 20_000);

  // Two hundred connections at once (a flood: more than the 128 a stall's clients may queue), each saying hello and
  // waiting for the echo: at one accept per 60 ms turn, the last would wait 12 s in the accept queue.
  const results = await Promise.all(Array.from({ length: 200 }, () => hello(port)));
  const echoed = results.filter((r) => r.echoed === 'hello').length;
  const failed = results.filter((r) => r.error !== undefined).map((r) => r.error);
  t.diagnostic(`${echoed} echoed, ${failed.filter((e) => e === 'ECONNRESET').length} reset, ${failed.filter((e) => e === 'ECONNREFUSED').length} refused`);
  // Its log line may come a little after the connections' outcomes.
  await eventually('the listener stopped for its accept queue', async () => lines.includes('pause accept-queue'), 5000);
  // What was queued when the listener stopped was reset, so every connection was either served or told at once.
  assert.ok(failed.length > 0, 'every connection waited its turn: none was reset or refused');
  assert.equal(echoed + failed.length, results.length);
  assert.deepEqual([...new Set(failed)].filter((e) => e !== 'ECONNRESET' && e !== 'ECONNREFUSED'), [], 'failures other than a reset or a refusal');
  for (const r of results) r.socket?.destroy();

  // Still slow, but one connection at a time is no flood: the listener is back and serves it.
  await eventually('the listener back', () => hello(port).then((r) => (r.socket?.destroy(), r.echoed === 'hello')), 10_000);
  assert.ok(lines.includes('resume'));
});
