// Did a change cost latency? Two builds of devx-webhook (or one build with two sets of Node flags) at the same fixed
// rate, taking turns. On a shared machine the p99 at 1,000/s moves by several times between phases of the same build
// (2-16 ms here), so one phase of each says nothing: this runs rounds, alternating which side goes first, and prints
// every phase, each side's median and how many rounds each side had the lower p99.
//   npx node bench/ab.ts --b /tmp/other/dist/cli/devx-webhook.js          # this checkout's build (A) against another
//   npx node bench/ab.ts --b-node-flags=--max-semi-space-size=64           # the same build, other V8 flags
//   [--rounds 8] [--rate 1000] [--seconds 8]
// Both sides run `--objects` with the bench's bookinfo pod, as `npm run bench` runs devx, behind vegeta with at most
// 64 connections. Build A first (`npm run build`); B is any built devx-webhook.js.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { reviewBody, reviewsPod } from './fixtures.ts';
import { percentile } from './load.ts';
import { startNodeServer, stopServer, writeBenchTls } from './peers.ts';
import { vegetaFixedRate } from './vegeta.ts';

const { values: args } = parseArgs({
  options: {
    a: { type: 'string', default: join(import.meta.dirname, '../dist/cli/devx-webhook.js') },
    b: { type: 'string' },
    'a-node-flags': { type: 'string', default: '' },
    'b-node-flags': { type: 'string', default: '' },
    rounds: { type: 'string', default: '8' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '8' },
  },
});
const ROUNDS = Number(args.rounds);
const RATE = Number(args.rate);
const PHASE_MS = Number(args.seconds) * 1000;
if (!(ROUNDS >= 1 && RATE > 0 && PHASE_MS > 0)) throw new Error('--rounds, --rate and --seconds must be positive numbers');
const flags = (s: string): string[] => s.split(/\s+/).filter((f) => f.length > 0);
const sides = [
  { name: 'A', entry: resolve(args.a), nodeFlags: flags(args['a-node-flags']) },
  { name: 'B', entry: resolve(args.b ?? args.a), nodeFlags: flags(args['b-node-flags']) },
];
for (const s of sides) console.log(`# ${s.name}: node ${[...s.nodeFlags, s.entry].join(' ')}`);

const dir = mkdtempSync(join(tmpdir(), 'devx-ab-'));
const tls = writeBenchTls(dir);
const body = reviewBody(reviewsPod());
const p99s: Record<string, number[]> = { A: [], B: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
      const server = await startNodeServer('devx', tls, { entry: side.entry, nodeFlags: side.nodeFlags });
      try {
        await vegetaFixedRate({ url: server.url, body, rate: Math.min(RATE, 500), durationMs: 3000, maxConnections: 64 });
        const r = await vegetaFixedRate({ url: server.url, body, rate: RATE, durationMs: PHASE_MS, maxConnections: 64 });
        const p99 = percentile(r.latencies, 99);
        (p99s[side.name] as number[]).push(p99);
        console.log(`round ${round + 1} ${side.name}: p50 ${percentile(r.latencies, 50).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${(r.latencies.at(-1) ?? NaN).toFixed(1)} ms, ${r.ok}/${r.sent} ok`);
      } finally {
        await stopServer(server);
      }
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs: number[]): number => percentile([...xs].sort((x, y) => x - y), 50);
const [a, b] = [p99s.A as number[], p99s.B as number[]];
const aLower = a.filter((x, i) => x < (b[i] as number)).length;
console.log(`p99 median: A ${median(a).toFixed(2)} ms, B ${median(b).toFixed(2)} ms; lower p99: A in ${aLower} of ${ROUNDS} rounds, B in ${ROUNDS - aLower}`);
