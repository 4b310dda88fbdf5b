// `kubectl devx inject` as a user runs it: a real process, files in, YAML out, exit codes that mean something.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseAllDocuments, parse, stringify } from 'yaml';
import { clusterObjects } from '../golden/golden.ts';

const CLI = join(import.meta.dirname, '../../src/cli/kubectl-devx.ts');
let dir: string;

function run(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'devx-inject-'));
  const policy = clusterObjects().find((o) => (o as { kind?: string; metadata?: { name?: string } }).kind === 'DevPolicy' && (o as { metadata: { name: string } }).metadata.name === 'default');
  writeFileSync(join(dir, 'policy.yaml'), stringify(policy));
  const golden = parse(readFileSync(join(import.meta.dirname, '../golden/cases/deployment-bookinfo-reviews-create.yaml'), 'utf8'));
  const reviews = golden.object;
  delete reviews.metadata.labels['dev.x/enabled'];
  writeFileSync(join(dir, 'reviews.yaml'), stringify(reviews));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a Deployment: the workload as admission leaves it, then the pod its template becomes', () => {
  const r = run(['inject', '-f', join(dir, 'reviews.yaml'), '--policy', join(dir, 'policy.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJS());
  assert.equal(docs.length, 2);
  assert.equal(docs[0].kind, 'Deployment');
  assert.equal(docs[0].spec.replicas, 1);
  assert.equal(docs[0].spec.template.metadata.labels['dev.x/enabled'], 'true');
  assert.equal(docs[1].kind, 'Pod');
  assert.equal(docs[1].spec.containers[0].image, 'registry.example.com/dev/java:21');
  assert.equal(docs[1].spec.containers[0].readinessProbe, undefined);
  assert.deepEqual(docs[1].spec.containers.map((c: { name: string }) => c.name), ['reviews', 'devx-sync']);
});

test('stdin works, and a denied object exits 1 with the reason', () => {
  const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'dev.x/image': 'docker.io/evil:1' } }, spec: { containers: [{ name: 'a', image: 'nginx' }] } };
  const r = run(['inject', '-f', '-', '--policy', join(dir, 'policy.yaml')], stringify(bad));
  assert.equal(r.code, 1);
  assert.match(r.stdout, /Pod\/p: denied: dev\.x\/image "docker\.io\/evil:1" is not allowed by DevPolicy default/);
});

test('bad usage and unreadable input exit 2 with a message', () => {
  assert.equal(run(['inject', '-f', join(dir, 'reviews.yaml')]).code, 2);
  const missing = run(['inject', '-f', join(dir, 'nope.yaml'), '--policy', join(dir, 'policy.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml/);
  writeFileSync(join(dir, 'broken.yaml'), 'kind: DevPolicy\nspec: [');
  const broken = run(['inject', '-f', join(dir, 'reviews.yaml'), '--policy', join(dir, 'broken.yaml')]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /broken\.yaml/);
});
