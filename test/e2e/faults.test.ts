// Load and faults, bounded and on loopback only: a soak at 1,000 reviews/s with zero errors; a graceful shutdown in the
// middle of a burst loses no in-flight review; the API server restarted under devx: the informers recover and the
// decisions stay correct. The server runs as its own process, as it ships (the compiled entry point).
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { objectsYaml, paddedPod, reviewBody, reviewsPod } from '../../bench/fixtures.ts';
import { fixedRate } from '../../bench/load.ts';
import { AdmissionReviewResponseSchema } from '../../src/schemas/admission.ts';
import { selfSignedServing } from '../../src/tls/bootstrap.ts';
import { startControlPlane, type ControlPlane } from './harness/control-plane.ts';
import { applyPolicy, bookinfoReviews, eventually, getJson, installCrd, REPO, startDevx, type DevxServer } from './harness/devx.ts';
import { freePort } from './harness/ports.ts';

const SOAK_MS = Number(process.env.DEVX_SOAK_MS ?? 120_000);

let dir: string;

async function startObjectsServer(): Promise<{ proc: ChildProcess; url: string }> {
  const port = await freePort();
  const proc = spawn(process.execPath, [join(REPO, 'dist/cli/devx-webhook.js'), '--objects', join(dir, 'objects.yaml'), '--host', '127.0.0.1', '--port', String(port), '--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `https://127.0.0.1:${port}`;
  await eventually('devx ready', () => post(url, '/readyz', undefined).then((r) => r.status === 200), 20_000);
  return { proc, url };
}

function post(url: string, path: string, body: string | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(`${url}${path}`, { method: body === undefined ? 'GET' : 'POST', rejectUnauthorized: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function stopProc(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null) return proc.exitCode;
  proc.kill('SIGTERM');
  return new Promise((r) => proc.once('exit', (code) => r(code)));
}

before(() => {
  // The faults are those of the shipped server: build the compiled entry point the Dockerfile runs.
  execFileSync('npm', ['run', '-s', 'build'], { cwd: REPO, stdio: 'inherit' });
  dir = mkdtempSync(join(tmpdir(), 'devx-faults-'));
  const { ca, serving } = selfSignedServing({ serviceName: 'devx', namespace: 'devx-system' }, new Date());
  writeFileSync(join(dir, 'tls.crt'), serving.certPem + ca.certPem);
  writeFileSync(join(dir, 'tls.key'), serving.keyPem);
  writeFileSync(join(dir, 'objects.yaml'), objectsYaml());
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('load', () => {
  test(`soak: ${SOAK_MS / 1000} s at 1,000 reviews/s over TLS keep-alive, zero errors, every answer a patch`, async (t) => {
    const server = await startObjectsServer();
    try {
      const r = await fixedRate({ url: `${server.url}/mutate/pods`, body: reviewBody(reviewsPod()), rate: 1000, durationMs: SOAK_MS });
      t.diagnostic(`sent ${r.sent}, ok ${r.ok}, errors ${r.errors}, p50 ${r.latencies[Math.floor(r.latencies.length / 2)]?.toFixed(2)} ms`);
      assert.equal(r.errors, 0);
      assert.equal(r.ok, r.sent);
      const one = AdmissionReviewResponseSchema.parse(JSON.parse((await post(server.url, '/mutate/pods', reviewBody(reviewsPod()))).body));
      assert.ok(one.response.patch, 'still injecting after the soak');
    } finally {
      assert.equal(await stopProc(server.proc), 0);
    }
  });

  test('graceful shutdown in the middle of a burst: every in-flight review is answered', async () => {
    const server = await startObjectsServer();
    const big = reviewBody(paddedPod(2 * 1024 * 1024));
    const half = Math.floor(big.length / 2);
    // 40 reviews of 2 MiB, each on its own connection: headers and half the body sent, then SIGTERM, then the rest.
    const started: Array<Promise<void>> = [];
    const finish: Array<() => void> = [];
    const answers = Array.from({ length: 40 }, () =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(`${server.url}/mutate/pods`, { method: 'POST', rejectUnauthorized: false, agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
        started.push(new Promise((r) => req.on('socket', (sock) => sock.once('secureConnect', () => req.write(big.slice(0, half), () => r())))));
        finish.push(() => req.end(big.slice(half)));
      }),
    );
    await Promise.all(started);
    await new Promise((r) => setTimeout(r, 200));
    const exited = stopProc(server.proc);
    await new Promise((r) => setTimeout(r, 100));
    for (const f of finish) f();
    const settled = await Promise.allSettled(answers);
    const failed = settled.filter((a) => a.status === 'rejected' || a.value.status !== 200);
    assert.equal(failed.length, 0, `${failed.length} of 40 in-flight reviews lost: ${JSON.stringify(failed[0])}`);
    for (const a of settled) if (a.status === 'fulfilled') assert.ok(AdmissionReviewResponseSchema.parse(JSON.parse(a.value.body)).response.patch);
    assert.equal(await exited, 0, 'a clean exit after draining');
    // And once closed, nothing listens any more.
    await assert.rejects(post(server.url, '/healthz', undefined));
  });
});

describe('faults on the real control plane', () => {
  let cp: ControlPlane;
  let devx: DevxServer;
  before(async () => {
    cp = await startControlPlane();
    await installCrd(cp);
    await applyPolicy(cp);
    devx = await startDevx(cp);
  });
  after(async () => {
    await devx?.stop();
    await cp?.stop();
  });

  test('the API server restarted under devx: informers recover, decisions stay correct', async () => {
    await cp.restartApiServer();
    // Changes made after the restart must be seen: a namespace enabled only now, and one never enabled.
    await cp.createNamespace('after-restart', { 'dev.x/policy': 'default' });
    await cp.createNamespace('still-plain');
    await eventually('devx ready again', async () => (await post(`https://127.0.0.1:${devx.port}`, '/readyz', undefined)).status === 200, 30_000);
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(bookinfoReviews('after-restart', 2)), namespace: 'after-restart' });
    await eventually(
      'dev mode accepted in the namespace enabled after the restart',
      async () => (await cp.kubectl(['label', 'deploy', 'reviews', 'dev.x/enabled=true', '--overwrite'], { namespace: 'after-restart' })).code === 0,
      30_000,
    );
    const pod = await eventually('an injected pod', async () => ((await getJson(cp, ['pods'], 'after-restart')).items as any[]).find((p) => p.metadata.annotations?.['dev.x/status']));
    assert.ok(pod.spec.containers.some((c: any) => c.name === 'devx-sync'));
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(bookinfoReviews('still-plain', 1)), namespace: 'still-plain' });
    const refused = await cp.kubectl(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: 'still-plain' });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /dev mode is not enabled in namespace still-plain/);
    assert.ok(devx.process.running(), 'devx kept running through the restart');
  });
});
