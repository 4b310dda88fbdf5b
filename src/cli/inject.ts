// `kubectl devx inject -f FILE --policy FILE`: dev mode offline, with the same core as the webhook. For a workload it
// prints the workload as admission leaves it and the pod its template will become.
import { readFileSync } from 'node:fs';
import { stringify } from 'yaml';
import { parseYamlDocuments } from '../schemas/yaml-documents.ts';
import type { KubeObject } from '../core/kube.ts';
import { LABEL_ENABLED, LABEL_POLICY } from '../core/names.ts';
import { previewDevMode } from '../core/preview.ts';
import type { Decision } from '../core/result.ts';
import { staticView } from '../core/static-view.ts';
import { parseDevPolicy } from '../schemas/policy.ts';
import { hmacSigner, randomRecordKey } from '../tls/record-signer.ts';
import { VERSION } from '../version.ts';

export interface InjectArgs {
  file: string;
  policyFile: string;
  /** Treat objects as labelled dev.x/enabled=true even if they are not (default true: that is the point of a preview). */
  enable?: boolean;
  user?: string;
  groups?: string[];
}

function readDocs(path: string): unknown[] {
  return parseYamlDocuments(path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8'), path);
}

function labelled(obj: KubeObject): KubeObject {
  const copy = structuredClone(obj);
  copy.metadata = { ...(copy.metadata ?? {}), labels: { ...(copy.metadata?.labels ?? {}), [LABEL_ENABLED]: 'true' } };
  return copy;
}

/** Returns the YAML to print and whether every object was admitted. */
export function runInject(args: InjectArgs): { output: string; ok: boolean } {
  const policies = readDocs(args.policyFile).filter((o) => (o as { kind?: string }).kind === 'DevPolicy');
  if (policies.length === 0) throw new Error(`${args.policyFile} holds no DevPolicy`);
  const first = parseDevPolicy(policies[0]);
  if (!first.ok) throw new Error(`${args.policyFile}: invalid DevPolicy: ${first.error.join('; ')}`);
  const objects = readDocs(args.file) as KubeObject[];
  const user = { username: args.user ?? 'devx-preview', groups: args.groups ?? ['system:authenticated'] };
  // A preview's records are signed with a key of its own: they show what devx writes, and no cluster will take them
  // as devx's (apply the labelled manifest, not the preview).
  const signer = hmacSigner(randomRecordKey());
  const decisions = objects.flatMap((obj) => {
    const namespace = obj.metadata?.namespace ?? 'default';
    const view = staticView([...policies, { kind: 'Namespace', metadata: { name: namespace, labels: { [LABEL_POLICY]: first.value.metadata.name } } }]);
    const object = args.enable === false ? obj : labelled(obj);
    const preview = previewDevMode({ object, namespace, user, operation: 'CREATE' }, { view, now: new Date(), version: VERSION, signer });
    return [preview.workload, preview.pod].filter((d) => d !== undefined).map((d) => ({ obj, d }));
  });
  const out = decisions.map(({ obj, d }) => render(obj, d));
  return { output: out.join('---\n'), ok: decisions.every(({ d }) => d.kind !== 'deny') };
}

function render(obj: KubeObject, d: Decision): string {
  const what = `${obj.kind}/${obj.metadata?.name}`;
  if (d.kind === 'mutate') return stringify(d.object, { lineWidth: 0 });
  if (d.kind === 'deny') return `# ${what}: denied: ${d.message}\n`;
  return `# ${what}: unchanged (${d.reason})\n` + stringify(obj, { lineWidth: 0 });
}
