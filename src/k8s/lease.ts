// The reconciler's Lease (coordination.k8s.io/v1) as a LeaseStore for src/reconciler/leader-election.ts.
import type { KubeConnection } from './kubeconfig.ts';
import type { LeaseRecord } from '../reconciler/lease-decision.ts';
import type { LeaseStore } from '../reconciler/leader-election.ts';
import { KubeApiError, kubeCall, kubeFind } from './rest.ts';

interface LeaseObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: Omit<LeaseRecord, 'resourceVersion'>;
}

function toRecord(lease: LeaseObject): LeaseRecord {
  return { ...(lease.spec ?? {}), ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}) };
}

function toObject(namespace: string, name: string, record: LeaseRecord): LeaseObject & { apiVersion: string; kind: string } {
  const { resourceVersion, ...spec } = record;
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'devx' }, ...(resourceVersion ? { resourceVersion } : {}) },
    spec,
  };
}

export function leaseStore(kc: KubeConnection, o: { namespace: string; name: string }): LeaseStore {
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(o.name)}`;
  return {
    describe: () => `${o.namespace}/${o.name}`,
    get: async () => {
      // No Lease (or no namespace yet: creating the Lease then says which): undefined.
      const lease = (await kubeFind(kc, { method: 'GET', path, timeoutMs: 5000 })) as LeaseObject | undefined;
      return lease === undefined ? undefined : toRecord(lease);
    },
    create: async (record) => {
      try {
        return toRecord((await kubeCall(kc, { method: 'POST', path: collection, body: toObject(o.namespace, o.name, record), timeoutMs: 5000 })) as LeaseObject);
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) throw new Error(`namespace ${o.namespace} does not exist: create it, or pass --namespace (the Lease lives there)`);
        throw err;
      }
    },
    update: async (record) => toRecord((await kubeCall(kc, { method: 'PUT', path, body: toObject(o.namespace, o.name, record), timeoutMs: 5000 })) as LeaseObject),
  };
}

