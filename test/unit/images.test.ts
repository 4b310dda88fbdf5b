// The two image glob dialects (src/core/images.ts): allowedImages, a security boundary where `*` never crosses `/`
// (DESIGN §10), and images[].match, the admin's rule on the original image where `*` matches anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseDevImage, imagePatternMatch, isImageAllowed, originalImageMatch } from '../../src/core/images.ts';
import { DevPolicySpecSchema, type DevPolicySpec } from '../../src/schemas/policy.ts';

test('allowedImages: `*` does not cross `/`, so a registry suffix in a path of another registry is refused', () => {
  assert.equal(imagePatternMatch('*.example.com/*', 'attacker.io/x.example.com/miner:1'), false, 'the attack');
  assert.equal(imagePatternMatch('*.example.com/*', 'registry.example.com/miner:1'), true);
  assert.equal(imagePatternMatch('*.example.com/*', 'registry.example.com/a/miner:1'), false);
  assert.equal(imagePatternMatch('registry.example.com/dev/*', 'attacker.io/registry.example.com/dev/x:1'), false);
});

test('allowedImages: `registry.example.com/dev/*` admits one path segment below dev/, no deeper', () => {
  const p = 'registry.example.com/dev/*';
  assert.equal(imagePatternMatch(p, 'registry.example.com/dev/java:21'), true);
  assert.equal(imagePatternMatch(p, 'registry.example.com/dev/java@sha256:0123abcd'), true);
  assert.equal(imagePatternMatch(p, 'registry.example.com/dev/x/y:1'), false);
  assert.equal(imagePatternMatch(p, 'registry.example.com/devtools/java:21'), false);
  assert.equal(imagePatternMatch(p, 'registry.example.com/dev/'), true, '`*` may be empty');
  assert.equal(imagePatternMatch(p, 'registry.example.com/dev'), false);
});

test('allowedImages: `**` crosses `/`, `?` is one character other than `/`', () => {
  assert.equal(imagePatternMatch('registry.example.com/dev/**', 'registry.example.com/dev/x/y:1'), true);
  assert.equal(imagePatternMatch('registry.example.com/dev/**', 'registry.example.com/dev/java:21'), true);
  assert.equal(imagePatternMatch('registry.example.com/dev/**', 'registry.example.com/prod/java:21'), false);
  assert.equal(imagePatternMatch('**/java:21', 'a/b/c/java:21'), true);
  assert.equal(imagePatternMatch('**', 'any/thing/at:all'), true);
  assert.equal(imagePatternMatch('*', 'nginx:1.27'), true);
  assert.equal(imagePatternMatch('*', 'library/nginx:1.27'), false);
  assert.equal(imagePatternMatch('registry.example.com/dev/java:2?', 'registry.example.com/dev/java:21'), true);
  assert.equal(imagePatternMatch('registry.example.com/dev?java:21', 'registry.example.com/dev/java:21'), false);
  assert.equal(imagePatternMatch('registry.example.com/dev/java:2?', 'registry.example.com/dev/java:2'), false);
});

test('allowedImages: regex metacharacters are literal, and the whole image must match', () => {
  assert.equal(imagePatternMatch('registry.example.com/dev/*', 'registryXexampleYcom/dev/java:21'), false, '`.` is a dot');
  assert.equal(imagePatternMatch('reg(istry|x).io/*', 'registry.io/a'), false);
  assert.equal(imagePatternMatch('reg(istry|x).io/*', 'reg(istry|x).io/a'), true);
  assert.equal(imagePatternMatch('a+b/[x]/^$/{1}\\/*', 'a+b/[x]/^$/{1}\\/img'), true);
  assert.equal(imagePatternMatch('a+b/*', 'aab/img'), false);
  assert.equal(imagePatternMatch('registry.example.com/dev/*', 'x registry.example.com/dev/java:21'), false, 'anchored at the start');
  assert.equal(imagePatternMatch('registry.example.com/dev/java', 'registry.example.com/dev/java:21'), false, 'anchored at the end');
  assert.equal(imagePatternMatch('constructor', 'constructor'), true, 'a token that is also an object key is literal');
});

test('images[].match keeps `*` matching anything, `/` included (it picks a dev image, it guards nothing)', () => {
  assert.equal(originalImageMatch('*/bookinfo/reviews*', 'codingcorp-docker.pkg.coding.net/nocalhost/bookinfo/reviews:latest'), true);
  assert.equal(imagePatternMatch('*/bookinfo/reviews*', 'codingcorp-docker.pkg.coding.net/nocalhost/bookinfo/reviews:latest'), false, 'the other dialect would not');
  assert.equal(originalImageMatch('nginx*', 'nginx:1.27'), true);
  assert.equal(originalImageMatch('*nginx*', 'docker.io/library/nginx:1.27'), true);
  assert.equal(originalImageMatch('n?inx:1.27', 'nginx:1.27'), true);
  assert.equal(originalImageMatch('nginx.1.27', 'nginx:1.27'), false, '`.` is literal here too');
  assert.equal(originalImageMatch('*/bookinfo/reviews*', 'docker.io/istio/ratings:1'), false);
});

function spec(fields: Record<string, unknown>): DevPolicySpec {
  return DevPolicySpecSchema.parse(fields);
}

test('dev.x/image is checked with the allowedImages dialect; the rule on the original image with the other one', () => {
  const s = spec({ images: [{ match: '*/bookinfo/reviews*', devImage: 'registry.example.com/dev/java:21' }], allowedImages: ['*.example.com/*'] });
  assert.equal(isImageAllowed(s, 'attacker.io/x.example.com/miner:1'), false);
  assert.equal(isImageAllowed(s, 'registry.example.com/java:21'), true);
  const refused = chooseDevImage({ spec: s, policyName: 'default', original: 'nginx:1', requested: 'attacker.io/x.example.com/miner:1' });
  assert.equal(refused.ok, false);
  const rule = chooseDevImage({ spec: s, policyName: 'default', original: 'codingcorp-docker.pkg.coding.net/nocalhost/bookinfo/reviews:latest' });
  assert.deepEqual(rule, { ok: true, value: { image: 'registry.example.com/dev/java:21', source: 'rule' } });
});
