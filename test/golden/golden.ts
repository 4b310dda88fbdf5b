// Loading golden cases and rendering what devx makes of them. Shared by the golden test and the round-trip test.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, parse, stringify } from 'yaml';
import type { AdmissionContext } from '../../src/core/context.ts';
import type { KubeObject } from '../../src/core/kube.ts';
import { previewDevMode, type Preview, type RequestOptions } from '../../src/core/preview.ts';
import type { Decision } from '../../src/core/result.ts';
import { staticView } from '../../src/core/static-view.ts';
import type { UserInfo } from '../../src/schemas/admission.ts';
import { hmacSigner } from '../../src/tls/record-signer.ts';

export const GOLDEN_DIR = join(import.meta.dirname, 'cases');
/** A fixed record key, so the goldens' signatures are stable. */
export const GOLDEN_SIGNER = hmacSigner(Buffer.from('devx golden-test record key, 32B'));
export const GOLDEN_SUFFIX = '.golden.yaml';

export interface GoldenCase {
  name: string;
  description: string;
  user?: UserInfo;
  operation?: 'CREATE' | 'UPDATE';
  oldObject?: KubeObject;
  object: KubeObject;
}

export function loadCases(): GoldenCase[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.yaml') && !f.endsWith(GOLDEN_SUFFIX))
    .sort()
    .map((f) => ({ name: f.slice(0, -'.yaml'.length), ...(parse(readFileSync(join(GOLDEN_DIR, f), 'utf8')) as Omit<GoldenCase, 'name'>) }));
}

export function goldenFiles(): string[] {
  return readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(GOLDEN_SUFFIX));
}

export function clusterObjects(): unknown[] {
  return parseAllDocuments(readFileSync(join(import.meta.dirname, 'cluster.yaml'), 'utf8')).map((d) => d.toJS());
}

/** A fixed clock and version, so goldens do not change from run to run. */
export function goldenContext(): AdmissionContext {
  return { view: staticView(clusterObjects()), now: new Date('2026-01-02T03:04:05Z'), version: 'golden', signer: GOLDEN_SIGNER };
}

export const DEFAULT_USER: UserInfo = { username: 'dev', groups: ['developers', 'system:authenticated'] };

export function requestOptions(c: GoldenCase): RequestOptions {
  const o: RequestOptions = { object: c.object, oldObject: c.oldObject, user: c.user ?? DEFAULT_USER };
  if (c.operation) o.operation = c.operation;
  return o;
}

/** The golden rendering of one decision. */
export function renderDecision(d: Decision): Record<string, unknown> {
  if (d.kind === 'skip') return { decision: 'skip', reason: d.reason };
  if (d.kind === 'deny') return { decision: 'deny', reason: d.reason, message: d.message };
  return { decision: 'mutate', warnings: d.warnings, object: d.object };
}

export function renderPreview(p: Preview): Record<string, unknown> {
  const out: Record<string, unknown> = { admission: renderDecision(p.workload) };
  if (p.pod) out.pod = renderDecision(p.pod);
  return out;
}

export function renderCase(c: GoldenCase, ctx: AdmissionContext): string {
  return stringify(renderPreview(previewDevMode(requestOptions(c), ctx)), { lineWidth: 0 });
}
