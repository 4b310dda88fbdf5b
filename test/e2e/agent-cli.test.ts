// `kubectl devx up`, `down`, `status` and the sync command's refusals, against the real control plane with devx
// running: the label goes on and off through the real webhook, status reads what the API server holds, and every
// refusal comes with its exit code and a message that says what to do (RBAC ones name the missing verb).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, eventually, getJson, installCrd, startDevx, type DevxServer } from './harness/devx.ts';
import { ensureSyncSecret, runAgent } from './harness/syncthing.ts';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { agentKube } from '../../src/k8s/agent-api.ts';
import { forwardSocket, PortForwardRefusedError } from '../../src/k8s/portforward.ts';

const NS = 'agent';
const run = promisify(execFile);
let cp: ControlPlane;
let devx: DevxServer;
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-agent-cli-'));
  cp = await startControlPlane();
  await installCrd(cp);
  await applyPolicy(cp);
  await cp.createNamespace(NS, { 'dev.x/policy': 'default' });
  await cp.createNamespace('other', { 'dev.x/policy': 'default' });
  await cp.createNamespace('plain');
  devx = await startDevx(cp);
  for (const [ns, name] of [[NS, 'web'], [NS, 'api'], [NS, 'idle'], [NS, 'dup'], ['other', 'svc'], ['plain', 'web']] as const) await apply(deployment(name), ns);
  await apply({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'dup' }, spec: { serviceName: 'dup', selector: { matchLabels: { app: 'dup-sts' } }, template: { metadata: { labels: { app: 'dup-sts' } }, spec: { containers: [{ name: 'c', image: 'example.com/c:1' }] } } } }, NS);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function deployment(name: string): Record<string, unknown> {
  return { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name }, spec: { replicas: 2, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `example.com/${name}:1` }] } } } };
}

async function apply(obj: unknown, namespace: string): Promise<void> {
  const r = await cp.kubectl(['apply', '-f', '-'], { namespace, input: JSON.stringify(obj) });
  assert.equal(r.code, 0, r.stderr);
}

async function kubectlOk(args: string[], namespace = NS): Promise<string> {
  const r = await cp.kubectl(args, { namespace });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The admin's kubeconfig, optionally impersonating `as` (client-node sends Impersonate-User). */
function kubeconfigFor(as?: string): string {
  const file = path.join(tmp, `kubeconfig-${as ?? 'admin'}`);
  const cfg = parse(fs.readFileSync(cp.kubeconfigPath, 'utf8'));
  if (as) cfg.users[0].user.as = as;
  fs.writeFileSync(file, stringify(cfg), { mode: 0o600 });
  return file;
}

function devxCli(args: string[], opts: { as?: string; env?: NodeJS.ProcessEnv } = {}): ReturnType<typeof runAgent> {
  return runAgent(args, { KUBECONFIG: kubeconfigFor(opts.as), XDG_CONFIG_HOME: path.join(tmp, 'config'), NO_COLOR: '1', ...opts.env });
}

async function devPods(name: string, namespace = NS): Promise<any[]> {
  return (await getJson(cp, ['pods', '-l', `app=${name}`], namespace)).items.filter((p: any) => p.metadata.annotations?.['dev.x/status'] && !p.metadata.deletionTimestamp);
}

describe('kubectl devx up, status, down', () => {
  test('up labels the workload, sets dev.x/image, waits for the injected pod and reports it', async () => {
    const before = await getJson(cp, ['deploy', 'web'], NS);
    const r = await devxCli(['up', 'deploy/web', '-n', NS, '--image', 'registry.example.com/dev/node:22', '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const deploy = await getJson(cp, ['deploy', 'web'], NS);
    assert.equal(deploy.metadata.labels['dev.x/enabled'], 'true');
    assert.equal(deploy.metadata.annotations['dev.x/image'], 'registry.example.com/dev/node:22');
    const [pod, ...more] = await devPods('web');
    assert.equal(more.length, 0);
    assert.equal(out.pod, pod.metadata.name, 'up reports the pod that exists');
    assert.equal(out.image, 'registry.example.com/dev/node:22');
    assert.equal(pod.spec.containers.find((c: any) => c.name === 'web').image, 'registry.example.com/dev/node:22');
    assert.equal(out.alreadyOn, false);
    assert.ok(out.warnings.some((w: string) => /replicas 2 -> 1/.test(w)), JSON.stringify(out.warnings));
    console.log(`# up: label to injected pod reported in ${out.seconds} s`);
    // Text output, and idempotence: up again changes nothing and says so.
    const again = await devxCli(['up', 'web', '-n', NS]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, new RegExp(`deployment/web was already in dev mode: pod ${pod.metadata.name} \\(Pending\\)`));
    assert.equal((await getJson(cp, ['deploy', 'web'], NS)).metadata.resourceVersion, deploy.metadata.resourceVersion);
    assert.equal(before.spec.replicas, 2);
  });

  test('status lists the dev-mode workloads: by whom, since, TTL left, pod and phase, image; -A adds other namespaces', async () => {
    await kubectlOk(['annotate', 'deploy', 'api', 'dev.x/ttl=30m']);
    await kubectlOk(['label', 'deploy', 'api', 'dev.x/enabled=true']);
    await kubectlOk(['label', 'deploy', 'svc', 'dev.x/enabled=true'], 'other');
    await eventually('the api dev pod', async () => (await devPods('api')).length === 1);
    const r = await devxCli(['status', '-n', NS, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout).items;
    assert.deepEqual(rows.map((x: any) => x.workload), ['deployment/api', 'deployment/web'], 'only dev-mode workloads of this namespace');
    const web = rows.find((x: any) => x.workload === 'deployment/web');
    const webPod = (await devPods('web'))[0];
    assert.equal(web.namespace, NS);
    assert.equal(web.enabledBy, 'devx-e2e-admin');
    assert.ok(Date.now() - Date.parse(web.enabledAt) < 5 * 60_000, web.enabledAt);
    assert.equal(web.ttl, '8h', 'no dev.x/ttl: the policy maxDuration');
    assert.ok(web.ttlLeftSeconds > 8 * 3600 - 300 && web.ttlLeftSeconds <= 8 * 3600, String(web.ttlLeftSeconds));
    assert.equal(web.pod, webPod.metadata.name);
    assert.equal(web.phase, 'Pending');
    assert.equal(web.image, 'registry.example.com/dev/node:22');
    const api = rows.find((x: any) => x.workload === 'deployment/api');
    assert.equal(api.ttl, '30m');
    assert.ok(api.ttlLeftSeconds > 1500 && api.ttlLeftSeconds <= 1800, String(api.ttlLeftSeconds));
    assert.equal(api.image, 'example.com/api:1', 'no dev image in the policy for it: the original image');

    const table = await devxCli(['status', '-n', NS]);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^WORKLOAD\s+BY\s+SINCE\s+TTL LEFT\s+POD\s+PHASE\s+IMAGE\s+SYNC$/);
    assert.match(lines[1]!, /^deployment\/api\s+devx-e2e-admin\s+\d+s\s+(29|30)m\s+api-\S+\s+Pending\s+example\.com\/api:1\s+-$/);
    assert.match(lines[2]!, /^deployment\/web\s+devx-e2e-admin\s+\d+[sm]\s+7h5\dm\s+web-\S+\s+Pending\s+registry\.example\.com\/dev\/node:22\s+-$/);

    const all = await devxCli(['status', '-A']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^NAMESPACE\s+WORKLOAD/);
    assert.match(all.stdout, /\nagent\s+deployment\/api/);
    assert.match(all.stdout, /\nother\s+deployment\/svc\s+devx-e2e-admin/);
  });

  test('down removes the label, waits until the workload is restored, and says which dev pod the rollout still has to replace', async () => {
    const devPod = (await devPods('web'))[0];
    const r = await devxCli(['down', 'deployment/web', '-n', NS, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.wasOn, true);
    assert.ok(out.warnings.some((w: string) => /replicas 1 -> 2/.test(w)), JSON.stringify(out.warnings));
    const deploy = await getJson(cp, ['deploy', 'web'], NS);
    assert.equal(deploy.metadata.labels?.['dev.x/enabled'], undefined);
    assert.equal(deploy.spec.replicas, 2);
    assert.equal(deploy.spec.template.metadata.labels['dev.x/enabled'], undefined);
    assert.equal(Object.keys(deploy.metadata.annotations ?? {}).filter((k) => k.startsWith('dev.x/') && k !== 'dev.x/image').length, 0);
    // No kubelet: the restored template's pods never become ready, so the rollout keeps the dev pod; down says so.
    // (Restoring 1 -> 2 replicas can briefly scale the old dev ReplicaSet up too: the deployment controller scales
    // proportionally. So it is one of the dev pods, not necessarily the one from before.)
    const left = await getJson(cp, ['pod', out.devPodLeft], NS);
    assert.ok(left.metadata.annotations?.['dev.x/status'], `${out.devPodLeft} is a dev pod`);
    assert.equal(left.metadata.labels['pod-template-hash'], devPod.metadata.labels['pod-template-hash'], 'of the dev ReplicaSet');
    const status = JSON.parse((await devxCli(['status', '-n', NS, '-o', 'json'])).stdout);
    assert.deepEqual(status.items.map((x: any) => x.workload), ['deployment/api']);
    const again = await devxCli(['down', 'web', '-n', NS]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /deployment\/web was not in dev mode: nothing to do/);
  });

  test('up where the policy does not allow it: exit 1 with the webhook’s reason', async () => {
    const r = await devxCli(['up', 'deploy/web', '-n', 'plain']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /denied: .*dev mode is not enabled in namespace plain/);
  });
});

describe('as a kubectl plugin', () => {
  test('kubectl finds kubectl-devx on PATH and runs it with the arguments after "devx"', async () => {
    const bin = path.join(tmp, 'plugin-bin');
    fs.mkdirSync(bin, { recursive: true });
    const entry = path.resolve(import.meta.dirname, '../../src/cli/kubectl-devx.ts');
    fs.writeFileSync(path.join(bin, 'kubectl-devx'), `#!/bin/sh\nexec "${process.execPath}" "${entry}" "$@"\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, KUBECONFIG: kubeconfigFor(), XDG_CONFIG_HOME: path.join(tmp, 'config') };
    const { stdout } = await run(process.env.DEVX_KUBECTL ?? 'kubectl', ['devx', 'status', '-n', NS, '-o', 'json'], { env });
    assert.deepEqual(JSON.parse(stdout).items.map((r: any) => r.workload), ['deployment/api']);
    const plugins = await run(process.env.DEVX_KUBECTL ?? 'kubectl', ['plugin', 'list', '--name-only'], { env }).catch((e: { stdout: string }) => e);
    assert.match(plugins.stdout, /kubectl-devx/);
  });
});

describe('kubectl devx refusals, each with its exit code', () => {
  test('a workload that does not exist: 3; an ambiguous bare name: 2', async () => {
    const missing = await devxCli(['sync', 'deploy/nope', tmp, '-n', NS]);
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /there is no deployment\/nope in namespace agent/);
    const dup = await devxCli(['up', 'dup', '-n', NS]);
    assert.equal(dup.code, 2, dup.stderr);
    assert.match(dup.stderr, /dup names several workloads in namespace agent \(deployment\/dup, statefulset\/dup\)/);
  });

  test('a LOCAL_DIR synced by the user’s own syncthing (.stignore not from devx): 2, and what to do', async () => {
    const dir = path.join(tmp, 'own-syncthing');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, '.stignore'), '*.iso\n');
    const r = await devxCli(['sync', 'deploy/api', dir, '-n', NS]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /\.stignore exists and was not written by devx .* move your patterns to \.devxignore/);
    assert.equal(fs.readFileSync(path.join(dir, '.stignore'), 'utf8'), '*.iso\n', 'left as it was');
  });

  test('not in dev mode: 4, and how to turn it on', async () => {
    const r = await devxCli(['sync', 'deploy/idle', tmp, '-n', NS]);
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /deployment\/idle is not in dev mode: label it with\n {2}kubectl label deployment\/idle dev\.x\/enabled=true -n agent/);
  });

  test('syncthing missing: 7, with an install hint', async () => {
    const r = await devxCli(['sync', 'deploy/api', tmp, '-n', NS], { env: { DEVX_SYNCTHING: path.join(tmp, 'no-such-syncthing') } });
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /no syncthing found/);
    assert.match(r.stderr, /install it: .*apt install syncthing/);
  });

  test('no running dev pod within --timeout: 6, saying what it waited for', async () => {
    const api = await getJson(cp, ['deploy', 'api'], NS);
    await ensureSyncSecret(cp, { namespace: NS, kind: 'Deployment', name: 'api', uid: api.metadata.uid });
    const pod = (await devPods('api'))[0];
    const r = await devxCli(['sync', 'deploy/api', tmp, '-n', NS, '--timeout', '3s']);
    assert.equal(r.code, 6, r.stderr);
    assert.match(r.stderr, new RegExp(`gave up after 3 s waiting for pod ${pod.metadata.name} to run \\(Pending: not scheduled yet\\)`));
  });

  test('RBAC: no get on the Secret, then no port-forward, then no patch: 5, naming the verb', async () => {
    // alice may read workloads and pods (as a viewer would), nothing more.
    await kubectlOk(['create', 'role', 'viewer', '--verb=get,list', '--resource=deployments.apps,pods,statefulsets.apps,daemonsets.apps,jobs.batch,cronjobs.batch']);
    await kubectlOk(['create', 'rolebinding', 'alice-viewer', '--role=viewer', '--user=alice']);
    const noSecret = await devxCli(['sync', 'deploy/api', tmp, '-n', NS], { as: 'alice' });
    assert.equal(noSecret.code, 5, noSecret.stderr);
    assert.match(noSecret.stderr, /reading the sync Secret devx-sync-deployment-api in namespace agent: RBAC verb "get" on "secrets" is not granted to you/);
    assert.match(noSecret.stderr, /kubectl create role devx-sync -n agent --verb=get --resource=secrets --resource-name=devx-sync-deployment-api/);

    await kubectlOk(['create', 'role', 'sync-secret', '--verb=get', '--resource=secrets', '--resource-name=devx-sync-deployment-api']);
    await kubectlOk(['create', 'rolebinding', 'alice-sync-secret', '--role=sync-secret', '--user=alice']);
    const noForward = await devxCli(['sync', 'deploy/api', tmp, '-n', NS], { as: 'alice' });
    assert.equal(noForward.code, 5, noForward.stderr);
    assert.match(noForward.stderr, /you may not port-forward to pods in namespace agent: RBAC verbs "get" and "create" on "pods\/portforward" are not granted/);

    const noPatch = await devxCli(['up', 'deploy/idle', '-n', NS], { as: 'alice' });
    assert.equal(noPatch.code, 5, noPatch.stderr);
    assert.match(noPatch.stderr, /changing the dev label of deployment\/idle: RBAC verb "patch" on "deployments\.apps" is not granted/);
    assert.equal((await getJson(cp, ['deploy', 'idle'], NS)).metadata.labels?.['dev.x/enabled'], undefined);
  });

  test('RBAC: sync reads the dev pod’s owner chain to verify it; without get on replicasets: 5, naming the verb; with it, the README’s set suffices', async () => {
    // bob has what sync needed before it verified pods (viewer, the Secret, port-forward), but not the ReplicaSets.
    await kubectlOk(['create', 'rolebinding', 'bob-viewer', '--role=viewer', '--user=bob']);
    await kubectlOk(['create', 'rolebinding', 'bob-sync-secret', '--role=sync-secret', '--user=bob']);
    await kubectlOk(['create', 'role', 'port-forward', '--verb=get,create', '--resource=pods/portforward']);
    await kubectlOk(['create', 'rolebinding', 'bob-port-forward', '--role=port-forward', '--user=bob']);
    const noChain = await devxCli(['sync', 'deploy/api', tmp, '-n', NS], { as: 'bob' });
    assert.equal(noChain.code, 5, noChain.stderr);
    assert.match(noChain.stderr, /you may not read the objects between the dev pod and deployment\/api, which kubectl devx sync checks before syncing: RBAC verb "get" on "replicasets\.apps" is not granted to you in namespace agent/);
    assert.match(noChain.stderr, /kubectl create role devx-sync -n agent --verb=get --resource=replicasets\.apps\n/);

    await kubectlOk(['create', 'role', 'owner-chain', '--verb=get', '--resource=replicasets.apps']);
    await kubectlOk(['create', 'rolebinding', 'bob-owner-chain', '--role=owner-chain', '--user=bob']);
    const pod = (await devPods('api'))[0];
    const verified = await devxCli(['sync', 'deploy/api', tmp, '-n', NS, '--timeout', '3s'], { as: 'bob' });
    assert.equal(verified.code, 6, verified.stderr);
    assert.match(verified.stderr, new RegExp(`gave up after 3 s waiting for pod ${pod.metadata.name} to run \\(Pending: not scheduled yet\\)`), 'the real pod verified; only the kubelet is missing');
  });

  test('the port-forward WebSocket through the real API server: refused with 403 without pods/portforward, let through to the (kubelet-less) pod with it', async () => {
    const pod = (await devPods('api'))[0];
    const attempt = async (as?: string): Promise<PortForwardRefusedError> => {
      const kc = agentKube({ kubeconfig: kubeconfigFor(as) }).kubeConfig;
      const [a, b] = await socketPair();
      try {
        await forwardSocket(kc, { namespace: NS, pod: pod.metadata.name, port: 22000 }, a);
        assert.fail('a pod without a node cannot be port-forwarded to');
      } catch (err) {
        assert.ok(err instanceof PortForwardRefusedError, String(err));
        return err;
      } finally {
        a.destroy();
        b.destroy();
      }
    };
    assert.equal((await attempt('alice')).status, 403, 'RBAC refuses the upgrade itself');
    const admin = await attempt();
    assert.notEqual(admin.status, 403, `authorised: the API server only fails to reach a kubelet (${admin.message})`);
    assert.notEqual(admin.status, 401);
  });
});

/** Two connected loopback sockets (the local end a tunnel would hand to forwardSocket, and its peer). */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const peer = await accepted;
  server.close();
  client.on('error', () => undefined);
  peer.on('error', () => undefined);
  return [peer, client];
}

