// Results, not exceptions: every core decision is a value with a reason (STYLE.md, Kyverno's model).
import type { KubeObject } from './kube.ts';

export type Decision<T extends KubeObject = KubeObject> =
  /** Nothing to do; `reason` says why (logged, never shown as an error). */
  | { kind: 'skip'; reason: string }
  /** Refused; `message` tells the user what to do. */
  | { kind: 'deny'; message: string; reason: string }
  /** Allowed, possibly with changes: `object` is the mutated copy, `warnings` are shown by kubectl. */
  | { kind: 'mutate'; object: T; warnings: string[]; reason: string };

export function skip(reason: string): Decision<never> {
  return { kind: 'skip', reason };
}

export function deny(message: string, reason = 'denied'): Decision<never> {
  return { kind: 'deny', message, reason };
}

/**
 * A value, or the reason there is none: what every check and parser in devx returns instead of throwing. `E` is a
 * message by default; a richer error (a reason code with its message, a decision) says so.
 */
export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

export function ok(): Result<void, never>;
export function ok<T>(value: T): Result<T, never>;
export function ok<T>(value?: T): Result<T | undefined, never> {
  return { ok: true, value };
}

export function err<E>(error: E): Result<never, E> {
  return { ok: false, error };
}
