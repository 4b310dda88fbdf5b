// Wires devx-webhook together: TLS, the source of Namespaces and DevPolicies, the fastify app, webhook registration.
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { parseAllDocuments } from 'yaml';
import type { ClusterView } from '../core/context.ts';
import { staticView } from '../core/static-view.ts';
import type { ServerConfig } from '../schemas/server-config.ts';
import { selfSignedServing } from '../tls/bootstrap.ts';
import { VERSION } from '../version.ts';
import { buildApp } from './app.ts';
import { cacheView } from './cluster-view.ts';
import { createMetrics } from './metrics.ts';
import { connectCluster, type ClusterConnection } from './cluster.ts';

export interface RunningServer {
  port: number;
  url: string;
  /** The CA that signed the serving certificate, when devx made it itself. */
  caPem?: string;
  close(): Promise<void>;
}

function loadObjects(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const bad = docs.find((d) => d.errors.length > 0);
  if (bad) throw new Error(`--objects ${path}: ${bad.errors[0]?.message}`);
  return docs.map((d) => d.toJS()).filter((o) => o !== null);
}

function tlsMaterial(config: ServerConfig): { cert: string; key: string; caPem?: string } {
  if (config.tlsCertFile && config.tlsKeyFile) {
    return { cert: readFileSync(config.tlsCertFile, 'utf8'), key: readFileSync(config.tlsKeyFile, 'utf8') };
  }
  const { ca, serving } = selfSignedServing({ serviceName: config.serviceName, namespace: config.namespace }, new Date());
  return { cert: serving.certPem, key: serving.keyPem, caPem: ca.certPem };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
}

export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const started = Date.now();
  const tls = tlsMaterial(config);
  let view: ClusterView;
  let ready: () => boolean;
  let cluster: ClusterConnection | undefined;
  if (config.objects) {
    view = staticView(loadObjects(config.objects));
    ready = () => true;
  } else {
    cluster = await connectCluster(config, logger);
    const { cache, workloads } = cluster;
    view = cacheView({
      namespaceLabels: (n) => cache.namespaceLabels(n),
      devPolicy: (n) => cache.devPolicy(n),
      devWorkloadCount: (ns, exclude) => workloads.count(ns, exclude),
      isInDevMode: (kind, ns, name) => workloads.isInDevMode(kind, ns, name),
    });
    ready = () => cluster?.ready() ?? false;
  }
  const metrics = createMetrics();
  const app = buildApp({
    logger,
    metrics,
    https: { cert: tls.cert, key: tls.key },
    ready,
    context: () => ({ view, now: new Date(), version: VERSION }),
    onEffects: (effects) => cluster?.runEffects(effects),
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  if (cluster && config.registerUrl) {
    // Register only once the view is complete: an early review would see no namespaces and deny wrongly.
    if (!(await waitFor(() => cluster?.ready() ?? false, 60_000))) throw new Error('the informers did not sync within 60 s');
    const url = config.registerUrl.replace(/:0$/, `:${port}`);
    await cluster.register({ url, caBundlePem: tls.caPem ?? tls.cert, excludedNamespaces: ['kube-system', config.namespace] });
  }
  logger.info({ port, host: config.host, startupMs: Date.now() - started, version: VERSION, source: config.objects ? 'objects-file' : 'cluster' }, 'devx-webhook listening');
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    ...(tls.caPem ? { caPem: tls.caPem } : {}),
    close: async () => {
      await app.close();
      await cluster?.stop();
    },
  };
}
