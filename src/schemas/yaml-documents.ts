// Multi-document YAML as Kubernetes users write it (`---` separated, `kind: List` allowed), read strictly: a syntax
// error anywhere refuses the whole input, naming where it came from.
import { parseAllDocuments } from 'yaml';

export function parseYamlDocuments(text: string, source: string): unknown[] {
  const docs = parseAllDocuments(text);
  const bad = docs.find((d) => d.errors.length > 0);
  if (bad) throw new Error(`${source}: ${bad.errors[0]?.message}`);
  return docs
    .map((d) => d.toJS() as unknown)
    .flatMap((o) => ((o as { kind?: string } | null)?.kind === 'List' ? ((o as { items?: unknown[] }).items ?? []) : [o]))
    .filter((o) => o !== null && o !== undefined);
}
