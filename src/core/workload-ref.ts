// The reference to a workload devx writes in its records and messages — `dev.x/workload`, `dev.x/copy-of`, Events:
// `<kind lowercased>/<name>`, e.g. `deployment/reviews`. One format and one parse.
import { WORKLOAD_KINDS, type WorkloadKind } from './names.ts';

export interface WorkloadRef {
  kind: WorkloadKind;
  name: string;
}

export function formatWorkloadRef(ref: { kind: string; name: string }): string {
  return `${ref.kind.toLowerCase()}/${ref.name}`;
}

/** `deployment/reviews` -> {Deployment, reviews}; undefined for anything else. */
export function parseWorkloadRef(text: string | undefined): WorkloadRef | undefined {
  if (text === undefined) return undefined;
  const slash = text.indexOf('/');
  const kind = WORKLOAD_KINDS.find((k) => k.toLowerCase() === text.slice(0, slash));
  const name = text.slice(slash + 1);
  return slash > 0 && kind && name ? { kind, name } : undefined;
}
