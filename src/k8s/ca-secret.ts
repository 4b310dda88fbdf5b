// The Secret that holds self-managed TLS's CA (`devx-webhook-ca` in devx's namespace, keys `ca.crt` and `ca.key`),
// shared by every replica. Writes are create-if-absent and resourceVersion-checked updates, so two replicas that
// decide to replace the CA at the same moment cannot overwrite each other: one wins, the other reads the winner's.
//
// RBAC: get and update on this one Secret (resourceNames), create on secrets in the namespace (create cannot be
// limited by name).
import type { KubeConnection } from './kubeconfig.ts';
import { CaStoreUnavailableError, type CaStore, type StoredCa } from '../tls/serving.ts';
import type { KeyPairPem } from '../tls/pki.ts';
import { KubeApiError, kubeCall, kubeFind, namespaceMissing } from './rest.ts';

export interface CaSecretRef {
  namespace: string;
  name: string;
}

interface SecretObject {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

const decode = (b64: string | undefined): string | undefined => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'));
const encode = (text: string): string => Buffer.from(text, 'utf8').toString('base64');

function secretBody(ref: CaSecretRef, ca: KeyPairPem, resourceVersion: string | undefined): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { 'app.kubernetes.io/name': 'devx', 'app.kubernetes.io/component': 'webhook-ca' },
      annotations: { 'dev.x/purpose': 'CA of devx-webhook self-managed TLS; delete it to make devx generate a new CA' },
      ...(resourceVersion === undefined ? {} : { resourceVersion }),
    },
    type: 'Opaque',
    data: { 'ca.crt': encode(ca.certPem), 'ca.key': encode(ca.keyPem) },
  };
}

/** Conflict (someone updated first), AlreadyExists (someone created first), NotFound (someone deleted it). */
function lostRace(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 409 || err.status === 404);
}

export function secretCaStore(kc: KubeConnection, ref: CaSecretRef): CaStore {
  const collection = `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/secrets`;
  const item = `${collection}/${encodeURIComponent(ref.name)}`;
  return {
    where: `Secret ${ref.namespace}/${ref.name}`,
    async read(): Promise<StoredCa | undefined> {
      const secret = (await kubeFind(kc, { method: 'GET', path: item })) as SecretObject | undefined;
      if (secret === undefined) return undefined;
      const data = { 'ca.crt': decode(secret.data?.['ca.crt']), 'ca.key': decode(secret.data?.['ca.key']) };
      return { data, version: secret.metadata?.resourceVersion };
    },
    async write(ca: KeyPairPem, version: string | undefined): Promise<boolean> {
      try {
        const req = version === undefined ? { method: 'POST' as const, path: collection } : { method: 'PUT' as const, path: item };
        await kubeCall(kc, { ...req, body: secretBody(ref, ca, version) });
        return true;
      } catch (err) {
        if (version === undefined && namespaceMissing(err)) throw new CaStoreUnavailableError(`namespace ${ref.namespace} does not exist, so the CA Secret cannot be created there`);
        if (lostRace(err)) return false;
        throw err;
      }
    },
  };
}
