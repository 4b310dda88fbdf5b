// The overload phase of `npm run bench`: devx-webhook as it ships, driven open-loop at three times its measured peak,
// then at normal load again. What it shows (DESIGN's webhook timeout is the chart's webhook.timeoutSeconds, 5 s; the
// memory limit is the chart's 256 MiB):
// - every review gets an answer (200 decided, or 429 overloaded with a message) or, past --max-connections, its
//   connection closed at once: none is left to time out;
// - answered reviews come back within the webhook timeout (max, p99), so the API server never gives up on one;
// - the server's RSS stays under the memory limit;
// - the kubelet's probes, on --probe-port as the chart runs them, are answered within their 2 s timeout all along;
// - at normal load right after, devx answers every review again, with its usual latency (recovery).
// Alone: `npx node bench/overload.ts [--quick] [--factor 3] [--cpu-quota PCT] [--memory-limit MIB] [-- devx-webhook
// flags...]` builds devx,
// measures its peak and runs the phase; `npm run bench` calls overloadPhase() with the peak it measured itself.
// --cpu-quota gives devx a fixed CPU budget (a cgroup's CFS quota, as a container's CPU limit does; root only), so on
// a small machine the generator is not what limits it: at three times devx's peak on two cores, vegeta alone needs
// 1.3-1.8 of them and devx gets what is left, which measures the machine rather than devx. --memory-limit starts devx
// in a memory cgroup, as the chart's limit (256 MiB) does: Node sizes its heap by it (a heap limit of 259 MiB there,
// against 4 GiB on this 24 GiB machine without one), so the RSS it reaches without a limit is not what a pod reaches.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { reviewBody, reviewsPod } from './fixtures.ts';
import { percentile, RECONNECT_EVERY, rssMb } from './load.ts';
import { startNodeServer, stopServer, writeBenchTls, type Server, type Tls } from './peers.ts';
import { runVegeta, vegetaBinary } from './vegeta.ts';
import { freePort } from '../test/e2e/harness/ports.ts';

const ROOT = join(import.meta.dirname, '..');
/** The chart's webhook.timeoutSeconds and resources.limits.memory. */
export const WEBHOOK_TIMEOUT_MS = 5000;
export const MEMORY_LIMIT_MB = 256;

export interface OverloadResult {
  peakRps: number;
  /** Offered load: factor × peak, req/s. */
  rate: number;
  sent: number;
  answered: number;
  rejected: number;
  /** Neither 200 nor 429: connections devx closed past --max-connections, client timeouts (10 s), other statuses. */
  failed: number;
  /** The slowest of those: how fast a caller learns that devx will not answer. */
  failedMaxMs: number;
  /** 429s that carried devx's message (a Status with reason TooManyRequests). */
  rejectedWithMessage: number;
  answeredP99Ms: number;
  answeredMaxMs: number;
  /** Answers (200) that came after the webhook timeout: the API server would have failed those calls already. */
  late: number;
  rssMaxMb: number;
  /** Rejections counted in devx's /metrics (devx_admission_rejected_total), after the phase. */
  metricRejected: number;
  /** Times devx stopped listening (devx_listener_paused_total), and for how long in all (s), after the phase. */
  listenerPauses: number;
  listenerPausedSeconds: number;
  recovery: { rate: number; sent: number; answered: number; p99Ms: number; maxMs: number; firstSecondP99Ms: number; failures: Record<string, number> };
  /**
   * The kubelet's view during the flood: /healthz and /readyz on --probe-port, each a new connection, 2 s timeout;
   * `longestFailingMs`: the longest stretch in which every probe failed (the chart's readiness probe, every 5 s with
   * failureThreshold 2, takes a replica out after failures spanning 5 s; its liveness probe restarts it after 20 s).
   */
  probes: { sent: number; failed: number; maxMs: number; longestFailingMs: number };
  /** When devx ran in a memory cgroup (the chart's limit): its peak charge and the OOM kills in it. */
  memoryCgroup?: { limitMb: number; peakMb: number; oomKills: number };
}

interface Shot {
  /** Seconds since the phase started. */
  at: number;
  status: number;
  ms: number;
  body: string;
  /** Without an answer: what the client saw (vegeta's error column). */
  error: string;
}

/** One open-loop vegeta attack; every request's result. The client gives up after 10 s, twice the webhook timeout. */
async function attack(url: string, body: string, rate: number, durationMs: number): Promise<Shot[]> {
  const bin = vegetaBinary();
  const dir = mkdtempSync(join(tmpdir(), 'devx-overload-'));
  try {
    writeFileSync(join(dir, 'body.json'), body);
    writeFileSync(join(dir, 'targets.txt'), `POST ${url}\nContent-Type: application/json\n@${join(dir, 'body.json')}\n`);
    const out = join(dir, 'results.bin');
    // Two Go threads: at three times devx's peak, one is not enough to send on schedule over TLS.
    const args = ['attack', `-targets=${join(dir, 'targets.txt')}`, `-rate=${rate}/1s`, `-duration=${durationMs}ms`, '-insecure', '-keepalive', '-http2=false', '-timeout=10s', `-output=${out}`];
    await runVegeta(bin, args, { GOMAXPROCS: '2' });
    const csv = await runVegeta(bin, ['encode', '--to=csv', out], {});
    const rows = csv.split('\n').filter((l) => l.length > 0).map((l) => l.split(','));
    const t0 = Math.min(...rows.map((c) => Number(c[0])));
    // Columns: timestamp ns, status, latency ns, bytes out, bytes in, error, body (base64), ...; with an answer the
    // error column holds its status line ("429 Too Many Requests"), without one a quoted message that may hold commas.
    return rows.map((c) => {
      const status = Number(c[1]);
      // Without an answer the quoted error may hold commas: everything between the counts and the body's column.
      const error = status > 0 ? '' : c.slice(5, -6).join(',').replace(/^"|"$/g, '');
      return { at: (Number(c[0]) - t0) / 1e9, status, ms: Number(c[2]) / 1e6, body: status > 0 ? Buffer.from(c[6] ?? '', 'base64').toString('utf8') : '', error };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The chart's probes' timeoutSeconds. */
export const PROBE_TIMEOUT_MS = 2000;
/** Failing this long, the chart's readiness probe (periodSeconds 5, failureThreshold 2) takes a replica out. */
const READINESS_FAILING_MS = 5000;

/**
 * GET `url` as the kubelet probes: plain HTTP, a new connection, PROBE_TIMEOUT_MS. The status (0: no answer, then
 * `error` says why) and how long it took.
 */
export function probeOnce(url: string): Promise<{ status: number; ms: number; error?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const ms = (): number => performance.now() - started;
    const req = http.get(url, { agent: false, timeout: PROBE_TIMEOUT_MS }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: ms() }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, ms: ms(), error: err.code ?? err.message }));
  });
}

/** Probes /healthz and /readyz at `origin` every 200 ms (a kubelet probes every 5-10 s) until `until` settles. */
async function probeWhile(origin: string, until: Promise<unknown>): Promise<OverloadResult['probes']> {
  let running = true;
  const stop = (): void => {
    running = false;
  };
  until.then(stop, stop);
  const r = { sent: 0, failed: 0, maxMs: 0, longestFailingMs: 0 };
  let failingSince: number | undefined;
  while (running) {
    const started = performance.now();
    const results = await Promise.all(['/healthz', '/readyz'].map((path) => probeOnce(`${origin}${path}`)));
    for (const { status, ms } of results) {
      r.sent++;
      if (status !== 200) r.failed++;
      r.maxMs = Math.max(r.maxMs, ms);
    }
    if (results.some((x) => x.status !== 200)) {
      failingSince ??= started;
      r.longestFailingMs = Math.max(r.longestFailingMs, performance.now() - failingSince);
    } else failingSince = undefined;
    await new Promise((res) => setTimeout(res, 200));
  }
  return r;
}

function getText(url: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      })
      .on('error', reject);
  });
}

/** The sum of a counter in devx's /metrics over its labels. */
function counterSum(text: string, name: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

function isDevxStatus(body: string): boolean {
  try {
    const s = JSON.parse(body) as { kind?: string; reason?: string; message?: string };
    return s.kind === 'Status' && s.reason === 'TooManyRequests' && typeof s.message === 'string' && s.message.startsWith('devx: ');
  } catch {
    return false;
  }
}

/** How many of `shots` ended each way: the status, or without one the client's error (addresses cut out). */
function tally(shots: Shot[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of shots) {
    const key = s.status > 0 ? String(s.status) : s.error.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR').slice(-80);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

function sortedMs(shots: Shot[]): number[] {
  return shots.map((s) => s.ms).sort((a, b) => a - b);
}

/**
 * Drives `server` at `factor` × `peakRps` for `durationMs`, then at a third of the peak for `durationMs` (recovery: a load devx carries with room to spare).
 * `server.url` is its review route; its process is sampled for RSS.
 */
export async function overloadPhase(o: { devx: OverloadDevx; body: string; peakRps: number; factor?: number; durationMs: number }): Promise<OverloadResult> {
  const { server, probePort, memory } = o.devx;
  const rate = Math.round((o.factor ?? 3) * o.peakRps);
  let rssMax = rssMb(server.proc.pid as number);
  const sampler = setInterval(() => (rssMax = Math.max(rssMax, rssMb(server.proc.pid as number))), 50);
  try {
    const flood = attack(server.url, o.body, rate, o.durationMs);
    const [shots, probes] = await Promise.all([flood, probeWhile(`http://127.0.0.1:${probePort}`, flood)]);
    const recoveryRate = Math.max(1, Math.round(o.peakRps / 3));
    const again = await attack(server.url, o.body, recoveryRate, o.durationMs);
    const ok = shots.filter((s) => s.status === 200);
    const rejected = shots.filter((s) => s.status === 429);
    const okMs = sortedMs(ok);
    const againOk = again.filter((s) => s.status === 200);
    const againMs = sortedMs(againOk);
    const { text: metrics } = await getText(`${new URL(server.url).origin}/metrics`);
    return {
      peakRps: o.peakRps,
      rate,
      sent: shots.length,
      answered: ok.length,
      rejected: rejected.length,
      failed: shots.length - ok.length - rejected.length,
      failedMaxMs: shots.filter((s) => s.status !== 200 && s.status !== 429).reduce((max, s) => Math.max(max, s.ms), 0),
      rejectedWithMessage: rejected.filter((s) => isDevxStatus(s.body)).length,
      answeredP99Ms: percentile(okMs, 99),
      answeredMaxMs: okMs[okMs.length - 1] ?? NaN,
      late: ok.filter((s) => s.ms > WEBHOOK_TIMEOUT_MS).length,
      rssMaxMb: rssMax,
      metricRejected: counterSum(metrics, 'devx_admission_rejected_total'),
      listenerPauses: counterSum(metrics, 'devx_listener_paused_total'),
      listenerPausedSeconds: counterSum(metrics, 'devx_listener_paused_seconds_total'),
      recovery: {
        rate: recoveryRate,
        sent: again.length,
        answered: againOk.length,
        p99Ms: percentile(againMs, 99),
        maxMs: againMs[againMs.length - 1] ?? NaN,
        firstSecondP99Ms: percentile(sortedMs(againOk.filter((s) => s.at < 1)), 99),
        failures: tally(again.filter((s) => s.status !== 200)),
      },
      probes,
      ...(memory ? { memoryCgroup: { limitMb: memory.limitMb, peakMb: memory.peakMb(), oomKills: memory.oomKills() } } : {}),
    };
  } finally {
    clearInterval(sampler);
  }
}

/** The summary lines `npm run bench` adds to its table, with the targets of issue 15. */
export function overloadSummary(r: OverloadResult): Record<string, number> {
  return {
    'overload: offered (req/s, 3x peak)': r.rate,
    'overload: answered max (ms)': r.answeredMaxMs,
    'overload: answered p99 (ms)': r.answeredP99Ms,
    'overload: answered late (> 5 s)': r.late,
    'overload: share of 429s': r.rejected / Math.max(1, r.sent),
    'overload: 429s without a message': r.rejected - r.rejectedWithMessage,
    'overload: share closed, no answer': r.failed / Math.max(1, r.sent),
    'overload: no answer, slowest (ms)': r.failedMaxMs,
    'overload: RSS max (MB)': r.rssMaxMb,
    'overload: listener pauses': r.listenerPauses,
    'overload: time not listening (s)': r.listenerPausedSeconds,
    'overload: recovery p99 (ms)': r.recovery.p99Ms,
    'overload: recovery first-second p99 (ms)': r.recovery.firstSecondP99Ms,
    'overload: recovery non-200': r.recovery.sent - r.recovery.answered,
    'overload: probes sent (--probe-port)': r.probes.sent,
    'overload: probes failed (2 s timeout)': r.probes.failed,
    'overload: probes, slowest (ms)': r.probes.maxMs,
    'overload: probes, longest failing (ms)': r.probes.longestFailingMs,
    ...(r.memoryCgroup ? { 'overload: memory cgroup peak (MiB)': r.memoryCgroup.peakMb, 'overload: OOM kills': r.memoryCgroup.oomKills } : {}),
  };
}

export const OVERLOAD_TARGETS: Record<string, [string, (v: number) => boolean]> = {
  'overload: answered max (ms)': [`<= ${WEBHOOK_TIMEOUT_MS}`, (v) => v <= WEBHOOK_TIMEOUT_MS],
  'overload: 429s without a message': ['= 0', (v) => v === 0],
  'overload: answered late (> 5 s)': ['= 0', (v) => v === 0],
  'overload: no answer, slowest (ms)': [`<= ${WEBHOOK_TIMEOUT_MS}`, (v) => v <= WEBHOOK_TIMEOUT_MS],
  'overload: RSS max (MB)': [`< ${MEMORY_LIMIT_MB}`, (v) => v < MEMORY_LIMIT_MB],
  'overload: recovery non-200': ['= 0', (v) => v === 0],
  'overload: probes, longest failing (ms)': [`< ${READINESS_FAILING_MS}`, (v) => v < READINESS_FAILING_MS],
  'overload: OOM kills': ['= 0', (v) => v === 0],
};

/** devx's peak as the bench's max-throughput phase measures it: 16 connections, closed loop, 200s only. */
export async function peakRps(url: string, body: string, durationMs: number): Promise<number> {
  const r = await autocannon({ url, method: 'POST', body, headers: { 'content-type': 'application/json' }, connections: 16, duration: durationMs / 1000, reconnectRate: RECONNECT_EVERY });
  return r['2xx'] / (durationMs / 1000);
}

/** The unified hierarchy (cgroup v2) is mounted at /sys/fs/cgroup; else v1, one hierarchy per controller. */
const cgroupV2 = (): boolean => existsSync('/sys/fs/cgroup/cgroup.controllers');

/**
 * Moves `pid` into a new cgroup allowed `percent` of one CPU (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us); returns
 * how to remove the cgroup once the process has exited.
 */
function cpuQuota(pid: number, percent: number): () => void {
  const v2 = cgroupV2();
  const dir = v2 ? `/sys/fs/cgroup/devx-bench-${pid}` : `/sys/fs/cgroup/cpu/devx-bench-${pid}`;
  mkdirSync(dir);
  const periodUs = 100_000;
  const quotaUs = Math.round((periodUs * percent) / 100);
  if (v2) writeFileSync(join(dir, 'cpu.max'), `${quotaUs} ${periodUs}`);
  else {
    writeFileSync(join(dir, 'cpu.cfs_period_us'), String(periodUs));
    writeFileSync(join(dir, 'cpu.cfs_quota_us'), String(quotaUs));
  }
  writeFileSync(join(dir, 'cgroup.procs'), String(pid));
  return () => rmdirSync(dir);
}

/** devx as the overload phase drives it: its server, the port of its probes, the memory cgroup it runs in if any. */
export interface OverloadDevx {
  server: Server;
  probePort: number;
  memory?: MemoryCgroup | undefined;
}

/** Starts devx with --probe-port (and `flags`), in `memory` when given. */
export async function startOverloadDevx(tls: Tls, o: { flags?: string[]; memory?: MemoryCgroup | undefined } = {}): Promise<OverloadDevx> {
  const probePort = await freePort();
  const server = await startNodeServer('devx', tls, { flags: ['--probe-port', String(probePort), ...(o.flags ?? [])], ...(o.memory ? { cgroupProcs: o.memory.procs } : {}) });
  return { server, probePort, memory: o.memory };
}

export interface MemoryCgroup {
  limitMb: number;
  procs: string;
  peakMb: () => number;
  oomKills: () => number;
  remove: () => void;
}

/**
 * A memory cgroup limited to `mb` MiB (v2 memory.max, or v1 memory.limit_in_bytes), as a container's memory limit:
 * its cgroup.procs to start devx in, what it saw (peak usage, OOM kills) and how to remove it once devx has exited.
 */
export function memoryLimit(mb: number): MemoryCgroup {
  const v2 = cgroupV2();
  const dir = v2 ? `/sys/fs/cgroup/devx-bench-mem-${process.pid}` : `/sys/fs/cgroup/memory/devx-bench-${process.pid}`;
  mkdirSync(dir);
  writeFileSync(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), String(mb * 1024 * 1024));
  const read = (file: string): string => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '');
  const field = (text: string, name: string): number => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return {
    limitMb: mb,
    procs: join(dir, 'cgroup.procs'),
    peakMb: () => Number(read(v2 ? 'memory.peak' : 'memory.max_usage_in_bytes')) / 1024 / 1024,
    oomKills: () => field(read(v2 ? 'memory.events' : 'memory.oom_control'), 'oom_kill'),
    remove: () => rmdirSync(dir),
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { quick: { type: 'boolean' }, factor: { type: 'string' }, 'cpu-quota': { type: 'string' }, 'memory-limit': { type: 'string' } }, allowPositionals: true });
  execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(join(tmpdir(), 'devx-overload-'));
  const memMb = values['memory-limit'] ? Number(values['memory-limit']) : undefined;
  if (memMb !== undefined && !(memMb >= 64)) throw new Error(`--memory-limit ${values['memory-limit']}: give MiB, at least 64 (the chart's limit is ${MEMORY_LIMIT_MB})`);
  const memory = memMb === undefined ? undefined : memoryLimit(memMb);
  const devx = await startOverloadDevx(writeBenchTls(dir), { flags: positionals, memory });
  const { proc, url } = devx.server;
  if (memory) console.log(`devx started in a memory cgroup of ${memMb} MiB`);
  const quota = values['cpu-quota'] ? Number(values['cpu-quota']) : undefined;
  let removeCgroup: (() => void) | undefined;
  try {
    if (quota !== undefined) {
      if (!(quota > 0 && quota <= 100)) throw new Error(`--cpu-quota ${values['cpu-quota']}: give a percentage of one CPU, 1-100`);
      removeCgroup = cpuQuota(proc.pid as number, quota);
      console.log(`devx limited to ${quota} % of one CPU`);
    }
    const body = reviewBody(reviewsPod());
    const ms = values.quick ? 3000 : 8000;
    const peak = await peakRps(url, body, ms);
    const r = await overloadPhase({ devx, body, peakRps: peak, durationMs: ms, ...(values.factor ? { factor: Number(values.factor) } : {}) });
    console.log(JSON.stringify(r, null, 2));
    if (memory) console.log(`devx ${proc.exitCode === null && proc.signalCode === null ? 'still running' : `exited (${proc.signalCode ?? proc.exitCode})`} after the phase`);
    for (const [k, v] of Object.entries(overloadSummary(r))) {
      const t = OVERLOAD_TARGETS[k];
      console.log(`  ${k.padEnd(42)} ${v.toFixed(2).padStart(10)}   ${t ? `${t[0]}  ${t[1](v) ? 'met' : 'MISSED'}` : ''}`);
    }
  } finally {
    await stopServer(devx.server);
    removeCgroup?.();
    memory?.remove();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
