// A real node with devx reconciling on it, for the node tests that need nothing else: the cluster, devx started with
// the node's DevPolicy (its images stand in for the user's), `namespace` opted in, and a scratch directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DevxServer } from './devx.ts';
import { nodePolicySpec, startNodeCluster, type NodeCluster } from './node.ts';
import { kube, startReconcilingDevx, type Kube } from './reconciler.ts';

export interface NodeDevx {
  cluster: NodeCluster;
  devx: DevxServer;
  kube: Kube;
  /** A directory of the test's own, removed by stop(). */
  tmp: string;
  stop(): Promise<void>;
}

export async function startNodeDevx(namespace: string): Promise<NodeDevx> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `devx-e2e-node-${namespace}-`));
  const cluster = await startNodeCluster();
  const devx = await startReconcilingDevx(cluster, namespace, [{ name: 'default', spec: nodePolicySpec(cluster.node.images) }]).catch(async (err: unknown) => {
    await cluster.stop();
    throw err;
  });
  return {
    cluster,
    devx,
    kube: kube(cluster),
    tmp,
    stop: async () => {
      await devx.stop();
      await cluster.stop();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}
