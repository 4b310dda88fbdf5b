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
