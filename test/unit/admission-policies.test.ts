// devx's ValidatingAdmissionPolicies as data (DESIGN §10): names and bindings, who they apply to, and that the marks
// they require are the ones devx's code writes. What they allow and deny is shown on a real API server in
// test/e2e/admission-policies.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { admissionPolicies, admissionPolicyObjects, OWN_SECRETS, SYNC_SECRET_MARKS, USE_VERB } from '../../src/k8s/admission-policies.ts';
import { LABEL_COPY } from '../../src/core/names.ts';
import { RECORD_KEY_SECRET } from '../../src/k8s/record-key-secret.ts';
import { desiredCopy } from '../../src/reconciler/copies.ts';
import { SYNC_SECRET_LABELS } from '../../src/reconciler/sync-secret-object.ts';
import { ServerConfigSchema } from '../../src/schemas/server-config.ts';

const opts = { namespace: 'devx-system', serviceAccount: 'devx' };

test('names: every policy has a binding of the same name that denies; the ClusterRole grants only "use" on DevPolicies', () => {
  const p = admissionPolicies(opts);
  const objects = admissionPolicyObjects(p);
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    [
      'ClusterRole/devx-policy-user',
      'ValidatingAdmissionPolicy/devx-policy-use',
      'ValidatingAdmissionPolicyBinding/devx-policy-use',
      'ValidatingAdmissionPolicy/devx-service-account',
      'ValidatingAdmissionPolicyBinding/devx-service-account',
      'ValidatingAdmissionPolicy/devx-service-account-pods',
      'ValidatingAdmissionPolicyBinding/devx-service-account-pods',
      'ValidatingAdmissionPolicy/devx-service-account-events',
      'ValidatingAdmissionPolicyBinding/devx-service-account-events',
    ],
  );
  for (const { policy, binding } of [p.policyUse, ...p.serviceAccount]) {
    assert.equal(binding.spec.policyName, policy.metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
    assert.equal(policy.spec.failurePolicy, 'Fail', `${policy.metadata.name}: an expression that cannot be evaluated denies`);
    for (const v of policy.spec.validations ?? []) {
      assert.equal(v.reason, 'Forbidden');
      assert.ok(v.message || v.messageExpression, `${policy.metadata.name}: every denial says why`);
    }
  }
  // Not aggregated into admin/edit: a namespace admin must not be able to opt their own namespace in.
  assert.deepEqual(p.policyUserRole.rules, [{ apiGroups: ['dev.x'], resources: ['devpolicies'], verbs: [USE_VERB] }]);
  assert.equal(Object.keys(p.policyUserRole.metadata.labels).some((k) => k.startsWith('rbac.authorization.k8s.io/aggregate')), false);
  assert.match(p.policyUse.policy.spec.validations?.[0]?.messageExpression ?? '', /bind the ClusterRole devx-policy-user/);
});

test('the name prefix and the release decide names, the ServiceAccount matched and its own namespace', () => {
  const p = admissionPolicies({ namespace: 'platform', serviceAccount: 'dev-mode', name: 'blue' });
  assert.equal(p.policyUserRole.metadata.name, 'blue-policy-user');
  assert.match(p.policyUse.policy.spec.validations?.[0]?.messageExpression ?? '', /ClusterRole blue-policy-user/);
  for (const { policy } of p.serviceAccount) {
    assert.deepEqual(policy.spec.matchConditions, [{ name: 'devx-service-account', expression: "request.userInfo.username == 'system:serviceaccount:platform:dev-mode'" }]);
  }
  const main = p.serviceAccount[0]?.policy.spec;
  assert.equal(main?.variables?.find((v) => v.name === 'own')?.expression, "request.namespace == 'platform'");
  // Names go into CEL string literals: anything that could break out of one is refused.
  assert.throws(() => admissionPolicies({ namespace: "x' || true || '", serviceAccount: 'devx' }), /CEL literal/);
});

test('the marks required are the ones devx writes: sync Secret labels, the copy label, its own Secrets', () => {
  assert.deepEqual(SYNC_SECRET_MARKS, SYNC_SECRET_LABELS);
  const source = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'batch', namespace: 'team', uid: 'u1' }, spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }] } } } };
  assert.ok(desiredCopy('Job', source)?.metadata?.labels?.[LABEL_COPY], 'a dev copy carries dev.x/copy');
  assert.ok(OWN_SECRETS.includes(ServerConfigSchema.parse({}).caSecretName as (typeof OWN_SECRETS)[number]), 'the default CA Secret');
  assert.ok(OWN_SECRETS.includes(RECORD_KEY_SECRET as (typeof OWN_SECRETS)[number]), 'the records’ HMAC key');
});

test('the namespace policy looks at every way a label reaches a Namespace, and only when dev.x/policy is set or changed', () => {
  const spec = admissionPolicies(opts).policyUse.policy.spec;
  assert.deepEqual(spec.matchConstraints?.resourceRules?.[0]?.resources, ['namespaces', 'namespaces/status', 'namespaces/finalize']);
  assert.deepEqual(spec.matchConstraints?.resourceRules?.[0]?.operations, ['CREATE', 'UPDATE']);
  assert.match(spec.validations?.[0]?.expression ?? '', /^authorizer\.group\('dev\.x'\)\.resource\('devpolicies'\)\.name\(variables\.policy\)\.check\('use'\)\.allowed\(\)$/);
});
