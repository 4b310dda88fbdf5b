// `kubectl devx sync` verifies the dev pod's owner chain and injection record before it syncs (DESIGN §6, §10;
// src/agent/verify-dev-pod.ts). The unit tests hold the decisions, the decoys in agent-sync.test.ts the refusals; here
// the positive side on the real control plane: for every kind, the dev pod that admission, the controllers and the
// reconciler really make (ReplicaSets, devx's dev copies, their owner references) passes, so no kind is locked out.
// `--address` points the agent's syncthing at a closed port: nothing is synced, the agent only has to choose the pod.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { eventually, type DevxServer } from './harness/devx.ts';
import { isInjected, kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { startAgent } from './harness/syncthing.ts';

const NS = 'verify';
let cp: ControlPlane;
let devx: DevxServer;
let k: Kube;
let tmp: string;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-agent-verify-'));
  cp = await startControlPlane();
  k = kube(cp);
  devx = await startReconcilingDevx(cp, NS);
});

after(async () => {
  await devx?.stop();
  await cp?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const container = (name: string): Record<string, unknown> => ({ name, image: `example.com/${name}:1` });
const template = (app: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ metadata: { labels: { app } }, spec: { containers: [container(app)], ...extra } });

interface Case {
  /** What the user types: `deploy/web`. */
  arg: string;
  object: Record<string, unknown>;
  /** Label it after creating it (else it is created with the label). */
  label: boolean;
  /** The pods among which the dev pod is. */
  selector: string;
}

const CASES: Case[] = [
  {
    arg: 'deployment/web',
    object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: template('web') } },
    label: true,
    selector: 'app=web',
  },
  {
    arg: 'statefulset/db',
    // Created in dev mode: without a kubelet db-0 never becomes ready, so a rolling update would never replace it.
    object: { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', labels: { 'dev.x/enabled': 'true' } }, spec: { serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: template('db') } },
    label: false,
    selector: 'app=db',
  },
  {
    arg: 'daemonset/agent',
    object: { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'agent' }, spec: { selector: { matchLabels: { app: 'agent' } }, template: template('agent') } },
    label: true,
    selector: 'dev.x/copy=agent-devx',
  },
  {
    arg: 'job/train',
    object: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'train' }, spec: { template: template('train', { restartPolicy: 'Never' }) } },
    label: true,
    selector: 'job-name=train-devx',
  },
  {
    arg: 'cronjob/nightly',
    object: { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: template('nightly', { restartPolicy: 'OnFailure' }) } } } },
    label: true,
    selector: 'job-name=nightly-devx',
  },
  {
    arg: 'pod/solo',
    object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'solo', labels: { app: 'solo', 'dev.x/enabled': 'true' } }, spec: { containers: [container('solo')] } },
    label: false,
    selector: 'app=solo',
  },
];

describe('kubectl devx sync accepts the dev pod devx makes, for every kind', () => {
  before(async () => {
    for (const c of CASES) {
      await k.apply(c.object, NS);
      if (c.label) await k.ok(['label', c.arg, 'dev.x/enabled=true'], { namespace: NS });
    }
  });

  for (const c of CASES) {
    test(`${c.arg}: the pod ${c.selector} is verified and chosen`, async () => {
      const pod = await eventually(`the injected pod of ${c.arg}`, async () => (await k.pods(c.selector, NS)).find(isInjected), 30_000);
      const local = path.join(tmp, c.arg.replace('/', '-'));
      fs.mkdirSync(local);
      const agent = startAgent(['sync', c.arg, local, '-n', NS, '--address', 'tcp://127.0.0.1:1', '--timeout', '60s', '-o', 'json'], {
        KUBECONFIG: cp.kubeconfigPath,
        XDG_CONFIG_HOME: path.join(tmp, `config-${c.arg.replace('/', '-')}`),
        NO_COLOR: '1',
      });
      try {
        const chosen = await agent.waitForEvent('the dev pod chosen', (e) => e.event === 'step' && /is in dev mode; dev pod /.test(e.message), 60_000);
        assert.match(chosen.message, new RegExp(`^${c.arg} is in dev mode; dev pod ${pod.metadata.name}(,|$)`), `${agent.stdout()}\n${agent.stderr()}`);
        assert.ok(!agent.events().some((e) => e.event === 'waiting' && /not devx's dev pod/.test(String(e.for))), `nothing was rejected:\n${agent.stdout()}`);
      } finally {
        assert.equal(await agent.interrupt(), 0, agent.stderr());
      }
    });
  }
});
