// Choosing the dev image: annotation (checked against allowedImages), else the first matching rule, else the default.
import type { DevPolicySpec } from '../schemas/policy.ts';
import { err, ok, type Result } from './result.ts';

// Two glob dialects, for two different jobs:
//
// - imagePatternMatch, for `allowedImages`: a security boundary (which images a namespace user may run). `*` matches
//   any run of characters except `/`, `**` any run including `/`, `?` one character except `/`; everything else is
//   literal (regex metacharacters included). So `registry.example.com/dev/*` admits `registry.example.com/dev/java:21`
//   but neither `registry.example.com/dev/x/y:1` nor `attacker.io/registry.example.com/dev/x`, and `*.example.com/*`
//   does not admit `attacker.io/x.example.com/miner:1`.
// - originalImageMatch, for `images[].match`: the cluster admin's rule that picks a dev image by the image a pod
//   already runs (not a boundary). `*` matches anything, `/` included, so `*/bookinfo/reviews*` matches
//   `codingcorp-docker.pkg.coding.net/nocalhost/bookinfo/reviews:latest`; `?` is any one character.
//
// Both match the whole string.
type Dialect = 'path' | 'flat';

const globCache: Record<Dialect, Map<string, RegExp>> = { path: new Map(), flat: new Map() };

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The regex of each wildcard, per dialect. */
const WILDCARDS: Record<Dialect, ReadonlyMap<string, string>> = {
  path: new Map([['**', '.*'], ['*', '[^/]*'], ['?', '[^/]']]),
  flat: new Map([['**', '.*'], ['*', '.*'], ['?', '.']]),
};

function globToRegExp(pattern: string, dialect: Dialect): RegExp {
  // `**` is taken before `*`; every run of other characters is literal.
  const tokens = pattern.match(/\*\*|\*|\?|[^*?]+/g) ?? [];
  const body = tokens.map((t) => WILDCARDS[dialect].get(t) ?? escapeRegExp(t)).join('');
  // The flat dialect is the rule syntax as it always was (no `s` flag); in the path dialect `**` means anything.
  return new RegExp(`^${body}$`, dialect === 'path' ? 's' : '');
}

function compiled(pattern: string, dialect: Dialect): RegExp {
  const cache = globCache[dialect];
  let re = cache.get(pattern);
  if (!re) {
    re = globToRegExp(pattern, dialect);
    cache.set(pattern, re);
  }
  return re;
}

/** An `allowedImages` pattern against an image: `*` and `?` never cross `/`, `**` does (see the dialects above). */
export function imagePatternMatch(pattern: string, image: string): boolean {
  return compiled(pattern, 'path').test(image);
}

/** An `images[].match` rule against the original image: `*` matches anything, `/` included (see above). */
export function originalImageMatch(pattern: string, image: string): boolean {
  return compiled(pattern, 'flat').test(image);
}

/** The dev image and where it came from, or why the requested one is refused. */
export type ImageChoice = Result<{ image: string; source: 'annotation' | 'rule' | 'default' | 'unchanged' }>;

/** Images a policy names itself: what dev.x/image may use when allowedImages is empty. */
function policyImages(spec: DevPolicySpec): string[] {
  const names = spec.images.map((r) => r.devImage);
  if (spec.defaultDevImage) names.push(spec.defaultDevImage);
  return names;
}

export function isImageAllowed(spec: DevPolicySpec, image: string): boolean {
  if (spec.allowedImages.length > 0) return spec.allowedImages.some((p) => imagePatternMatch(p, image));
  return policyImages(spec).includes(image);
}

export function chooseDevImage(opts: { spec: DevPolicySpec; policyName: string; original: string; requested?: string }): ImageChoice {
  const { spec, original, requested } = opts;
  if (requested !== undefined) {
    if (isImageAllowed(spec, requested)) return ok({ image: requested, source: 'annotation' });
    const allowed = spec.allowedImages.length > 0 ? spec.allowedImages : policyImages(spec);
    return err(
      `dev.x/image "${requested}" is not allowed by DevPolicy ${opts.policyName}; allowed: ` +
        `${allowed.length ? allowed.join(', ') : '(none: the policy names no dev images)'}. ` +
        'Pick one of those, or ask a cluster admin to add it to allowedImages.',
    );
  }
  const rule = spec.images.find((r) => originalImageMatch(r.match, original));
  if (rule) return ok({ image: rule.devImage, source: 'rule' });
  if (spec.defaultDevImage) return ok({ image: spec.defaultDevImage, source: 'default' });
  return ok({ image: original, source: 'unchanged' });
}
