// Label selector matching, as the API server does it.
import type { LabelSelector } from '../schemas/policy.ts';

type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

function matchesRequirement(req: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'In':
      return has && values.includes(labels[req.key] ?? '');
    case 'NotIn':
      return !has || !values.includes(labels[req.key] ?? '');
  }
}

export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  return (selector.matchExpressions ?? []).every((r) => matchesRequirement(r, labels));
}
