// Fuzzing the admission routes (seeded and bounded, so a run is reproducible): random bodies, AdmissionReviews
// mutated from the golden cases, and random DevPolicies. Properties: no crash, no 5xx, every answer is a valid
// AdmissionReview (uid echoed) or a 4xx with a message. A failing input is saved as a regression case in
// test/unit/fuzz-regressions/ (replayed first on every run); reproduce a failure with FUZZ_SEED=<seed>.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import type { AdmissionContext } from '../../src/core/context.ts';
import { requestFor } from '../../src/core/preview.ts';
import { staticView } from '../../src/core/static-view.ts';
import { AdmissionReviewResponseSchema } from '../../src/schemas/admission.ts';
import { parseDevPolicy } from '../../src/schemas/policy.ts';
import { GOLDEN_SIGNER, clusterObjects, goldenContext, loadCases, requestOptions } from '../golden/golden.ts';
import { testApp } from './helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const REGRESSIONS = join(import.meta.dirname, 'fuzz-regressions');
const ROUTES = ['/mutate/pods', '/mutate/workloads', '/validate'] as const;

interface Sent {
  route: string;
  body: string;
  contentType: string;
}

let app: FastifyInstance;
let context: () => AdmissionContext = goldenContext;

/** Sends one body and checks the properties; returns a failure description or undefined. */
async function check(sent: Sent): Promise<string | undefined> {
  const res = await app.inject({ method: 'POST', url: sent.route, payload: sent.body, headers: { 'content-type': sent.contentType } });
  if (res.statusCode >= 500) return `HTTP ${res.statusCode}: ${res.body.slice(0, 300)}`;
  let json: unknown;
  try {
    json = res.json();
  } catch {
    return `HTTP ${res.statusCode} with a body that is not JSON: ${res.body.slice(0, 200)}`;
  }
  if (res.statusCode >= 400) {
    const message = (json as { message?: unknown }).message;
    return typeof message === 'string' && message.length > 0 ? undefined : `HTTP ${res.statusCode} without a message`;
  }
  if (res.statusCode !== 200) return `unexpected HTTP ${res.statusCode}`;
  const parsed = AdmissionReviewResponseSchema.safeParse(json);
  if (!parsed.success) return `200 but not an AdmissionReview: ${parsed.error.message.slice(0, 300)}`;
  const uid = (JSON.parse(sent.body) as { request?: { uid?: unknown } }).request?.uid;
  if (parsed.data.response.uid !== uid) return `uid not echoed: sent ${String(uid)}, got ${parsed.data.response.uid}`;
  // The core returns decisions as values; an exception it threw is caught and denied, but it is still a bug.
  if (parsed.data.response.status?.message?.includes('internal error in devx')) return `core threw: ${parsed.data.response.status.message}`;
  if (parsed.data.response.patch) {
    const ops = JSON.parse(Buffer.from(parsed.data.response.patch, 'base64').toString('utf8')) as unknown;
    if (!Array.isArray(ops)) return 'patch is not a JSON array';
  }
  return undefined;
}

function saveRegression(sent: Sent, failure: string): void {
  mkdirSync(REGRESSIONS, { recursive: true });
  const name = `seed-${SEED}-${Date.now()}.json`;
  writeFileSync(join(REGRESSIONS, name), JSON.stringify({ failure, ...sent }, null, 2));
}

async function property(sent: Sent): Promise<boolean> {
  const failure = await check(sent);
  if (failure) {
    saveRegression(sent, failure);
    assert.fail(`${failure}\n(saved to ${REGRESSIONS}; replay with FUZZ_SEED=${SEED})`);
  }
  return true;
}

const route = fc.constantFrom(...ROUTES);
const goldenRequests = loadCases().map((c) => requestFor(requestOptions(c)));

/** A JSON value to put where a field was: wrong types, empty values, deep nesting. */
const junk = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(null, '', 0, -1, [], {}, 'dev.x/enabled', 'true', '\u0000'));

/** Paths of every field in a JSON value (objects and arrays), to pick one to mutate. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function mutate(doc: unknown, path: Array<string | number>, op: 'delete' | 'replace', value: unknown): unknown {
  if (path.length === 0) return op === 'delete' ? undefined : value;
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (op === 'delete') {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
  return copy;
}

const mutatedReview = fc
  .record({ i: fc.nat(goldenRequests.length - 1), pick: fc.nat(), op: fc.constantFrom('delete' as const, 'replace' as const), value: junk, times: fc.integer({ min: 1, max: 3 }) })
  .map(({ i, pick, op, value, times }) => {
    let review: unknown = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: goldenRequests[i] };
    for (let t = 0; t < times; t++) {
      const all = paths(review);
      review = mutate(review, all[(pick + t * 7919) % all.length] ?? [], op, value);
    }
    return review;
  });

describe('fuzzing the admission routes', () => {
  before(async () => {
    app = testApp(() => context());
    await app.ready();
  });
  after(() => app.close());

  test('saved regression cases still pass', async () => {
    const files = readdirSync(REGRESSIONS).filter((f) => f.endsWith('.json'));
    assert.ok(files.length > 0, 'the regression directory holds at least the seed cases');
    for (const f of files) {
      const { route: r, body, contentType } = JSON.parse(readFileSync(join(REGRESSIONS, f), 'utf8')) as Sent;
      assert.equal(await check({ route: r, body, contentType }), undefined, f);
    }
  });

  test('random JSON bodies', async () => {
    await fc.assert(
      fc.asyncProperty(route, fc.jsonValue({ maxDepth: 4 }), async (r, v) => property({ route: r, body: JSON.stringify(v) ?? 'null', contentType: 'application/json' })),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('random bytes and content types', async () => {
    await fc.assert(
      fc.asyncProperty(route, fc.string({ maxLength: 200 }), fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8'), async (r, s, ct) =>
        property({ route: r, body: s, contentType: ct }),
      ),
      { seed: SEED, numRuns: RUNS },
    );
  });

  test('AdmissionReviews mutated from the golden cases', async () => {
    await fc.assert(
      fc.asyncProperty(route, mutatedReview, async (r, review) => property({ route: r, body: JSON.stringify(review) ?? 'null', contentType: 'application/json' })),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });

  test('random DevPolicies: parsed without throwing, and admission under them never fails', async () => {
    const cluster = clusterObjects().filter((o) => (o as { kind?: string }).kind === 'Namespace');
    const policySpec = fc.record(
      {
        images: fc.array(fc.record({ match: fc.constantFrom('*', 'nginx*', '*/bookinfo/*', '', '[', '**?'), devImage: fc.string() })),
        defaultDevImage: fc.string(),
        allowedImages: fc.array(fc.constantFrom('*', 'registry.example.com/*', '')),
        workDir: fc.constantFrom('/home/devx', 'relative', '/', '/a/../b', ''),
        command: fc.oneof(fc.array(fc.string()), junk),
        stripProbes: fc.oneof(fc.boolean(), junk),
        maxDuration: fc.constantFrom('8h', '', '1h30m', 'forever', '-1s'),
        maxWorkloads: fc.oneof(fc.integer({ min: -2, max: 20 }), junk),
        kinds: fc.array(fc.constantFrom('Deployment', 'Pod', 'Secret', 'CronJob')),
        subjects: fc.record({ users: fc.array(fc.string()), groups: fc.array(fc.constantFrom('developers', '')) }),
        sidecar: fc.record({ image: fc.string(), resources: fc.oneof(fc.constant(undefined), junk) }),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(policySpec, fc.nat(goldenRequests.length - 1), route, async (spec, i, r) => {
        const policy = { apiVersion: 'dev.x/v1alpha1', kind: 'DevPolicy', metadata: { name: 'default' }, spec };
        const parsed = parseDevPolicy(policy);
        assert.equal(typeof parsed.ok, 'boolean');
        const namespaces = cluster.map((n) => {
          const ns = structuredClone(n) as { metadata: { labels?: Record<string, string> } };
          ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'dev.x/policy': 'default' };
          return ns;
        });
        context = () => ({ view: staticView([...namespaces, policy]), now: new Date('2026-01-02T03:04:05Z'), version: 'fuzz', signer: GOLDEN_SIGNER });
        try {
          return await property({ route: r, body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: goldenRequests[i] }), contentType: 'application/json' });
        } finally {
          context = goldenContext;
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
