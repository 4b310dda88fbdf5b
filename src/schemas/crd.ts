// The DevPolicy CustomResourceDefinition, generated from the zod schema (the single source of truth). The
// committed YAML in deploy/crds is checked against this by the tests; `npm run generate` rewrites it.
import { z } from 'zod';
import { DevPolicySpecSchema } from './policy.ts';

type JsonSchema = Record<string, unknown>;

/** zod's JSON Schema → a Kubernetes structural schema: no `additionalProperties: false` beside `properties`,
 * quantities as int-or-string, no `$schema`. */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (typeof node !== 'object' || node === null) return node;
  const src = node as JsonSchema;
  if (src['x-kubernetes-int-or-string']) {
    const out: JsonSchema = { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] };
    if (src.description) out.description = src.description;
    return out;
  }
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(src)) {
    if (k === '$schema' || (k === 'additionalProperties' && v === false)) continue;
    out[k] = structural(v);
  }
  return out;
}

export function devPolicyCrd(): Record<string, unknown> {
  const spec = structural(z.toJSONSchema(DevPolicySpecSchema, { io: 'input', target: 'openapi-3.0' }));
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'devpolicies.dev.x', labels: { 'app.kubernetes.io/name': 'devx', 'app.kubernetes.io/component': 'crd' } },
    spec: {
      group: 'dev.x',
      scope: 'Cluster',
      names: { plural: 'devpolicies', singular: 'devpolicy', kind: 'DevPolicy', listKind: 'DevPolicyList', shortNames: ['devpol'] },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Max-Duration', type: 'string', jsonPath: '.spec.maxDuration' },
            { name: 'Max-Workloads', type: 'integer', jsonPath: '.spec.maxWorkloads' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'DevPolicy decides where dev mode is allowed, for whom and with which images. Namespaces bind one with the dev.x/policy label.',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec: spec,
                status: {
                  type: 'object',
                  description: 'Written by devx: whether the policy is valid, and why not.',
                  'x-kubernetes-preserve-unknown-fields': true,
                },
              },
            },
          },
        },
      ],
    },
  };
}
