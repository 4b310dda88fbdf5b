// An open-loop load generator with microsecond timing: requests are sent on a fixed schedule over TLS keep-alive,
// whether or not earlier answers came back, so a slow server cannot slow the load down (no coordinated omission).
// Each latency runs from the moment the request is handed to the socket to the end of the answer; how late the
// generator itself was against its schedule (timer granularity, its own GC) is reported separately as `lag`.
// autocannon's histogram has 1 ms resolution, too coarse for a 2 ms target; it measures peak throughput.
import { readFileSync } from 'node:fs';
import https from 'node:https';

export interface FixedRateResult {
  rate: number;
  sent: number;
  ok: number;
  errors: number;
  /** Latencies in milliseconds, sorted. */
  latencies: number[];
  /** How late requests were sent against the schedule, ms, sorted. */
  lag: number[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function post(agent: https.Agent, url: URL, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function fixedRate(opts: { url: string; body: string; rate: number; durationMs: number }): Promise<FixedRateResult> {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(opts.url);
  const total = Math.round((opts.rate * opts.durationMs) / 1000);
  const latencies: number[] = [];
  const lag: number[] = [];
  let ok = 0;
  let errors = 0;
  const pending: Array<Promise<void>> = [];
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    while (sent < total && start + (sent * 1000) / opts.rate <= now) {
      const scheduled = start + (sent * 1000) / opts.rate;
      sent++;
      const sentAt = performance.now();
      lag.push(sentAt - scheduled);
      pending.push(
        post(agent, url, opts.body).then(
          (status) => {
            if (status === 200) {
              ok++;
              latencies.push(performance.now() - sentAt);
            } else errors++;
          },
          () => void errors++,
        ),
      );
    }
    await new Promise((r) => setTimeout(r, Math.max(0, start + (sent * 1000) / opts.rate - performance.now())));
  }
  await Promise.all(pending);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  lag.sort((a, b) => a - b);
  return { rate: opts.rate, sent, ok, errors, latencies, lag };
}

/**
 * autocannon's peak-throughput phases open a new connection after this many requests on one, as the API server's Go
 * client does when devx closes a keep-alive connection after 1,000 reviews (`maxRequestsPerSocket`, src/webhook/app.ts):
 * autocannon does not honour `Connection: close` and would send on into 503s. Every contender gets the same.
 */
export const RECONNECT_EVERY = 1000;

/** Resident memory of a process in MB; 0 once it has gone (a phase then reports that it died). */
export function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
