// Shared by the reconciler's end-to-end tests: fast reconciler timings for devx-webhook and small kubectl helpers.
// (Real syncthing on a sync Secret's config: harness/syncthing.ts.)
import assert from 'node:assert/strict';
import type { ControlPlane } from './control-plane.ts';
import { applyPolicy, eventually, getJson, installCrd, startDevx, type DevxServer } from './devx.ts';

/**
 * A control plane ready for dev mode with devx reconciling: the CRD, the default DevPolicy (plus `policies`), devx's
 * own namespace (its Lease and record key), `namespace` opted in, devx started with fast timings and leading.
 */
export async function startReconcilingDevx(cp: ControlPlane, namespace: string, policies: Array<Parameters<typeof applyPolicy>[1]> = []): Promise<DevxServer> {
  await installCrd(cp);
  await applyPolicy(cp);
  for (const p of policies) await applyPolicy(cp, p);
  await cp.createNamespace('devx-system');
  await cp.createNamespace(namespace, { 'dev.x/policy': 'default' });
  const devx = await startDevx(cp, { env: FAST_RECONCILER_ENV });
  await eventually('the reconciler leads', async () => devx.logs().some((l) => l.msg === 'became leader'));
  return devx;
}

/** Short reconciler timings so tests run in seconds (the defaults are a cluster's: 15 s leases, one-minute resync). */
export const FAST_RECONCILER_ENV: Record<string, string> = {
  DEVX_LEASE_DURATION: '2s',
  DEVX_LEASE_RENEW_DEADLINE: '1500ms',
  DEVX_LEASE_RETRY_PERIOD: '250ms',
  DEVX_RESYNC_PERIOD: '3s',
};

export interface Kube {
  ok(args: string[], opts?: Parameters<ControlPlane['kubectl']>[1]): Promise<{ stdout: string; stderr: string }>;
  apply(obj: unknown, namespace: string): Promise<void>;
  /** The object, or undefined when it does not exist. */
  maybe(kind: string, name: string, namespace: string): Promise<any>;
  gone(kind: string, name: string, namespace: string): Promise<boolean>;
  /** Pods matching a selector that are not being deleted. */
  pods(selector: string, namespace: string): Promise<any[]>;
  /** Reasons of the reconciler's Events about an object, oldest first (read through the core/v1 view). */
  eventReasons(kind: string, name: string, namespace: string): Promise<string[]>;
}

export function kube(cp: ControlPlane): Kube {
  const ok: Kube['ok'] = async (args, opts = {}) => {
    const r = await cp.kubectl(args, opts);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')} failed: ${r.stderr}`);
    return r;
  };
  const maybe: Kube['maybe'] = async (kind, name, namespace) => {
    const r = await cp.kubectl(['get', kind, name, '-o', 'json', '--ignore-not-found'], { namespace });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  };
  return {
    ok,
    apply: async (obj, namespace) => {
      await ok(['apply', '-f', '-'], { input: JSON.stringify(obj), namespace });
    },
    maybe,
    gone: async (kind, name, namespace) => (await maybe(kind, name, namespace)) === undefined,
    pods: async (selector, namespace) => ((await getJson(cp, ['pods', '-l', selector], namespace)).items as any[]).filter((p) => !p.metadata.deletionTimestamp),
    eventReasons: async (kind, name, namespace) => {
      const list = await getJson(cp, ['events', '--field-selector', `involvedObject.kind=${kind},involvedObject.name=${name}`], namespace);
      return (list.items as any[])
        .filter((e) => e.reportingComponent === 'dev.x/reconciler')
        .sort((a, b) => String(a.eventTime ?? a.firstTimestamp).localeCompare(String(b.eventTime ?? b.firstTimestamp)))
        .map((e) => e.reason as string);
    },
  };
}

export const isInjected = (p: any): boolean => p?.metadata?.annotations?.['dev.x/status'] !== undefined;
