// `npm run bench`: admission speed and memory of devx-webhook against a bare fastify baseline, in the same run.
//   npm run bench                 # full run (about 4 minutes; the first run also builds vegeta, ~15 s)
//   npm run bench -- --quick      # shorter phases, for a smoke check
//   npm run bench -- --runs 3     # repeat and report the median of each number
// Writes a table to stdout and JSON to bench/results/latest.json.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { staticView } from '../src/core/static-view.ts';
import { selfSignedServing } from '../src/tls/bootstrap.ts';
import { hmacSigner, randomRecordKey } from '../src/tls/record-signer.ts';
import { answerReview } from '../src/webhook/review.ts';
import { parseAllDocuments } from 'yaml';
import { objectsYaml, paddedPod, reviewBody, reviewsPod } from './fixtures.ts';
import { percentile } from './load.ts';
import { vegetaBinary, vegetaFixedRate } from './vegeta.ts';
import { OVERLOAD_TARGETS, overloadPhase, overloadSummary, type OverloadResult } from './overload.ts';
import { startControlPlane } from '../test/e2e/harness/control-plane.ts';
import { installCrd } from '../test/e2e/harness/devx.ts';
import { freePort } from '../test/e2e/harness/ports.ts';

const ROOT = join(import.meta.dirname, '..');
const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, runs: { type: 'string' } } });
const QUICK = args.quick ?? false;
const RUNS = Number(args.runs ?? 1);
const PHASE_MS = QUICK ? 3000 : 8000;
const WARMUP_MS = QUICK ? 1000 : 3000;
const RATES = [500, 1000, 2000];

interface Server {
  proc: ChildProcess;
  url: string;
  readyMs: number;
}

async function readyz(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = https.get(`${url}/readyz`, { rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
  });
}

/** The Node.js flags devx-webhook ships with: those of the image's ENTRYPOINT, between node and the script. */
function shippedNodeFlags(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  if (!m) throw new Error('Dockerfile has no ENTRYPOINT in exec form');
  const argv = JSON.parse(m[1] as string) as string[];
  return argv.slice(1, -1);
}

type ServerKind = 'devx' | 'baseline' | 'devx-cluster';

function serverArgv(kind: ServerKind, dir: string, port: number, kubeconfig?: string): string[] {
  const tls = ['--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key')];
  const listen = ['--host', '127.0.0.1', '--port', String(port)];
  const entry = [...shippedNodeFlags(), join(ROOT, 'dist/cli/devx-webhook.js')];
  if (kind === 'devx') return [...entry, '--objects', join(dir, 'objects.yaml'), ...listen, ...tls];
  if (kind === 'devx-cluster') return [...entry, '--kubeconfig', kubeconfig as string, ...listen, ...tls];
  return [join(ROOT, 'bench/baseline-server.ts'), join(dir, 'tls.crt'), join(dir, 'tls.key'), String(port)];
}

/** Starts a server and waits for /readyz (for devx in cluster mode: informers synced). */
async function startServer(kind: ServerKind, dir: string, kubeconfig?: string): Promise<Server> {
  const port = await freePort();
  const started = performance.now();
  // devx logs one JSON line per decision at info, as in production; the lines go to /dev/null.
  const proc = spawn(process.execPath, serverArgv(kind, dir, port, kubeconfig), { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `https://127.0.0.1:${port}`;
  while (!(await readyz(url))) {
    if (proc.exitCode !== null) throw new Error(`${kind} server exited with ${proc.exitCode}`);
    if (performance.now() - started > 20_000) throw new Error(`${kind} server not ready after 20 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { proc, url, readyMs: performance.now() - started };
}

async function stop(s: Server): Promise<void> {
  s.proc.kill('SIGTERM');
  await new Promise((r) => s.proc.once('exit', r));
}

/** User + system CPU time of a process so far, in milliseconds (clock ticks are 10 ms on Linux). */
function cpuMs(pid: number): number {
  const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

async function maxThroughput(url: string, body: string, pid: number): Promise<{ rps: number; p99: number; errors: number; rssMb: number }> {
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  const result = await autocannon({
    url: `${url}/mutate/pods`,
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json' },
    connections: 16,
    duration: PHASE_MS / 1000,
  });
  clearInterval(sampler);
  return { rps: result.requests.average, p99: result.latency.p99, errors: result.errors + result.non2xx + result.timeouts, rssMb: peak };
}

interface Row {
  lagP99?: number;
  /** Server CPU time (user + system) per answered review, microseconds. */
  cpuUs?: number;
  name: string;
  rate: number | 'max';
  p50: number;
  p99: number;
  max: number;
  rps: number;
  errors: number;
}

/** One fixed-rate phase: latencies, the server's CPU per review and its peak RSS. */
async function fixedRatePhase(server: Server, body: string, rate: number, name: string): Promise<{ row: Row; rssMb: number }> {
  const pid = server.proc.pid as number;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  const cpuBefore = cpuMs(pid);
  const r = await vegetaFixedRate({ url: `${server.url}/mutate/pods`, body, rate, durationMs: PHASE_MS });
  const cpuUs = ((cpuMs(pid) - cpuBefore) * 1000) / Math.max(1, r.ok);
  clearInterval(sampler);
  const l = r.latencies;
  const row = { name, rate, p50: percentile(l, 50), p99: percentile(l, 99), max: l[l.length - 1] ?? NaN, rps: (r.ok * 1000) / PHASE_MS, errors: r.errors, lagP99: percentile(r.lag, 99), cpuUs };
  return { row, rssMb: peak };
}

async function measureServer(kind: 'devx' | 'baseline', dir: string, body: string, label: string): Promise<{ rows: Row[]; readyMs: number; rssMb: number; rss1000: number }> {
  const server = await startServer(kind, dir);
  const rows: Row[] = [];
  try {
    await vegetaFixedRate({ url: `${server.url}/mutate/pods`, body, rate: 500, durationMs: WARMUP_MS });
    let rss1000 = 0;
    for (const rate of RATES) {
      const { row, rssMb: peak } = await fixedRatePhase(server, body, rate, `${kind} ${label}`);
      if (rate === 1000) rss1000 = peak;
      rows.push(row);
    }
    const m = await maxThroughput(server.url, body, server.proc.pid as number);
    rows.push({ name: `${kind} ${label}`, rate: 'max', p50: NaN, p99: m.p99, max: NaN, rps: m.rps, errors: m.errors });
    return { rows, readyMs: server.readyMs, rssMb: m.rssMb, rss1000 };
  } finally {
    await stop(server);
  }
}

/**
 * devx as it runs in a cluster: views from informers of a real kube-apiserver (the e2e tests' control plane, built
 * once into ~/.cache/devx) holding the same Namespaces and DevPolicies as --objects, at 1,000 reviews/s.
 */
async function measureCluster(dir: string, body: string): Promise<{ row: Row; readyMs: number; rss1000: number }> {
  for (const part of ['etcd', 'k8s']) execFileSync('bash', [join(ROOT, 'test/tools/build-real-parts.sh'), part], { stdio: ['ignore', 'ignore', 'inherit'] });
  const cp = await startControlPlane();
  try {
    await installCrd(cp);
    await cp.createNamespace('devx-system');
    // One by one: the golden cluster also holds a deliberately invalid DevPolicy, which the CRD's schema refuses, as
    // a real API server would. The namespace the bench's pod is in, and its policy, must get in.
    for (const doc of parseAllDocuments(objectsYaml()).map((d) => d.toJS() as { kind: string; metadata: { name: string } })) {
      const applied = await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(doc) });
      const needed = doc.kind === 'Namespace' || doc.metadata.name === 'default';
      if (applied.code !== 0 && needed) throw new Error(`applying ${doc.kind} ${doc.metadata.name} failed: ${applied.stderr}`);
    }
    const server = await startServer('devx-cluster', dir, cp.kubeconfigPath);
    try {
      await vegetaFixedRate({ url: `${server.url}/mutate/pods`, body, rate: 500, durationMs: WARMUP_MS });
      const { row, rssMb: peak } = await fixedRatePhase(server, body, 1000, 'devx (cluster) reviews');
      return { row, readyMs: server.readyMs, rss1000: peak };
    } finally {
      await stop(server);
    }
  } finally {
    await cp.stop();
  }
}

/** A fresh devx driven at 3x the peak it just showed, then at normal load (bench/overload.ts). */
async function measureOverload(dir: string, body: string, peakRps: number): Promise<OverloadResult> {
  const server = await startServer('devx', dir);
  try {
    return await overloadPhase({ url: server.url, pid: server.proc.pid as number, body, peakRps, durationMs: PHASE_MS });
  } finally {
    await stop(server);
  }
}

/** The core alone, no HTTP: per-review time of decode + decide + diff for the bookinfo pod. */
function coreAlone(body: string): { p50Us: number; p99Us: number; n: number } {
  const signer = hmacSigner(randomRecordKey());
  const view = staticView(parseAllDocuments(objectsYaml()).map((d) => d.toJS()));
  const parsed = JSON.parse(body) as unknown;
  const n = QUICK ? 5000 : 20000;
  const times: number[] = [];
  for (let i = 0; i < n + 2000; i++) {
    const t = process.hrtime.bigint();
    const out = answerReview('pods', parsed, { view, now: new Date(), version: 'bench', signer });
    const dt = Number(process.hrtime.bigint() - t) / 1000;
    if (out.statusCode !== 200) throw new Error('core answered a non-200');
    if (i >= 2000) times.push(dt);
  }
  times.sort((a, b) => a - b);
  return { p50Us: percentile(times, 50), p99Us: percentile(times, 99), n };
}

async function oneRun(dir: string): Promise<Record<string, number>> {
  const small = reviewBody(reviewsPod());
  const big = reviewBody(paddedPod(64 * 1024));
  const core = coreAlone(small);
  const results: Row[] = [];
  const cluster = await measureCluster(dir, small);
  const devxSmall = await measureServer('devx', dir, small, 'reviews pod');
  const baseSmall = await measureServer('baseline', dir, small, 'reviews pod');
  const devxBig = await measureServer('devx', dir, big, '64 KiB pod');
  const baseBig = await measureServer('baseline', dir, big, '64 KiB pod');
  const overload = await measureOverload(dir, small, devxSmall.rows.find((r) => r.rate === 'max')?.rps ?? NaN);
  results.push(...devxSmall.rows, ...baseSmall.rows, ...devxBig.rows, ...baseBig.rows, cluster.row);
  printRows(results);
  const at = (rows: Row[], rate: number | 'max'): Row => rows.find((r) => r.rate === rate) as Row;
  return {
    'core p50 (us)': core.p50Us,
    'core p99 (us)': core.p99Us,
    'devx p99 @1000/s (ms)': at(devxSmall.rows, 1000).p99,
    'devx p50 @1000/s (ms)': at(devxSmall.rows, 1000).p50,
    'baseline p99 @1000/s (ms)': at(baseSmall.rows, 1000).p99,
    'devx p99 @2000/s (ms)': at(devxSmall.rows, 2000).p99,
    'devx errors (all phases)': devxSmall.rows.reduce((a, r) => a + r.errors, 0) + devxBig.rows.reduce((a, r) => a + r.errors, 0),
    'devx max (req/s)': at(devxSmall.rows, 'max').rps,
    'baseline max (req/s)': at(baseSmall.rows, 'max').rps,
    'ratio devx/baseline': at(devxSmall.rows, 'max').rps / at(baseSmall.rows, 'max').rps,
    'devx 64KiB p99 @1000/s (ms)': at(devxBig.rows, 1000).p99,
    'baseline 64KiB p99 @1000/s (ms)': at(baseBig.rows, 1000).p99,
    'devx 64KiB max (req/s)': at(devxBig.rows, 'max').rps,
    'ratio 64KiB devx/baseline': at(devxBig.rows, 'max').rps / at(baseBig.rows, 'max').rps,
    'devx RSS @1000/s (MB)': devxSmall.rss1000,
    'baseline RSS @1000/s (MB)': baseSmall.rss1000,
    'devx (cluster) RSS @1000/s (MB)': cluster.rss1000,
    'devx (cluster) p99 @1000/s (ms)': cluster.row.p99,
    'devx (cluster) CPU per review @1000/s (us)': cluster.row.cpuUs ?? NaN,
    'devx (cluster) start to ready (ms)': cluster.readyMs,
    'devx RSS at peak load (MB)': devxSmall.rssMb,
    'baseline RSS at peak load (MB)': baseSmall.rssMb,
    'devx RSS, 64KiB peak load (MB)': devxBig.rssMb,
    'load generator lag p99 @1000/s (ms)': at(devxSmall.rows, 1000).lagP99 ?? NaN,
    'devx CPU per review @1000/s (us)': at(devxSmall.rows, 1000).cpuUs ?? NaN,
    'baseline CPU per review @1000/s (us)': at(baseSmall.rows, 1000).cpuUs ?? NaN,
    'CPU ratio baseline/devx @1000/s': (at(baseSmall.rows, 1000).cpuUs ?? NaN) / (at(devxSmall.rows, 1000).cpuUs ?? NaN),
    'devx start to ready (ms)': devxSmall.readyMs,
    'baseline start to ready (ms)': baseSmall.readyMs,
    ...overloadSummary(overload),
  };
}

const fmt = (n: number): string => (Number.isNaN(n) ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(2));

function printRows(rows: Row[]): void {
  console.log('\nserver                  rate     p50 ms   p99 ms   max ms    req/s  errors  CPU us/review');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(23)} ${String(r.rate).padStart(5)} ${fmt(r.p50).padStart(9)} ${fmt(r.p99).padStart(8)} ${fmt(r.max).padStart(8)} ${fmt(r.rps).padStart(8)} ${String(r.errors).padStart(7)} ${fmt(r.cpuUs ?? NaN).padStart(14)}`,
    );
  }
}

const TARGETS: Record<string, [string, (v: number) => boolean]> = {
  'devx p99 @1000/s (ms)': ['<= 2', (v) => v <= 2],
  'ratio devx/baseline': ['>= 0.8', (v) => v >= 0.8],
  'devx 64KiB p99 @1000/s (ms)': ['<= 5', (v) => v <= 5],
  'core p99 (us)': ['<= 1000', (v) => v <= 1000],
  'devx RSS @1000/s (MB)': ['<= 100', (v) => v <= 100],
  'devx (cluster) RSS @1000/s (MB)': ['<= 100', (v) => v <= 100],
  'devx start to ready (ms)': ['<= 1000', (v) => v <= 1000],
  'devx errors (all phases)': ['= 0', (v) => v === 0],
  ...OVERLOAD_TARGETS,
};

async function main(): Promise<void> {
  // devx is measured as it ships: the compiled entry point the Dockerfile runs, with the same Node.js flags.
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  vegetaBinary();
  const dir = mkdtempSync(join(tmpdir(), 'devx-bench-'));
  try {
    const { ca, serving } = selfSignedServing({ serviceName: 'devx', namespace: 'devx-system' }, new Date());
    writeFileSync(join(dir, 'tls.crt'), serving.certPem + ca.certPem);
    writeFileSync(join(dir, 'tls.key'), serving.keyPem);
    writeFileSync(join(dir, 'objects.yaml'), objectsYaml());
    const runs: Array<Record<string, number>> = [];
    for (let i = 0; i < RUNS; i++) {
      console.log(`\n=== run ${i + 1} of ${RUNS}${QUICK ? ' (quick)' : ''}`);
      runs.push(await oneRun(dir));
    }
    const median: Record<string, number> = {};
    for (const key of Object.keys(runs[0] ?? {})) {
      const vals = runs.map((r) => r[key] as number).sort((a, b) => a - b);
      // Errors are not averaged away: the summary shows the worst run.
      median[key] = key.includes('errors') ? (vals[vals.length - 1] as number) : (vals[Math.floor(vals.length / 2)] as number);
    }
    console.log(`\nsummary (${RUNS > 1 ? `median of ${RUNS} runs; errors: the worst run` : 'one run'})`);
    for (const [k, v] of Object.entries(median)) {
      const t = TARGETS[k];
      const verdict = t ? `${t[0]}  ${t[1](v) ? 'met' : 'MISSED'}` : '';
      console.log(`  ${k.padEnd(42)} ${fmt(v).padStart(10)}   ${verdict}`);
    }
    mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
    const out = { date: new Date().toISOString(), node: process.version, quick: QUICK, runs, median };
    writeFileSync(join(ROOT, 'bench/results/latest.json'), JSON.stringify(out, null, 2) + '\n');
    console.log('\nwrote bench/results/latest.json');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
