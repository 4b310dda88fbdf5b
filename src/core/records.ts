// devx's records on objects (DESIGN §10): the annotations devx writes for itself — what to restore, who turned dev mode
// on and when, what was injected, which copy belongs to which workload — are hostile input until proven devx's. A
// namespace user can write any annotation on their own objects, and devx's ServiceAccount can do far more than they
// can, so devx never acts on a record because it is there: it acts on a record set only when the set's signature
// (an HMAC keyed by a Secret in devx's namespace, computed outside the core) verifies for this very object.
//
// The signature covers the object's kind, namespace and name (so a set cannot be copied to another object) and every
// record key present, sorted (so no key can be added, dropped or changed). Pods are signed without their name: a
// controller's pod has no name yet when admission sees it.
import type { KubeObject } from './kube.ts';
import { annotationsOf, setMetaKey } from './kube.ts';
import { ANN_SIGNATURE, RECORD_ANNOTATIONS } from './names.ts';
import { injectionDigest } from './pod-records.ts';

/** HMAC over a message with devx's record key; the core only builds messages. */
export interface RecordSigner {
  sign(message: string): string;
  verify(message: string, signature: string): boolean;
}

export type Records = Record<string, string>;

const SIGNED_KEYS: readonly string[] = RECORD_ANNOTATIONS.filter((k) => k !== ANN_SIGNATURE);

/** devx's record annotations on an object (the signature included), as they are. */
export function recordsOf(obj: KubeObject | undefined): Records {
  const anns = annotationsOf(obj);
  const out: Records = {};
  for (const k of RECORD_ANNOTATIONS) if (anns[k] !== undefined) out[k] = anns[k];
  return out;
}

/** Who a record set belongs to: kind, namespace and (for everything but pods) name. */
export interface RecordSubject {
  kind: string;
  namespace: string;
  name: string;
}

export function subjectOf(obj: KubeObject, fallbackNamespace = ''): RecordSubject {
  const kind = String(obj.kind ?? '');
  return { kind, namespace: obj.metadata?.namespace ?? fallbackNamespace, name: kind === 'Pod' ? '' : (obj.metadata?.name ?? '') };
}

/** What a pod's signature binds besides its records: the parts devx injected (see pod-records.ts). */
function extraFor(obj: KubeObject, extra: Records | undefined): Records {
  return extra ?? (obj.kind === 'Pod' ? { injected: injectionDigest(obj) } : {});
}

/** The signed message. `extra` binds facts that are not records themselves (e.g. a digest of what was injected). */
export function recordMessage(subject: RecordSubject, records: Records, extra: Records = {}): string {
  const lines = ['devx-records/v1', subject.kind, subject.namespace, subject.name];
  for (const k of [...SIGNED_KEYS].sort()) if (records[k] !== undefined) lines.push(`${k}=${records[k]}`);
  for (const k of Object.keys(extra).sort()) lines.push(`~${k}=${extra[k]}`);
  return lines.join('\n');
}

function hasRecords(records: Records): boolean {
  return SIGNED_KEYS.some((k) => records[k] !== undefined);
}

/**
 * The records of an object if devx wrote them: {} when it carries none, undefined when it carries records whose
 * signature does not verify (a user wrote them, or they predate the key).
 */
export function verifiedRecords(obj: KubeObject | undefined, o: { signer: RecordSigner; namespace?: string; extra?: Records }): Records | undefined {
  if (!obj) return {};
  const records = recordsOf(obj);
  if (!hasRecords(records)) return {};
  const sig = records[ANN_SIGNATURE];
  if (sig === undefined) return undefined;
  return o.signer.verify(recordMessage(subjectOf(obj, o.namespace), records, extraFor(obj, o.extra)), sig) ? records : undefined;
}

/** Sets the signature over the object's current records (removes it when there are none). Mutates `obj`. */
export function signRecords(obj: KubeObject, o: { signer: RecordSigner; namespace?: string; extra?: Records }): void {
  const records = recordsOf(obj);
  obj.metadata ??= {};
  if (!hasRecords(records)) {
    setMetaKey(obj.metadata, 'annotations', ANN_SIGNATURE, undefined);
    return;
  }
  setMetaKey(obj.metadata, 'annotations', ANN_SIGNATURE, o.signer.sign(recordMessage(subjectOf(obj, o.namespace), records, extraFor(obj, o.extra))));
}

/**
 * Record keys a request adds or changes: present in `object` with a value that is neither the old object's (kept as
 * it was, so not written by this requester) nor devx's own (`allowed`). Dropping a record is not writing one.
 */
export function writtenRecords(object: KubeObject, oldObject: KubeObject | undefined, allowed: Records = {}): string[] {
  const now = recordsOf(object);
  const before = recordsOf(oldObject);
  return Object.keys(now).filter((k) => now[k] !== before[k] && now[k] !== allowed[k]);
}

/** The message for a request that writes devx's records. */
export function recordsDeniedMessage(keys: string[]): string {
  const list = keys.map((k) => `"${k}"`).join(', ');
  return (
    `${list} ${keys.length === 1 ? 'is a record' : 'are records'} devx keeps for itself and only devx may set or change; ` +
    `remove ${keys.length === 1 ? 'it' : 'them'} from your manifest or patch (devx restores what it needs from the object as stored)`
  );
}
