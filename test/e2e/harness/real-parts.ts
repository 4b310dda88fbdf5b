// Where the real binaries built by `npm run real-parts` live. Versions come from test/tools/versions.env, the one
// place they are pinned; the cache root is DEVX_CACHE (default ~/.cache/devx), as in build-real-parts.sh.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const VERSIONS_FILE = path.resolve(import.meta.dirname, '../../tools/versions.env');

export interface RealParts {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  helm: string;
  /** The sidecar image's syncthing version (SYNCTHING_SIDECAR_VERSION). */
  syncthingSidecar: string;
  /** The oldest syncthing the agent supports (SYNCTHING_OLDEST_VERSION): the local end in the tests. */
  syncthingOldest: string;
  /** The benchmark's load generator. */
  vegeta: string;
  /** The benchmark's peers of devx (`build-real-parts.sh bench`): Kubernetes' e2e test image and Kyverno's directory. */
  agnhost: string;
  kyvernoDir: string;
  /** The node (`npm run real-parts` builds them; runc and busybox come from Debian's packages). */
  kubelet: string;
  kubeScheduler: string;
  /** Services on the node (nftables mode). */
  kubeProxy: string;
  /** kubectl of the same release (the machine's own kubectl may be older). */
  kubectl: string;
  /** Directory of containerd, containerd-shim-runc-v2 and ctr. */
  containerdDir: string;
  /** Directory of the CNI plugins bridge, host-local and loopback. */
  cniDir: string;
  /** Directory of the node's OCI image archives and their `images.json` index (test/tools/node-images). */
  nodeImagesDir: string;
  versions: Record<string, string>;
}

/** KEY=VALUE lines of a shell env file; comments and blank lines are skipped, surrounding quotes dropped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (line.startsWith('#') || !m) continue;
    out[m[1] as string] = (m[2] as string).replace(/^(['"])(.*)\1$/, '$2');
  }
  return out;
}

export function readVersions(file = VERSIONS_FILE): Record<string, string> {
  return parseEnvFile(fs.readFileSync(file, 'utf8'));
}

function need(versions: Record<string, string>, key: string): string {
  const v = versions[key];
  if (!v) throw new Error(`${VERSIONS_FILE} does not define ${key}`);
  return v;
}

/** Paths of the real parts; nothing is checked yet (see requireRealParts). */
export function realPartPaths(): RealParts {
  const versions = readVersions();
  const cache = process.env.DEVX_CACHE || path.join(os.homedir(), '.cache', 'devx');
  const k8s = path.join(cache, `k8s-v${need(versions, 'K8S_VERSION')}`);
  const node = path.join(cache, `k8s-node-v${need(versions, 'K8S_VERSION')}`);
  return {
    etcd: path.join(cache, `etcd-v${need(versions, 'ETCD_VERSION')}`, 'etcd'),
    kubeApiserver: path.join(k8s, 'kube-apiserver'),
    kubeControllerManager: path.join(k8s, 'kube-controller-manager'),
    helm: path.join(cache, `helm-v${need(versions, 'HELM_VERSION')}`, 'helm'),
    syncthingSidecar: path.join(cache, `syncthing-v${need(versions, 'SYNCTHING_SIDECAR_VERSION')}`, 'syncthing'),
    syncthingOldest: path.join(cache, `syncthing-v${need(versions, 'SYNCTHING_OLDEST_VERSION')}`, 'syncthing'),
    vegeta: path.join(cache, `vegeta-v${need(versions, 'VEGETA_VERSION')}`, 'vegeta'),
    agnhost: path.join(cache, `agnhost-v${need(versions, 'K8S_VERSION')}`, 'agnhost'),
    kyvernoDir: path.join(cache, `kyverno-v${need(versions, 'KYVERNO_VERSION')}`),
    kubelet: path.join(node, 'kubelet'),
    kubeScheduler: path.join(node, 'kube-scheduler'),
    kubeProxy: path.join(node, 'kube-proxy'),
    kubectl: path.join(node, 'kubectl'),
    containerdDir: path.join(cache, `containerd-v${need(versions, 'CONTAINERD_VERSION')}`),
    cniDir: path.join(cache, `cni-plugins-v${need(versions, 'CNI_PLUGINS_VERSION')}`),
    nodeImagesDir: path.join(cache, `node-images-v${need(versions, 'NODE_IMAGES_VERSION')}`),
    versions,
  };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The paths of the named parts, or an error that says which are missing and how to build them. */
export function requireRealParts(names: ReadonlyArray<'etcd' | 'kubeApiserver' | 'kubeControllerManager' | 'helm' | 'kubelet' | 'kubeScheduler' | 'kubectl' | 'kubeProxy'>): RealParts {
  const parts = realPartPaths();
  const missing = names.map((n) => parts[n]).filter((p) => !isExecutable(p));
  if (missing.length > 0) {
    throw new Error(
      `real binaries missing: ${missing.join(', ')}\n` +
        `build them once with \`npm run real-parts\` (tens of minutes cold; cached in DEVX_CACHE, default ~/.cache/devx)`,
    );
  }
  return parts;
}
