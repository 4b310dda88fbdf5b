// Writes deploy/crds/devpolicies.dev.x.yaml from the zod schema: `npm run generate`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { devPolicyCrd } from '../src/schemas/crd.ts';

export const CRD_PATH = join(import.meta.dirname, '..', 'deploy', 'crds', 'devpolicies.dev.x.yaml');
export const CRD_HEADER = '# Generated from src/schemas/policy.ts by `npm run generate`; do not edit.\n';

export function renderCrd(): string {
  return CRD_HEADER + stringify(devPolicyCrd(), { lineWidth: 0 });
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(CRD_PATH, renderCrd());
  console.log(`wrote ${CRD_PATH}`);
}
