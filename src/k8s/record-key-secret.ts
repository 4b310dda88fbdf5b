// The Secret `devx-records-key` in devx's namespace: the HMAC key of devx's record signatures, made by the first
// replica that finds none (create-if-absent: two replicas starting together both end up with the winner's key).
// Deleting it invalidates every record devx wrote: workloads in dev mode can still leave it (their label is removed
// as usual), but devx then restores nothing it cannot verify, and says so.
//
// RBAC: get on this one Secret (resourceNames), create on secrets in devx's namespace.
import type { KubeConnection } from './kubeconfig.ts';
import { KubeApiError, kubeCall, kubeFind, namespaceMissing } from './rest.ts';
import { RECORD_KEY_BYTES, randomRecordKey } from '../tls/record-signer.ts';

export const RECORD_KEY_SECRET = 'devx-records-key';
const DATA_KEY = 'hmac-key';

interface SecretObject {
  data?: Record<string, string>;
}

function keyOf(secret: SecretObject | undefined): Buffer | undefined {
  const b64 = secret?.data?.[DATA_KEY];
  const key = b64 === undefined ? undefined : Buffer.from(b64, 'base64');
  return key && key.length >= RECORD_KEY_BYTES ? key : undefined;
}

/** Reads the record key, creating it when missing; undefined when devx's namespace does not exist. */
export async function loadRecordKey(kc: KubeConnection, namespace: string): Promise<Buffer | undefined> {
  const collection = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const item = `${collection}/${RECORD_KEY_SECRET}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = keyOf((await kubeFind(kc, { method: 'GET', path: item })) as SecretObject | undefined);
    if (existing) return existing;
    const body = {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      metadata: {
        name: RECORD_KEY_SECRET,
        namespace,
        labels: { 'app.kubernetes.io/name': 'devx', 'app.kubernetes.io/component': 'records-key' },
        annotations: { 'dev.x/purpose': "HMAC key of devx's record signatures; deleting it makes devx ignore every record it wrote" },
      },
      data: { [DATA_KEY]: randomRecordKey().toString('base64') },
    };
    try {
      await kubeCall(kc, { method: 'POST', path: collection, body });
    } catch (err) {
      if (namespaceMissing(err)) return undefined;
      if (!(err instanceof KubeApiError && err.status === 409)) {
        throw new Error(`cannot create Secret ${namespace}/${RECORD_KEY_SECRET} (devx's record key): ${(err as Error).message}`);
      }
    }
  }
  throw new Error(`Secret ${namespace}/${RECORD_KEY_SECRET} exists but holds no usable key (${DATA_KEY}, ${RECORD_KEY_BYTES} bytes); delete it so devx makes a new one`);
}

/** devx's own user name, as the API server authenticates it (SelfSubjectReview). */
export async function whoAmI(kc: KubeConnection): Promise<string | undefined> {
  const review = (await kubeCall(kc, {
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  })) as { status?: { userInfo?: { username?: string } } };
  return review.status?.userInfo?.username;
}
