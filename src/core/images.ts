// Choosing the dev image: annotation (checked against allowedImages), else the first matching rule, else the default.
import type { DevPolicySpec } from '../schemas/policy.ts';

const globCache = new Map<string, RegExp>();

/** Shell-style glob where `*` also crosses `/` (image references are matched as whole strings). */
export function globMatch(pattern: string, text: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`);
    globCache.set(pattern, re);
  }
  return re.test(text);
}

export type ImageChoice =
  | { ok: true; image: string; source: 'annotation' | 'rule' | 'default' | 'unchanged' }
  | { ok: false; message: string };

/** Images a policy names itself: what dev.x/image may use when allowedImages is empty. */
function policyImages(spec: DevPolicySpec): string[] {
  const names = spec.images.map((r) => r.devImage);
  if (spec.defaultDevImage) names.push(spec.defaultDevImage);
  return names;
}

export function isImageAllowed(spec: DevPolicySpec, image: string): boolean {
  if (spec.allowedImages.length > 0) return spec.allowedImages.some((p) => globMatch(p, image));
  return policyImages(spec).includes(image);
}

export function chooseDevImage(opts: { spec: DevPolicySpec; policyName: string; original: string; requested?: string }): ImageChoice {
  const { spec, original, requested } = opts;
  if (requested !== undefined) {
    if (isImageAllowed(spec, requested)) return { ok: true, image: requested, source: 'annotation' };
    const allowed = spec.allowedImages.length > 0 ? spec.allowedImages : policyImages(spec);
    return {
      ok: false,
      message:
        `dev.x/image "${requested}" is not allowed by DevPolicy ${opts.policyName}; allowed: ` +
        `${allowed.length ? allowed.join(', ') : '(none: the policy names no dev images)'}. ` +
        'Pick one of those, or ask a cluster admin to add it to allowedImages.',
    };
  }
  const rule = spec.images.find((r) => globMatch(r.match, original));
  if (rule) return { ok: true, image: rule.devImage, source: 'rule' };
  if (spec.defaultDevImage) return { ok: true, image: spec.defaultDevImage, source: 'default' };
  return { ok: true, image: original, source: 'unchanged' };
}
