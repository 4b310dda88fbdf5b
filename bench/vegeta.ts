// The benchmark's fixed-rate phases run vegeta (built from the Go module proxy by
// `bash test/tools/build-real-parts.sh vegeta`, cached outside the repository): an open-loop generator that sends on
// schedule whether or not earlier answers came back (no coordinated omission), times every request in nanoseconds,
// and runs as its own process with one Go thread, on the core the server does not use. The in-process Node generator
// of bench/load.ts measured its own pauses as well: with it, the bare baseline's p99 at 1,000/s swung between 2 and
// 50 ms from run to run. Each request's result is read back exactly (vegeta encode, CSV), not from a digest.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realPartPaths } from '../test/e2e/harness/real-parts.ts';
import type { FixedRateResult } from './load.ts';

const ROOT = join(import.meta.dirname, '..');

/** The vegeta binary, built on first use (about 15 s). */
export function vegetaBinary(): string {
  const bin = realPartPaths().vegeta;
  if (!existsSync(bin)) execFileSync('bash', [join(ROOT, 'test/tools/build-real-parts.sh'), 'vegeta'], { stdio: 'inherit' });
  return bin;
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => err.push(c));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new Error(`vegeta ${args[0]} exited ${code}: ${Buffer.concat(err).toString('utf8')}`)),
    );
  });
}

/** One fixed-rate phase against `url`, POSTing `body` over TLS keep-alive (HTTP/1.1, as the API server does). */
export async function vegetaFixedRate(opts: { url: string; body: string; rate: number; durationMs: number; maxConnections?: number }): Promise<FixedRateResult> {
  const bin = vegetaBinary();
  const dir = mkdtempSync(join(tmpdir(), 'devx-vegeta-'));
  try {
    writeFileSync(join(dir, 'body.json'), opts.body);
    writeFileSync(join(dir, 'targets.txt'), `POST ${opts.url}\nContent-Type: application/json\n@${join(dir, 'body.json')}\n`);
    const results = join(dir, 'results.bin');
    await run(
      bin,
      ['attack', `-targets=${join(dir, 'targets.txt')}`, `-rate=${opts.rate}/1s`, `-duration=${opts.durationMs}ms`, '-insecure', '-keepalive', '-http2=false', '-max-body=0', '-timeout=10s', `-output=${results}`, ...(opts.maxConnections ? [`-max-connections=${opts.maxConnections}`] : [])],
      { GOMAXPROCS: '1' },
    );
    return summarize(await run(bin, ['encode', '--to=csv', results], {}), opts.rate);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CSV columns: timestamp ns, status, latency ns, bytes out, bytes in, error, body, attack, seq, ... */
function summarize(csv: string, rate: number): FixedRateResult {
  const rows = csv
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split(','))
    .map((c) => ({ at: Number(c[0]), status: Number(c[1]), latencyMs: Number(c[2]) / 1e6, seq: Number(c[8]) }));
  const start = Math.min(...rows.map((r) => r.at - (r.seq * 1e9) / rate));
  const ok = rows.filter((r) => r.status === 200);
  return {
    rate,
    sent: rows.length,
    ok: ok.length,
    errors: rows.length - ok.length,
    latencies: ok.map((r) => r.latencyMs).sort((a, b) => a - b),
    // How late each request left against the schedule (the earliest-starting request defines time zero).
    lag: rows.map((r) => (r.at - (start + (r.seq * 1e9) / rate)) / 1e6).sort((a, b) => a - b),
  };
}

/** The vegeta process runner, for phases that read every result themselves (bench/overload.ts). */
export { run as runVegeta };
