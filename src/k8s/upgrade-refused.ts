// A WebSocket upgrade the API server (or the network) refused: `pods/portforward` and `pods/exec` both open one, and a
// caller tells RBAC (403) from the rest by its HTTP status, which the `ws` client only puts in its message
// ("Unexpected server response: 403").

export class UpgradeRefusedError extends Error {
  /** HTTP status of the refused upgrade; undefined when there was no answer (unreachable, TLS). */
  readonly status: number | undefined;

  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'UpgradeRefusedError';
    this.status = status;
  }
}

/** `what: <the client's message>` and the status it names. */
export function refusalParts(err: unknown, what: string): { message: string; status: number | undefined } {
  const text = (err as { message?: unknown })?.message;
  const message = typeof text === 'string' && text !== '' ? text : String(err);
  const status = /Unexpected server response: (\d{3})/.exec(message)?.[1];
  return { message: `${what}: ${message}`, status: status === undefined ? undefined : Number(status) };
}
