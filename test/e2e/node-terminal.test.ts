// The developer's terminal and the app's ports on a real node (harness/node.ts: kubelet, containerd, runc; exec and
// port-forward through the real API server and kubelet). The agent runs in a pseudo-terminal (tmux, harness/tmux.ts)
// where a terminal matters: `kubectl devx exec` gives back output and exit code; `up --sync` ends in a shell in the
// synced directory while the sync keeps running (both ways); Ctrl-C reaches the remote `sleep`, not the agent; a
// window resize reaches the remote tty; a missing shell falls back to sh with a message; the DevPolicy's shell is
// used. Ports: busybox httpd started in the dev container through `kubectl devx exec` answers on 127.0.0.1 through
// dev.x/ports and --forward, again after the dev pod is replaced; a local port in use and a bad dev.x/ports are
// clear errors with nothing changed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { eventually, getJson, type DevxServer } from './harness/devx.ts';
import { nodePolicySpec, podReady, startNodeCluster, type NodeCluster } from './harness/node.ts';
import { freePorts } from './harness/ports.ts';
import { kube, startReconcilingDevx, type Kube } from './harness/reconciler.ts';
import { AGENT_ENTRY, isLoopbackAddress, listeningSockets, LOCAL, runAgent, startAgent } from './harness/syncthing.ts';
import { startTmux, type TerminalSession, type Tmux } from './harness/tmux.ts';

const NS = 'bookinfo';
const APP = 'web';
let c: NodeCluster;
let devx: DevxServer;
let k: Kube;
let tmp: string;
let tmux: Tmux;
let env: Record<string, string>;

before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-node-terminal-'));
  c = await startNodeCluster();
  k = kube(c);
  devx = await startReconcilingDevx(c, NS, [{ name: 'default', spec: nodePolicySpec(c.node.images) }]);
  tmux = startTmux(tmp);
  env = { KUBECONFIG: c.kubeconfigPath, XDG_CONFIG_HOME: path.join(tmp, 'config'), DEVX_SYNCTHING: LOCAL.path, HOME: tmp, PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' };
});

after(async () => {
  await tmux?.stop();
  await devx?.stop();
  await c?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function deployment(name: string, replicas = 1): Record<string, unknown> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'reviews', image: c.node.images.reviews, ports: [{ containerPort: 8080 }] }] },
      },
    },
  };
}

async function devPodRunning(selector: string, not?: string): Promise<any> {
  return eventually(
    `the dev pod of ${selector} Running, alone${not ? ` (not ${not})` : ''}`,
    async () => {
      const all = ((await getJson(c, ['pods', '-l', selector], NS)).items as any[]).filter((p) => !p.metadata.deletionTimestamp);
      const [pod] = all;
      return all.length === 1 && pod.metadata.annotations?.['dev.x/status'] && pod.metadata.name !== not && podReady(pod) ? pod : undefined;
    },
    90_000,
  );
}

/** `kubectl devx ARGS…` in a new tmux window of 100×30. */
function inTerminal(name: string, args: string[]): Promise<TerminalSession> {
  return tmux.start(name, [process.execPath, AGENT_ENTRY, ...args], { env, columns: 100, rows: 30, cwd: tmp });
}

/** Types a line into the terminal and presses Enter. */
async function line(t: TerminalSession, text: string): Promise<void> {
  await t.type(text);
  await t.keys('Enter');
}

function localDir(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), content);
  return dir;
}

async function get(port: number, file: string): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/${file}`, { signal: AbortSignal.timeout(5000) });
  return res.ok ? res.text() : undefined;
}

describe('the terminal and the app’s ports on a real node', () => {
  let pod: any;

  test('kubectl devx exec: a command’s output and exit code come back, in a pseudo-terminal and in a pipe', async () => {
    await k.apply(deployment(APP), NS);
    await k.ok(['label', 'deploy', APP, 'dev.x/enabled=true'], { namespace: NS });
    pod = await devPodRunning(`app=${APP}`);

    const t = await inTerminal('exec-tty', ['exec', `deploy/${APP}`, '-n', NS, '--', 'sh', '-c', 'echo "tty=$(tty) cwd=$(pwd)"; exit 3']);
    const screen = await t.waitFor('the command’s output', /tty=\/dev\/pts\/\d+ cwd=\/home\/devx/, 60_000);
    assert.equal(await t.exitCode(10_000), 3, screen);
    await t.kill();

    const piped = await runAgent(['exec', `deploy/${APP}`, '-n', NS, '--', 'sh', '-c', 'echo out; echo err >&2; [ -t 0 ] || echo "no tty"; exit 4'], env);
    assert.deepEqual(piped, { code: 4, stdout: 'out\nno tty\n', stderr: 'err\n' });

    const missing = await runAgent(['exec', `deploy/${APP}`, '-n', NS, '--', 'no-such-program', '--flag'], env);
    assert.equal(missing.code, 127, missing.stderr);
    assert.equal(missing.stderr, `kubectl devx: no-such-program: no such program in container reviews of pod ${pod.metadata.name}\n`);
  });

  test('up --sync ends in a shell in the workdir; the sync keeps running both ways; Ctrl-C and resizes reach the remote; the shell’s exit code is the agent’s', async () => {
    const local = localDir('up', { 'hello.txt': 'hello from the laptop\n' });
    const t = await inTerminal('up', ['up', `deploy/${APP}`, '-n', NS, '--sync', local]);
    await t.waitFor('the shell to open', /opening sh in container reviews of pod \S+; the sync keeps running \(exit the shell to stop it\)/, 120_000);
    await line(t, 'echo "[$(pwd)] $(cat hello.txt)"');
    await t.waitFor('the shell in the synced directory, the first sync done', /\[\/home\/devx\] hello from the laptop/, 20_000);

    // Saved locally while the shell is open: it arrives in the pod, and the shell sees it.
    const saved = Date.now();
    fs.writeFileSync(path.join(local, 'saved.txt'), 'saved while the shell is open\n');
    await line(t, 'while [ ! -s saved.txt ]; do sleep 0.1; done; echo "got: $(cat saved.txt)"');
    await t.waitFor('the file saved locally, in the pod', /got: saved while the shell is open/, 30_000);
    console.log(`# saved locally → seen in the open shell: ${((Date.now() - saved) / 1000).toFixed(1)} s`);
    // Made in the shell: it arrives locally.
    await line(t, 'echo "made in the shell" > from-shell.txt');
    await eventually('from-shell.txt locally', async () => fs.readFileSync(path.join(local, 'from-shell.txt'), 'utf8') === 'made in the shell\n', 30_000);

    // Ctrl-C: the remote sleep is interrupted, the shell and the agent go on.
    await line(t, 'sleep 1000');
    await new Promise((r) => setTimeout(r, 1000));
    await t.keys('C-c');
    await line(t, 'echo "after sleep: $?"');
    await t.waitFor('the interrupted sleep’s status', /after sleep: 130/, 10_000);

    // The window size, then a resize.
    await line(t, 'echo "size=$(stty size)"');
    await t.waitFor('the first size', /size=30 100/, 10_000);
    await t.resize(120, 40);
    await line(t, 'echo "size=$(stty size)"');
    await t.waitFor('the size after the resize', /size=40 120/, 10_000);

    // The dev pod replaced under the open shell: a new shell opens in the new pod, with the files synced there again.
    const old = pod.metadata.name as string;
    await k.ok(['delete', 'pod', old, '--wait=false'], { namespace: NS });
    await t.waitFor('the cut-off note', new RegExp(`the shell in pod ${old} was cut off \\(pod ${old} is (being deleted|gone)\\); a new shell opens when the dev pod is ready`), 30_000);
    const reopened = await t.waitFor('a shell in the new pod', new RegExp(`opening sh in container reviews of pod (?!${old})(\\S+);`), 90_000);
    pod = await devPodRunning(`app=${APP}`, old);
    assert.ok(reopened.includes(`opening sh in container reviews of pod ${pod.metadata.name};`), reopened);
    await line(t, 'while [ ! -s hello.txt ]; do sleep 0.1; done; echo "again: [$(pwd)] $(cat hello.txt)"');
    await t.waitFor('the new shell in the synced directory of the new pod', /again: \[\/home\/devx\] hello from the laptop/, 60_000);

    await line(t, 'exit 5');
    const code = await t.exitCode(30_000);
    const screen = await t.screen();
    assert.equal(code, 5, screen);
    assert.match(screen, /the shell exited with code 5: sync stopped/);
    await t.kill();
  });

  test('the shell: dev.x/shell missing in the image falls back to sh with a message; the DevPolicy’s shell is used', async () => {
    await k.ok(['annotate', 'deploy', APP, 'dev.x/shell=bash'], { namespace: NS });
    const t = await inTerminal('exec-bash', ['exec', `deploy/${APP}`, '-n', NS]);
    await t.waitFor('the fallback message', new RegExp(`bash \\(dev\\.x/shell\\) is not in container reviews of pod ${pod.metadata.name}: opening sh instead`), 60_000);
    await line(t, 'echo "shell=$0"');
    await t.waitFor('sh', /shell=sh/, 10_000);
    await line(t, 'exit');
    assert.equal(await t.exitCode(10_000), 0);
    await t.kill();

    await k.ok(['annotate', 'deploy', APP, 'dev.x/shell-'], { namespace: NS });
    await k.ok(['patch', 'devpolicy', 'default', '--type=merge', '-p', '{"spec":{"shell":"ash"}}']);
    try {
      const p = await inTerminal('exec-policy', ['exec', `deploy/${APP}`, '-n', NS]);
      await line(p, 'echo "shell=$0"');
      await p.waitFor('the policy’s shell', /shell=ash/, 60_000);
      await line(p, 'exit 0');
      assert.equal(await p.exitCode(10_000), 0);
      await p.kill();
    } finally {
      await k.ok(['patch', 'devpolicy', 'default', '--type=json', '-p', '[{"op":"remove","path":"/spec/shell"}]']);
    }
  });

  test('ports: httpd started through kubectl devx exec answers on 127.0.0.1 through dev.x/ports and --forward, also after the dev pod is replaced', async () => {
    const [declared, flagged, idle] = (await freePorts(3)) as [number, number, number];
    await k.ok(['annotate', 'deploy', APP, `dev.x/ports=${declared}:8080`], { namespace: NS });
    // Two servers (8080 for dev.x/ports, 8081 for --forward), both daemons that outlive the exec that starts them.
    const httpd = ['exec', `deploy/${APP}`, '-n', NS, '--', 'sh', '-c', 'httpd -p 8080 -h /home/devx && httpd -p 8081 -h /home/devx'];
    assert.deepEqual(await runAgent(httpd, env), { code: 0, stdout: '', stderr: '' });

    const local = localDir('ports', { 'index.html': 'served from the dev container\n' });
    const agent = startAgent(['sync', `deploy/${APP}`, local, '-n', NS, '-o', 'json', '--forward', `${flagged}:8081,${idle}:8082`], env);
    try {
      const step = await agent.waitForEvent('the forwarding step', (e) => e.event === 'step' && /^forwarding /.test(e.message), 60_000);
      assert.equal(step.message, `forwarding 127.0.0.1:${declared} → 8080, 127.0.0.1:${flagged} → 8081, 127.0.0.1:${idle} → 8082 of the dev pod while this runs`);
      await agent.waitForEvent('the first full sync', (e) => e.event === 'synced', 120_000);
      for (const port of [declared, flagged]) {
        await eventually(`index.html through 127.0.0.1:${port}`, async () => (await get(port, 'index.html')) === 'served from the dev container\n', 30_000);
      }
      // Nothing listens on 8082 in the pod: the connection is closed, and the agent says why, once.
      for (let i = 0; i < 3; i++) await assert.rejects(get(idle, 'index.html'));
      await agent.waitForEvent('the idle port’s note', (e) => e.event === 'note' && e.message === `127.0.0.1:${idle} → port 8082: nothing listens on port 8082 in the dev pod (yet)`, 15_000);
      assert.equal(agent.events().filter((e) => e.event === 'note' && e.message.startsWith(`127.0.0.1:${idle} `)).length, 1, 'one note for three connections');
      const listening = listeningSockets(agent.pid).filter((s) => [declared, flagged, idle].includes(s.port));
      assert.equal(listening.length, 3, JSON.stringify(listening));
      assert.ok(listening.every((s) => isLoopbackAddress(s.address)), `bound to loopback only: ${JSON.stringify(listening)}`);

      // The dev pod replaced: the same local ports reach the new one (its httpd started anew, the file synced again).
      await k.ok(['delete', 'pod', pod.metadata.name, '--wait=false'], { namespace: NS });
      const replaced = Date.now();
      pod = await devPodRunning(`app=${APP}`, pod.metadata.name);
      assert.deepEqual(await runAgent(httpd, env), { code: 0, stdout: '', stderr: '' });
      fs.writeFileSync(path.join(local, 'after.html'), 'the new dev pod\n');
      for (const port of [declared, flagged]) {
        await eventually(`after.html through 127.0.0.1:${port} from pod ${pod.metadata.name}`, async () => (await get(port, 'after.html')) === 'the new dev pod\n', 60_000);
      }
      console.log(`# dev pod replaced → the forwarded port answers from the new pod: ${((Date.now() - replaced) / 1000).toFixed(1)} s`);
    } finally {
      assert.equal(await agent.interrupt(), 0, agent.stderr());
    }
  });

  test('a local port in use and a bad dev.x/ports: clear errors, and nothing changed', async () => {
    const [taken] = (await freePorts(1)) as [number];
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: taken }, resolve));
    try {
      const local = localDir('busy', { 'a.txt': 'a\n' });
      const r = await runAgent(['sync', `deploy/${APP}`, local, '-n', NS, '--forward', `${taken}:8080`], env);
      assert.equal(r.code, 1, r.stderr);
      const elsewhere = taken + 10000 <= 65535 ? taken + 10000 : 10000 + (taken % 10000);
      assert.match(r.stderr, new RegExp(`local port ${taken} \\(forwarded to port 8080 of the dev pod\\) is already in use on this machine: stop what listens on 127\\.0\\.0\\.1:${taken}, or forward the pod's port 8080 to another local port, e\\.g\\. --forward ${elsewhere}:8080`));
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }

    await k.apply({ ...deployment('other', 0), metadata: { name: 'other', labels: { app: 'other' }, annotations: { 'dev.x/ports': '8080,80a' } } }, NS);
    const local = localDir('other', {});
    const bad = await runAgent(['up', 'deploy/other', '-n', NS, '--sync', local], env);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /dev\.x\/ports of deployment\/other: "80a" is not a port: write PORT or LOCAL:REMOTE \(ports 1-65535\), comma-separated, e\.g\. 8080,9229:9229; fix it with\n {2}kubectl annotate deployment\/other -n bookinfo --overwrite dev\.x\/ports=8080,9229:9229/);
    const other = await k.maybe('deploy', 'other', NS);
    assert.equal(other.metadata.labels['dev.x/enabled'], undefined, 'up did not label the workload');
  });
});
