// One TCP connection carried to a pod's port through the API server (`pods/portforward`), with
// @kubernetes/client-node's PortForward: a WebSocket speaking the v4.channel.k8s.io protocol, channel 0 the data and
// channel 1 the error text of the one port, each channel's first frame starting with the port number (2 bytes, which
// the client strips). One WebSocket per connection, as kubectl does it: when either end closes, so does the other.
import type net from 'node:net';
import { Writable } from 'node:stream';
import { PortForward, type KubeConfig } from '@kubernetes/client-node';
import { refusalParts, UpgradeRefusedError } from './upgrade-refused.ts';

export interface ForwardTarget {
  namespace: string;
  pod: string;
  port: number;
}

export interface ForwardedConnection {
  /** Resolves once the connection is over: `error` is the pod side's error text (error channel) or a transport error. */
  ended: Promise<{ error?: string }>;
  close(): void;
}

/** The API server (or the network) refused the port-forward; `status` is the HTTP status of a refused upgrade. */
export class PortForwardRefusedError extends UpgradeRefusedError {
  constructor(message: string, status: number | undefined) {
    super(message, status);
    this.name = 'PortForwardRefusedError';
  }
}

/** The part of the `ws` WebSocket this module uses (the client hands one back, typed through isomorphic-ws). */
interface Socketish {
  readonly bufferedAmount: number;
  pause(): void;
  resume(): void;
  close(): void;
  terminate(): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** Local → pod: stop reading the local socket while this much is queued for the WebSocket, until it drains. */
const HIGH_WATER = 4 * 1024 * 1024;
const LOW_WATER = 1024 * 1024;

function refusal(err: unknown, target: ForwardTarget): PortForwardRefusedError {
  const { message, status } = refusalParts(err, `port-forward to pod ${target.namespace}/${target.pod} port ${target.port}`);
  return new PortForwardRefusedError(message, status);
}

/** Pauses the local socket while the WebSocket's send queue is long (the client library itself never waits). */
function throttleInput(socket: net.Socket, ws: Socketish): void {
  let timer: NodeJS.Timeout | undefined;
  socket.on('data', () => {
    if (timer !== undefined || ws.bufferedAmount < HIGH_WATER) return;
    socket.pause();
    timer = setInterval(() => {
      if (ws.bufferedAmount > LOW_WATER && !socket.destroyed) return;
      clearInterval(timer);
      timer = undefined;
      socket.resume();
    }, 10);
  });
  socket.once('close', () => clearInterval(timer));
}

/**
 * Carries `socket` to `target` until either side closes. Rejects with PortForwardRefusedError when the WebSocket
 * cannot be opened (RBAC 403, pod not found or not running, API server unreachable).
 */
export async function forwardSocket(kc: KubeConfig, target: ForwardTarget, socket: net.Socket): Promise<ForwardedConnection> {
  let ws: Socketish | undefined;
  let errorText = '';
  // Pod → local: pause the WebSocket while the local socket's buffer is full.
  const output = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      if (!socket.destroyed && !socket.write(chunk) && ws) {
        ws.pause();
        socket.once('drain', () => ws?.resume());
      }
      done();
    },
  });
  const errors = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      errorText += chunk.toString('utf8');
      done();
    },
  });
  try {
    // retryCount 0: the client returns the WebSocket itself; reconnecting is the caller's business (a new connection).
    ws = (await new PortForward(kc, true).portForward(target.namespace, target.pod, [target.port], output, errors, socket, 0)) as unknown as Socketish;
  } catch (err) {
    throw refusal(err, target);
  }
  const open = ws;
  throttleInput(socket, open);
  const ended = new Promise<{ error?: string }>((resolve) => {
    let transportError = '';
    open.on('error', (err) => (transportError = err.message));
    open.on('close', () => {
      socket.end();
      const error = errorText.trim() || transportError;
      resolve(error ? { error } : {});
    });
    socket.once('close', () => open.close());
    socket.once('error', () => open.terminate());
  });
  return { ended, close: () => open.close() };
}
