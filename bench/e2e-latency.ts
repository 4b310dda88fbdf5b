// Label -> injected pod object exists, and unlabel -> original pod template back, on the real control plane.
//   npm run bench:e2e [-- --runs 10]
// Each run: a fresh bookinfo `reviews` Deployment (3 replicas) in its own namespace; `kubectl label` as a user types
// it; the API polled every 10 ms for an injected pod; then `kubectl label …-` and the API polled until the
// Deployment's template is the original again. Prints every run, the median and the p90.
import { parseArgs } from 'node:util';
import { startControlPlane } from '../test/e2e/harness/control-plane.ts';
import { applyPolicy, bookinfoReviews, installCrd, startDevx } from '../test/e2e/harness/devx.ts';
import { percentile } from './load.ts';

/** JSON with sorted keys: kubectl prints keys sorted, the API server in its own order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const { values } = parseArgs({ options: { runs: { type: 'string' } } });
const RUNS = Number(values.runs ?? 10);

const cp = await startControlPlane();
try {
  await installCrd(cp);
  await applyPolicy(cp);
  const devx = await startDevx(cp);
  const enter: number[] = [];
  const leave: number[] = [];
  const poll = async (check: () => Promise<boolean>): Promise<void> => {
    const deadline = Date.now() + 30_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  for (let i = 0; i < RUNS; i++) {
    const ns = `lat-${i}`;
    await cp.createNamespace(ns, { 'dev.x/policy': 'default' });
    await cp.kubectl(['apply', '-f', '-'], { input: JSON.stringify(bookinfoReviews(ns, 3)), namespace: ns });
    const original = canonical(JSON.parse((await cp.kubectl(['get', 'deploy', 'reviews', '-o', 'json'], { namespace: ns })).stdout).spec.template);
    const t0 = performance.now();
    const on = await cp.kubectl(['label', 'deploy', 'reviews', 'dev.x/enabled=true'], { namespace: ns });
    if (on.code !== 0) throw new Error(on.stderr);
    await poll(async () => {
      const r = await cp.request('GET', `/api/v1/namespaces/${ns}/pods?labelSelector=dev.x%2Fenabled%3Dtrue`);
      return ((JSON.parse(r.body) as { items?: Array<{ metadata: { annotations?: Record<string, string> } }> }).items ?? []).some((p) => p.metadata.annotations?.['dev.x/status']);
    });
    enter.push(performance.now() - t0);
    const t1 = performance.now();
    const off = await cp.kubectl(['label', 'deploy', 'reviews', 'dev.x/enabled-'], { namespace: ns });
    if (off.code !== 0) throw new Error(off.stderr);
    let last = '';
    await poll(async () => {
      const r = await cp.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/reviews`);
      last = canonical((JSON.parse(r.body) as { spec: { template: unknown } }).spec.template);
      return last === original;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}: template\n${last}\nexpected\n${original}`);
    });
    leave.push(performance.now() - t1);
    console.log(`run ${i + 1}: label -> injected pod ${enter[i]?.toFixed(0)} ms; unlabel -> template restored ${leave[i]?.toFixed(0)} ms`);
  }
  const e = [...enter].sort((a, b) => a - b);
  const l = [...leave].sort((a, b) => a - b);
  console.log(`\nlabel -> injected pod exists:      median ${percentile(e, 50).toFixed(0)} ms, p90 ${percentile(e, 90).toFixed(0)} ms (target: median <= 1500 ms)`);
  console.log(`unlabel -> original template back: median ${percentile(l, 50).toFixed(0)} ms, p90 ${percentile(l, 90).toFixed(0)} ms (target: median <= 1500 ms)`);
  console.log('(both include starting kubectl, as a user typing the command would)');
  await devx.stop();
} finally {
  await cp.stop();
}
