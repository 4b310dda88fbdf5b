// Golden cases: test/golden/cases/<case>.yaml -> <case>.golden.yaml. Every case runs offline through the core and
// through the HTTP routes (app.inject, the returned JSON patch applied), then once more to prove the second patch is
// empty. A golden without a case, or a case without a golden, fails. Regenerate with `npm run golden:refresh`.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import jsonpatch from 'fast-json-patch';
import { parse } from 'yaml';
import type { FastifyInstance } from 'fastify';
import type { KubeObject } from '../../src/core/kube.ts';
import { previewPod, requestFor, type RequestOptions } from '../../src/core/preview.ts';
import { staticView } from '../../src/core/static-view.ts';
import type { WorkloadKind } from '../../src/core/names.ts';
import {
  GOLDEN_DIR,
  GOLDEN_SIGNER,
  clusterObjects,
  GOLDEN_SUFFIX,
  goldenContext,
  goldenFiles,
  loadCases,
  renderCase,
  requestOptions,
  type GoldenCase,
} from '../golden/golden.ts';
import { testApp } from './helpers.ts';

const refresh = process.env.REFRESH_GOLDEN === 'true';
const cases = loadCases();

interface Answer {
  allowed: boolean;
  patched?: KubeObject;
  message?: string;
  warnings?: string[];
}

async function review(app: FastifyInstance, url: string, o: RequestOptions): Promise<Answer> {
  const request = requestFor(o);
  const res = await app.inject({ method: 'POST', url, payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request } });
  assert.equal(res.statusCode, 200, res.body);
  const body = res.json();
  assert.equal(body.response.uid, request.uid);
  const r = body.response;
  if (!r.allowed) return { allowed: false, message: r.status?.message };
  let patched = structuredClone(o.object);
  if (r.patch) {
    assert.equal(r.patchType, 'JSONPatch');
    const ops = JSON.parse(Buffer.from(r.patch, 'base64').toString('utf8'));
    patched = jsonpatch.applyPatch(patched, ops, true, false).newDocument;
  }
  return { allowed: true, patched, warnings: r.warnings };
}

function routeFor(c: GoldenCase): string {
  return c.object.kind === 'Pod' && !c.oldObject && (c.operation ?? 'CREATE') === 'CREATE' ? '/mutate/pods' : '/mutate/workloads';
}

describe('golden cases', () => {
  let app: FastifyInstance;
  before(async () => {
    app = testApp(goldenContext);
    await app.ready();
  });
  after(() => app.close());

  test('there are at least 30 cases and every golden file has a case', () => {
    assert.ok(cases.length >= 30, `only ${cases.length} golden cases`);
    const names = new Set(cases.map((c) => c.name));
    const stale = goldenFiles().filter((f) => !names.has(f.slice(0, -GOLDEN_SUFFIX.length)));
    if (refresh) for (const f of stale) unlinkSync(join(GOLDEN_DIR, f));
    else assert.deepEqual(stale, [], `stale golden files without a case: ${stale.join(', ')} (npm run golden:refresh removes them)`);
  });

  for (const c of cases) {
    test(`${c.name}: offline core matches the golden`, () => {
      const file = join(GOLDEN_DIR, c.name + GOLDEN_SUFFIX);
      const actual = renderCase(c, goldenContext());
      if (refresh) writeFileSync(file, actual);
      assert.ok(existsSync(file), `missing ${file}; run npm run golden:refresh`);
      assert.equal(actual, readFileSync(file, 'utf8'), `${c.name} differs from its golden; if the change is intended run npm run golden:refresh`);
    });

    test(`${c.name}: HTTP route with the patch applied gives the same, and a second pass is empty`, async () => {
      const golden = parse(readFileSync(join(GOLDEN_DIR, c.name + GOLDEN_SUFFIX), 'utf8'));
      const opts = requestOptions(c);
      const answer = await review(app, routeFor(c), opts);
      const expected = golden.admission;
      if (expected.decision === 'deny') {
        assert.equal(answer.allowed, false);
        assert.equal(answer.message, `devx: ${expected.message}`);
        return;
      }
      assert.equal(answer.allowed, true);
      const after = answer.patched as KubeObject;
      if (expected.decision === 'mutate') assert.deepEqual(after, expected.object);
      else assert.deepEqual(after, c.object);
      // Idempotency: the same route once more on the result (a reinvocation, or an update that changes nothing).
      const again = await review(app, routeFor(c), { ...opts, object: after, oldObject: opts.oldObject ? after : undefined });
      assert.equal(again.allowed, true);
      assert.deepEqual(again.patched, after, 'second pass must not change anything');
      // The validating webhook accepts what the mutating one produced.
      const v = await app.inject({ method: 'POST', url: '/validate', payload: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor({ ...opts, object: after }) } });
      assert.equal(v.json().response.allowed, true, v.body);
      if (golden.pod && expected.decision === 'mutate') {
        // The pod's owner chain: the workload as admitted (and its dev copy), known to the cluster view.
        const made = previewPod(c.object.kind as WorkloadKind, after, GOLDEN_SIGNER, opts.user?.username);
        assert.ok(made);
        const podApp = testApp(() => ({ ...goldenContext(), view: staticView([...clusterObjects(), ...made.owners]) }));
        try {
          const podAnswer = await review(podApp, '/mutate/pods', { object: made.pod, user: { username: 'system:serviceaccount:kube-system:replicaset-controller' } });
          if (golden.pod.decision === 'mutate') assert.deepEqual(podAnswer.patched, golden.pod.object);
          const podAgain = await review(podApp, '/mutate/pods', { object: podAnswer.patched as KubeObject });
          assert.deepEqual(podAgain.patched, podAnswer.patched, 'reinvocation of the pod webhook must return an empty patch');
        } finally {
          await podApp.close();
        }
      }
    });
  }
});
