// The listener under overload: while devx cannot take more connections in time, it stops listening, so the kernel
// refuses new ones at once (the caller sees "connection refused" within a millisecond) instead of holding them in its
// accept queue, unseen, until the caller gives up.
//
// Why not just close connections past the cap once accepted (Node's server.maxConnections)? Node's libuv accepts one
// connection per turn of the event loop (libuv#3696; strace of devx on Node 24 shows one accept4 per turn). A loop
// busy with hundreds of connections turns a few times a second, so under a flood connections pile up in the kernel's
// accept queue (4,096 deep) far faster than devx takes them, never reach the cap, and wait there for seconds; the
// caller's other calls queue behind them for a connection, and after the flood devx still spends seconds on TLS
// handshakes for callers that left long ago (bench/overload.ts at three times devx's peak, before this: answers 5-8 s
// late, recovery p99 6 s). Closing the listening socket also resets what is already queued, so those callers learn
// at once too.
//
// The listener stops when either holds, and listens again once neither does:
// - the open connections reach the cap (`maxConnections`); it listens again below nine tenths of it;
// - at least 128 connections wait in the accept queue and would wait longer than `maxAcceptWaitMs` to be accepted,
//   and have for half a second: their number (read from /proc/net/tcp, where a listening socket's rx_queue is its
//   accept queue) times the length of a loop turn, read while turns are slow. A stall (a garbage collection, a
//   process starved by its neighbours) queues a client's connections for a few turns, a few dozen, taken within
//   milliseconds after it; a flood keeps thousands queued. Where /proc/net/tcp is not there, turns over 100 ms that
//   accepted a connection, twice in a row, count as such a wait.
// Open connections keep being served, and the queue-delay and in-flight bounds still answer 429 on them.
import { readFileSync } from 'node:fs';
import net from 'node:net';

export type PauseReason = 'connections' | 'accept-queue';

export interface AcceptGateOptions {
  maxConnections: number;
  /** The listen backlog to listen again with (the server's own). */
  backlog: number;
  /** The longest a connection may wait in the accept queue before the listener stops (ms, default 1000). */
  maxAcceptWaitMs?: number;
  /** How long that wait must stay over the bound first (ms, default 500). */
  persistMs?: number;
  /** The fewest queued connections that can stop the listener (default 128). */
  minQueued?: number;
  onPause?: (reason: PauseReason, open: number) => void;
  onResume?: (pausedMs: number) => void;
  /** Listening again failed (the port taken meanwhile); the gate tries again on the next tick. */
  onListenError?: (err: Error) => void;
}

export interface AcceptGate {
  /** Stop watching, for good (the server is closing): a paused listener stays closed. */
  stop(): void;
  paused(): boolean;
  open(): number;
}

export const DEFAULT_MAX_ACCEPT_WAIT_MS = 1000;
/** How long the accept queue must stay over the bound before the listener stops (ms). */
export const DEFAULT_PERSIST_MS = 500;
/**
 * Fewer queued connections than this never stop the listener: a client whose calls waited out a stall opens about
 * one connection per call that waited (the bench's and the tests' generators hold up to 64); a flood queues thousands.
 */
export const DEFAULT_MIN_QUEUED = 128;
const TICK_MS = 20;
/** Turns shorter than this accept faster than any queue could matter; the queue is not read then. */
const SLOW_TURN_MS = 20;

/** Without /proc/net/tcp: a turn this slow that accepted a connection suggests more are waiting behind it. */
const FALLBACK_STALL_MS = 100;

/** The accept queue of the socket listening on `port` (any address), from /proc/net/tcp6 and /proc/net/tcp. */
export function procAcceptQueueLength(port: number): number | undefined {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let readable = false;
  for (const file of ['/proc/net/tcp6', '/proc/net/tcp']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    readable = true;
    // "  sl  local_address rem_address   st tx_queue:rx_queue ..."; st 0A is LISTEN.
    for (const line of text.split('\n')) {
      const c = line.trim().split(/\s+/);
      if (c[3] === '0A' && c[1]?.endsWith(local)) return Number.parseInt((c[4] ?? '').split(':')[1] ?? '0', 16);
    }
  }
  return readable ? 0 : undefined;
}

/** Starts gating `server`, which must be listening already. */
export function gateAccepting(server: net.Server, o: AcceptGateOptions): AcceptGate {
  const maxAcceptWaitMs = o.maxAcceptWaitMs ?? DEFAULT_MAX_ACCEPT_WAIT_MS;
  const resumeBelow = Math.max(1, Math.floor(o.maxConnections * 0.9));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('gateAccepting: the server must listen on a TCP port');
  const { address: host, port } = address;
  let open = 0;
  let acceptedSinceTick = 0;
  let slowAccepting = 0;
  let tooLongSince: number | undefined;
  const persistMs = o.persistMs ?? DEFAULT_PERSIST_MS;
  const minQueued = o.minQueued ?? DEFAULT_MIN_QUEUED;
  let pausedAt: number | undefined;
  let relistening = false;
  let stopped = false;

  const tick = (): void => {
    const now = performance.now();
    const turn = now - last - TICK_MS;
    last = now;
    const accepted = acceptedSinceTick;
    acceptedSinceTick = 0;
    if (pausedAt !== undefined) {
      if (open < resumeBelow) resume();
      return;
    }
    // A stall (a garbage collection, the process starved by a busy neighbour) makes a few slow turns while callers
    // open connections, and once the loop turns quickly again it takes them within milliseconds. A flood keeps the
    // queue long turn after turn. So the wait must stay over the bound for `persistMs`.
    // `tooLongSince` survives a pause: if the first slow turn after listening again finds the queue as long as before,
    // the flood is still on and the listener stops at once; any turn that finds it short starts the count again.
    if (turn > SLOW_TURN_MS && waitsTooLong(turn, accepted)) {
      tooLongSince ??= now;
      if (now - tooLongSince >= persistMs) pause('accept-queue');
    } else {
      tooLongSince = undefined;
      slowAccepting = 0;
    }
  };

  /** Whether connections in the accept queue would wait over the bound, at one accept per `turnMs`. */
  const waitsTooLong = (turnMs: number, accepted: number): boolean => {
    const queued = procAcceptQueueLength(port);
    if (queued !== undefined) return queued >= minQueued && queued * turnMs > maxAcceptWaitMs;
    slowAccepting = turnMs > FALLBACK_STALL_MS && accepted > 0 ? slowAccepting + 1 : 0;
    return slowAccepting >= 2;
  };
  let last = performance.now();
  const timer = setInterval(tick, TICK_MS);
  // Listening, the server keeps the process alive and the timer must not hold a closing process open; paused, the
  // timer is the only way back to listening, so it keeps the process alive itself.
  timer.unref();

  function pause(reason: PauseReason): void {
    if (pausedAt !== undefined || stopped) return;
    pausedAt = performance.now();
    // net.Server's own close: it stops listening and leaves open connections alone (http.Server's would also close
    // the idle keep-alive ones). Connections still in the accept queue are reset by the kernel.
    net.Server.prototype.close.call(server);
    timer.ref();
    o.onPause?.(reason, open);
  }

  function resume(): void {
    if (pausedAt === undefined || relistening || stopped) return;
    relistening = true;
    const failed = (err: Error): void => {
      relistening = false;
      o.onListenError?.(err);
    };
    server.once('error', failed);
    server.listen({ host, port, backlog: o.backlog }, () => {
      server.removeListener('error', failed);
      relistening = false;
      // An earlier attempt that failed left its callback behind; the first one to run does the work.
      if (pausedAt === undefined) return;
      const since = pausedAt;
      pausedAt = undefined;
      timer.unref();
      o.onResume?.(performance.now() - since);
    });
  }

  const onConnection = (socket: net.Socket): void => {
    open++;
    acceptedSinceTick++;
    socket.once('close', () => {
      open--;
      // Back below the cap as soon as the load drops, not a tick later: the next caller is taken at once.
      if (open < resumeBelow) resume();
    });
    if (open >= o.maxConnections) pause('connections');
  };
  server.on('connection', onConnection);

  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      server.removeListener('connection', onConnection);
    },
    paused: () => pausedAt !== undefined,
    open: () => open,
  };
}
