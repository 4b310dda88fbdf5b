// Dev mode end to end on the real control plane: etcd, kube-apiserver and kube-controller-manager built from Go
// modules, devx-webhook running outside the cluster with its webhooks registered at a loopback URL, and kubectl.
// Pods stay Pending (no scheduler, no kubelet): admission, validation, Pod Security and the controllers are real.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, bookinfoReviews, eventually, getJson, installCrd, startDevx, type DevxServer } from './harness/devx.ts';
import { generateCA, issueCertificate } from '../../src/tls/pki.ts';

let cp: ControlPlane;
let devx: DevxServer;

async function kubectlOk(args: string[], opts: Parameters<ControlPlane['kubectl']>[1] = {}): Promise<{ stdout: string; stderr: string }> {
  const r = await cp.kubectl(args, opts);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
  return r;
}

async function apply(obj: unknown, namespace?: string): Promise<void> {
  await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(obj), ...(namespace ? { namespace } : {}) });
}

type Pod = { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp: string; deletionTimestamp?: string }; spec: any };

async function pods(namespace: string, selector: string): Promise<Pod[]> {
  return (await getJson(cp, ['pods', '-l', selector], namespace)).items as Pod[];
}

const injected = (p: Pod): boolean => p.metadata.annotations?.['dev.x/status'] !== undefined;
const alive = (p: Pod): boolean => !p.metadata.deletionTimestamp;

before(async () => {
  cp = await startControlPlane();
  await installCrd(cp);
  await applyPolicy(cp);
  await applyPolicy(cp, { name: 'team-only', spec: { subjects: { users: ['alice'], groups: [] } } });
  await cp.createNamespace('bookinfo', { 'dev.x/policy': 'default' });
  // devx's own namespace: its Lease (the reconciler re-pins a scaled workload) and its record key.
  await cp.createNamespace('devx-system');
  devx = await startDevx(cp);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
});

describe('dev mode on the real API server', () => {
  test('1. bookinfo reviews: label -> injected pod and replicas 1; unlabel -> spec exactly as before, new pods plain', async () => {
    await apply(bookinfoReviews('bookinfo', 3));
    await eventually('3 plain reviews pods', async () => (await pods('bookinfo', 'app=reviews')).filter(alive).length === 3);
    const before = await getJson(cp, ['deploy', 'reviews'], 'bookinfo');

    const labelled = await kubectlOk(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: 'bookinfo' });
    assert.match(labelled.stderr, /Warning: dev mode on: replicas 3 -> 1/);
    assert.match(labelled.stderr, /registry\.example\.com\/dev\/java:21/);
    const dev = await eventually('an injected reviews pod', async () => (await pods('bookinfo', 'app=reviews,dev.x/enabled=true')).find(injected));
    const main = dev.spec.containers.find((c: any) => c.name === 'reviews');
    assert.equal(main.image, 'registry.example.com/dev/java:21');
    assert.equal(main.readinessProbe, undefined);
    assert.equal(main.workingDir, '/home/devx');
    assert.ok(dev.spec.containers.some((c: any) => c.name === 'devx-sync'), 'devx-sync sidecar');
    const volumes = dev.spec.volumes.map((v: any) => v.name);
    for (const v of ['devx-workdir', 'devx-sync-home', 'devx-sync-secret', 'tmp', 'wlp-output']) assert.ok(volumes.includes(v), `volume ${v}`);
    assert.equal(dev.spec.volumes.find((v: any) => v.name === 'devx-sync-secret').secret.secretName, 'devx-sync-deployment-reviews');
    const during = await getJson(cp, ['deploy', 'reviews'], 'bookinfo');
    assert.equal(during.spec.replicas, 1);
    assert.equal(during.metadata.annotations['dev.x/original-replicas'], '3');

    const podsBefore = new Set((await pods('bookinfo', 'app=reviews')).map((p) => p.metadata.name));
    const unlabelled = await kubectlOk(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: 'bookinfo' });
    assert.match(unlabelled.stderr, /dev mode off: replicas 1 -> 3/);
    const restored = await getJson(cp, ['deploy', 'reviews'], 'bookinfo');
    assert.deepEqual(restored.spec, before.spec, 'the Deployment spec must be exactly the original');
    assert.equal(Object.keys(restored.metadata.annotations ?? {}).filter((k) => k.startsWith('dev.x/')).length, 0);
    // The restored template is the original one, so the Deployment goes back to its original ReplicaSet. With no
    // kubelet no pod ever becomes ready, so the rollout itself never finishes here; what must hold is that the pods
    // the restored template creates are plain.
    const hash = (await getJson(cp, ['rs', '-l', 'app=reviews'], 'bookinfo')).items.find((r: any) => !r.spec.template.metadata.labels['dev.x/enabled']).metadata.labels['pod-template-hash'];
    const fresh = await eventually('a pod created from the restored template', async () =>
      (await pods('bookinfo', `app=reviews,pod-template-hash=${hash}`)).find((p) => !podsBefore.has(p.metadata.name)),
    );
    assert.equal(injected(fresh), false);
    assert.equal(fresh.metadata.labels?.['dev.x/enabled'], undefined);
    assert.deepEqual(fresh.spec.containers.map((c: any) => c.name), ['reviews']);
    assert.equal(fresh.spec.containers[0].image, 'codingcorp-docker.pkg.coding.net/nocalhost/bookinfo/reviews:latest');
  });

  test('2. a namespace without dev.x/policy: the label is refused with how to enable it', async () => {
    await cp.createNamespace('plain');
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } } } }, 'plain');
    const r = await cp.kubectl(['label', 'deploy', 'web', 'dev.x/enabled=true'], { namespace: 'plain' });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /dev mode is not enabled in namespace plain/);
    assert.match(r.stderr, /kubectl label namespace plain dev\.x\/policy=/);
    const web = await getJson(cp, ['deploy', 'web'], 'plain');
    assert.equal(web.metadata.labels?.['dev.x/enabled'], undefined);
  });

  test('3. policy subjects: a user outside them is denied, a user inside is allowed', async () => {
    await cp.createNamespace('team', { 'dev.x/policy': 'team-only' });
    for (const user of ['alice', 'mallory']) await kubectlOk(['create', 'rolebinding', `${user}-edit`, '--clusterrole=edit', `--user=${user}`], { namespace: 'team' });
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'api' }, spec: { replicas: 2, selector: { matchLabels: { app: 'api' } }, template: { metadata: { labels: { app: 'api' } }, spec: { containers: [{ name: 'api', image: 'example.com/api:1' }] } } } }, 'team');
    const denied = await cp.kubectl(['label', 'deploy', 'api', 'dev.x/enabled=true'], { namespace: 'team', as: 'mallory' });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /user "mallory" may not turn dev mode on: DevPolicy team-only allows only users alice/);
    await kubectlOk(['label', 'deploy', 'api', 'dev.x/enabled=true'], { namespace: 'team', as: 'alice' });
    assert.equal((await getJson(cp, ['deploy', 'api'], 'team')).metadata.annotations['dev.x/enabled-by'], 'alice');
  });

  test('4. Pod Security restricted: a compliant workload still gets its dev pod admitted', async () => {
    await cp.createNamespace('secure', { 'dev.x/policy': 'default', 'pod-security.kubernetes.io/enforce': 'restricted' });
    const sc = { runAsNonRoot: true, runAsUser: 10001, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'safe', labels: { 'dev.x/enabled': 'true' } }, spec: { replicas: 2, selector: { matchLabels: { app: 'safe' } }, template: { metadata: { labels: { app: 'safe' } }, spec: { securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } }, containers: [{ name: 'safe', image: 'example.com/safe:1', securityContext: sc }] } } } }, 'secure');
    const dev = await eventually('an injected pod under restricted', async () => (await pods('secure', 'app=safe')).find(injected));
    assert.ok(dev.spec.containers.some((c: any) => c.name === 'devx-sync'));
    const rs = await getJson(cp, ['rs', '-l', 'app=safe'], 'secure');
    for (const r of rs.items) {
      const failure = (r.status.conditions ?? []).find((c: any) => c.type === 'ReplicaFailure');
      assert.equal(failure, undefined, `ReplicaSet ${r.metadata.name}: ${failure?.message}`);
    }
  });

  test('5. kubectl apply of a changed manifest during dev mode keeps dev mode; unlabel restores the new spec', async () => {
    await cp.createNamespace('apply-ns', { 'dev.x/policy': 'default' });
    await cp.createNamespace('apply-control');
    const manifest = (image: string) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'shop' }, spec: { replicas: 3, selector: { matchLabels: { app: 'shop' } }, template: { metadata: { labels: { app: 'shop' } }, spec: { containers: [{ name: 'shop', image, env: [{ name: 'MODE', value: image }] }] } } } });
    await apply(manifest('example.com/shop:1'), 'apply-ns');
    await kubectlOk(['label', 'deploy', 'shop', 'dev.x/enabled=true'], { namespace: 'apply-ns' });
    await apply(manifest('example.com/shop:2'), 'apply-ns');
    const during = await getJson(cp, ['deploy', 'shop'], 'apply-ns');
    assert.equal(during.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(during.spec.replicas, 1);
    assert.equal(during.spec.template.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(during.spec.template.spec.containers[0].image, 'example.com/shop:2');
    await kubectlOk(['label', 'deploy', 'shop', 'dev.x/enabled-'], { namespace: 'apply-ns' });
    await apply(manifest('example.com/shop:2'), 'apply-control');
    const restored = await getJson(cp, ['deploy', 'shop'], 'apply-ns');
    const control = await getJson(cp, ['deploy', 'shop'], 'apply-control');
    assert.deepEqual(restored.spec, control.spec);
  });

  test('6. kubectl scale during dev mode leaves 1 replica; unlabel restores the scaled count', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'scaled' }, spec: { replicas: 2, selector: { matchLabels: { app: 'scaled' } }, template: { metadata: { labels: { app: 'scaled' } }, spec: { containers: [{ name: 's', image: 'example.com/s:1' }] } } } }, 'bookinfo');
    await kubectlOk(['label', 'deploy', 'scaled', 'dev.x/enabled=true'], { namespace: 'bookinfo' });
    const scaled = await kubectlOk(['scale', 'deploy', 'scaled', '--replicas=5'], { namespace: 'bookinfo' });
    assert.match(scaled.stderr, /goes back to 1 replica; 5 will be restored/);
    // The reconciler reads the scale from the API server, records it and pins the replicas back (no webhook side effect).
    await eventually('5 recorded as the original, 1 replica', async () => {
      const d = await getJson(cp, ['deploy', 'scaled'], 'bookinfo');
      return d.spec.replicas === 1 && d.metadata.annotations['dev.x/original-replicas'] === '5';
    });
    await kubectlOk(['label', 'deploy', 'scaled', 'dev.x/enabled-'], { namespace: 'bookinfo' });
    assert.equal((await getJson(cp, ['deploy', 'scaled'], 'bookinfo')).spec.replicas, 5);
  });

  test('7. a pod created with the label is injected exactly once, also when another mutating webhook forces reinvocation', async () => {
    const other = await startOtherWebhook();
    try {
      const bare = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', labels: { 'dev.x/enabled': 'true' } }, spec: { containers: [{ name: 'app', image: 'nginx:1.27' }] } };
      await apply(bare, 'bookinfo');
      const pod = await getJson(cp, ['pod', 'solo'], 'bookinfo');
      assert.equal(pod.metadata.annotations['other.example/seen'], 'true', 'the second webhook ran');
      assert.equal(pod.spec.containers.filter((c: any) => c.name === 'devx-sync').length, 1);
      assert.equal(pod.spec.volumes.filter((v: any) => v.name === 'devx-workdir').length, 1);
      assert.equal(pod.spec.containers[0].volumeMounts.filter((m: any) => m.name === 'devx-workdir').length, 1);
      const calls = devx.decisions().filter((d) => d.route === 'pods' && d.name === 'solo');
      assert.ok(calls.length >= 2, `devx was reinvoked (${calls.length} calls)`);
      assert.ok(calls.slice(1).every((d) => d.result === 'skip'), 'reinvocations change nothing');
    } finally {
      await other.close();
    }
  });

  test('8. kubectl label --dry-run=server shows the result and changes nothing', async () => {
    await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'dry' }, spec: { replicas: 4, selector: { matchLabels: { app: 'dry' } }, template: { metadata: { labels: { app: 'dry' } }, spec: { containers: [{ name: 'd', image: 'example.com/d:1' }] } } } }, 'bookinfo');
    // kubectl label prints its own copy of the object; what the server made of it shows in the warnings, and the
    // same change as a server-side dry-run patch returns the mutated object itself.
    const r = await kubectlOk(['label', 'deploy', 'dry', 'dev.x/enabled=true', '--dry-run=server'], { namespace: 'bookinfo' });
    assert.match(r.stderr, /Warning: dev mode on: replicas 4 -> 1/);
    const patched = await kubectlOk(['patch', 'deploy', 'dry', '--dry-run=server', '-o', 'json', '--type=merge', '-p', '{"metadata":{"labels":{"dev.x/enabled":"true"}}}'], { namespace: 'bookinfo' });
    const preview = JSON.parse(patched.stdout);
    assert.equal(preview.spec.replicas, 1);
    assert.equal(preview.spec.template.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(preview.metadata.annotations['dev.x/original-replicas'], '4');
    const real = await getJson(cp, ['deploy', 'dry'], 'bookinfo');
    assert.equal(real.spec.replicas, 4);
    assert.equal(real.metadata.labels?.['dev.x/enabled'], undefined);
  });

  test('9. with devx stopped, workloads without the label are created and updated normally', async () => {
    await devx.stop();
    try {
      await apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'while-down' }, spec: { replicas: 1, selector: { matchLabels: { app: 'wd' } }, template: { metadata: { labels: { app: 'wd' } }, spec: { containers: [{ name: 'w', image: 'example.com/w:1' }] } } } }, 'bookinfo');
      await kubectlOk(['scale', 'deploy', 'while-down', '--replicas=2'], { namespace: 'bookinfo' });
      await kubectlOk(['set', 'image', 'deploy/while-down', 'w=example.com/w:2'], { namespace: 'bookinfo' });
      // Pods of the new template are created while devx is down (the rollout itself never finishes without a kubelet).
      await eventually('a pod of the updated template', async () => (await pods('bookinfo', 'app=wd')).some((p) => alive(p) && p.spec.containers[0].image === 'example.com/w:2'));
      const wd = await getJson(cp, ['deploy', 'while-down'], 'bookinfo');
      assert.equal(wd.spec.replicas, 2);
      const refused = await cp.kubectl(['label', 'deploy', 'while-down', 'dev.x/enabled=true'], { namespace: 'bookinfo' });
      assert.notEqual(refused.code, 0, 'entering dev mode needs devx: refused rather than half-applied');
    } finally {
      devx = await startDevx(cp);
    }
  });

  test('10. a StatefulSet enters and leaves dev mode; a CronJob is suspended and restored', async () => {
    // Parallel pod management: with OrderedReady the StatefulSet controller waits for every pod to be Running and
    // Ready before it changes anything, and without a kubelet none ever is.
    await apply({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db' }, spec: { replicas: 3, serviceName: 'db', podManagementPolicy: 'Parallel', selector: { matchLabels: { app: 'db' } }, template: { metadata: { labels: { app: 'db' } }, spec: { containers: [{ name: 'db', image: 'example.com/db:1', readinessProbe: { tcpSocket: { port: 5432 } } }] } } } }, 'bookinfo');
    const sBefore = await getJson(cp, ['sts', 'db'], 'bookinfo');
    await kubectlOk(['label', 'sts', 'db', 'dev.x/enabled=true'], { namespace: 'bookinfo' });
    const dev = await eventually('an injected StatefulSet pod', async () => (await pods('bookinfo', 'app=db')).find(injected));
    assert.equal(dev.spec.containers[0].readinessProbe, undefined);
    assert.equal((await getJson(cp, ['sts', 'db'], 'bookinfo')).spec.replicas, 1);
    await kubectlOk(['label', 'sts', 'db', 'dev.x/enabled-'], { namespace: 'bookinfo' });
    assert.deepEqual((await getJson(cp, ['sts', 'db'], 'bookinfo')).spec, sBefore.spec);

    await apply({ apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'n', image: 'example.com/n:1' }] } } } } } }, 'bookinfo');
    const cBefore = await getJson(cp, ['cronjob', 'nightly'], 'bookinfo');
    await kubectlOk(['label', 'cronjob', 'nightly', 'dev.x/enabled=true'], { namespace: 'bookinfo' });
    const during = await getJson(cp, ['cronjob', 'nightly'], 'bookinfo');
    assert.equal(during.spec.suspend, true);
    assert.equal(during.spec.jobTemplate.spec.template.metadata.labels['dev.x/enabled'], 'true');
    await kubectlOk(['label', 'cronjob', 'nightly', 'dev.x/enabled-'], { namespace: 'bookinfo' });
    assert.deepEqual((await getJson(cp, ['cronjob', 'nightly'], 'bookinfo')).spec, cBefore.spec);
  });
});

/** A second mutating webhook that annotates every labelled pod, ordered after devx (configurations run by name). */
async function startOtherWebhook(): Promise<{ close(): Promise<void> }> {
  const now = new Date(Date.now() - 60_000);
  const ca = generateCA({ commonName: 'other-ca', notBefore: now, validityMs: 3600_000 });
  const cert = issueCertificate(ca, { commonName: 'other', ipAddresses: ['127.0.0.1'], usage: 'server', notBefore: now, validityMs: 3600_000 });
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const review = JSON.parse(body);
      const anns = review.request.object.metadata.annotations;
      const patch = anns?.['other.example/seen']
        ? []
        : [anns ? { op: 'add', path: '/metadata/annotations/other.example~1seen', value: 'true' } : { op: 'add', path: '/metadata/annotations', value: { 'other.example/seen': 'true' } }];
      const response: Record<string, unknown> = { uid: review.request.uid, allowed: true };
      if (patch.length) Object.assign(response, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const config = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'zz-other' },
    webhooks: [
      {
        name: 'other.example.com',
        clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: Buffer.from(ca.certPem).toString('base64') },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], operations: ['CREATE'] }],
        objectSelector: { matchLabels: { 'dev.x/enabled': 'true' } },
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        reinvocationPolicy: 'IfNeeded',
        failurePolicy: 'Fail',
      },
    ],
  };
  await kubectlOk(['apply', '-f', '-'], { input: JSON.stringify(config) });
  return {
    close: async () => {
      await cp.kubectl(['delete', 'mutatingwebhookconfiguration', 'zz-other']);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
