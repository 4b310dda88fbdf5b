// Request bodies for the benchmark: the bookinfo `reviews` pod as its Deployment's ReplicaSet creates it in dev mode (without owners),
// and the same pod padded to 64 KiB (a large env list, as big pods really are).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubeObject } from '../src/core/kube.ts';
import { podFromTemplate, requestFor } from '../src/core/preview.ts';

const ROOT = join(import.meta.dirname, '..');

/**
 * The pod is sent without owners (a bare pod labelled at creation): with `--objects` devx has no record key shared
 * with anything, so no owner chain in a file can prove a Deployment entered dev mode through devx; the injection that
 * follows is the same.
 */
export function reviewsPod(): KubeObject {
  const golden = parse(readFileSync(join(ROOT, 'test/golden/cases/deployment-bookinfo-reviews.golden.yaml'), 'utf8'));
  const pod = podFromTemplate('Deployment', golden.admission.object as KubeObject);
  if (!pod) throw new Error('no pod template in the bookinfo golden');
  if (pod.metadata) delete pod.metadata.ownerReferences;
  return pod;
}

export function paddedPod(bytes: number): KubeObject {
  const pod = reviewsPod() as KubeObject & { spec: { containers: Array<{ env?: Array<{ name: string; value: string }> }> } };
  const env = pod.spec.containers[0]?.env ?? [];
  let i = 0;
  while (JSON.stringify(pod).length < bytes) env.push({ name: `SETTING_${i++}`, value: 'x'.repeat(200) });
  if (pod.spec.containers[0]) pod.spec.containers[0].env = env;
  return pod;
}

export function reviewBody(pod: KubeObject): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor({ object: pod, namespace: 'bookinfo', uid: 'bench-0000' }) });
}

/** The Namespace and DevPolicy devx runs with in the benchmark (`--objects`). */
export function objectsYaml(): string {
  const cluster = readFileSync(join(ROOT, 'test/golden/cluster.yaml'), 'utf8');
  return cluster + (cluster.endsWith('\n') ? '' : '\n') + '---\n' + stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } });
}
