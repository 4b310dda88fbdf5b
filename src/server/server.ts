// Wires devx-webhook together: TLS, the source of Namespaces and DevPolicies, the fastify app, webhook registration.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { Logger } from 'pino';
import type { Route } from '../core/admit.ts';
import { LABEL_POLICY, isDevEnabled } from '../core/names.ts';
import type { ClusterView } from '../core/context.ts';
import type { RecordSigner } from '../core/records.ts';
import { hmacSigner, randomRecordKey } from '../tls/record-signer.ts';
import { staticView } from '../core/static-view.ts';
import type { LoadedKubeConfig } from '../k8s/kubeconfig.ts';
import type { ServerConfig } from '../schemas/server-config.ts';
import { parseYamlDocuments } from '../schemas/yaml-documents.ts';
import { servingCertificateNames } from '../tls/bootstrap.ts';
import { startServingTls } from '../tls/provider.ts';
import type { ServingTls } from '../tls/serving.ts';
import { VERSION } from '../version.ts';
import { pollCondition } from '../wait.ts';
import { buildApp } from '../webhook/app.ts';
import { createMetrics } from '../webhook/metrics.ts';
import { LISTEN_BACKLOG } from '../webhook/overload.ts';
import { startProbeServer, type ProbeServer } from '../webhook/probes.ts';
import type { ClusterConnection } from './cluster.ts';

export interface RunningServer {
  port: number;
  /** With --probe-port: the port of the probes' own plain-HTTP server. */
  probePort: number | undefined;
  url: string;
  /** The CA bundle clients trusted at startup, when devx made its CA itself (see tls.caBundle() for now). */
  caPem?: string;
  /** The serving certificate's provider: current pair, current CA bundle. */
  tls: ServingTls;
  close(): Promise<void>;
}

function loadObjects(path: string): unknown[] {
  return parseYamlDocuments(readFileSync(path, 'utf8'), `--objects ${path}`);
}

/** The host of --register-url, which the serving certificate must name too. */
function registerHostNames(registerUrl: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  if (!registerUrl) return { dnsNames: [], ipAddresses: [] };
  const host = new URL(registerUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) ? { dnsNames: [], ipAddresses: [host] } : { dnsNames: [host], ipAddresses: [] };
}

/** The API server connection, one for self-managed TLS and the informers; none with --objects. */
async function clusterKubeConfig(config: ServerConfig): Promise<LoadedKubeConfig | undefined> {
  // The cluster code is loaded only with a cluster; with --objects devx never talks to an API server.
  return config.objects ? undefined : (await import('./cluster.ts')).loadClusterKubeConfig(config);
}

/** Certificate files, or self-managed TLS with its CA in a Secret (cluster) or in memory (--objects). */
async function servingTls(config: ServerConfig, logger: Logger, kube: LoadedKubeConfig | undefined): Promise<ServingTls> {
  const names = servingCertificateNames({ serviceName: config.serviceName, namespace: config.namespace, ...registerHostNames(config.registerUrl) });
  return startServingTls({
    settings: {
      certFile: config.tlsCertFile,
      keyFile: config.tlsKeyFile,
      caFile: config.tlsCaFile,
      names,
      servingValidityMs: config.certValidity,
      caValidityMs: config.caValidity,
    },
    logger: logger.child({ component: 'tls' }),
    cluster: kube ? (await import('./cluster-tls.ts')).clusterTls(config, kube.kubeConfig) : undefined,
  });
}

type PrefetchBody = { request?: { operation?: unknown; namespace?: unknown; object?: { metadata?: { labels?: unknown; ownerReferences?: unknown } } } };

/**
 * The namespace of a review worth fetching owners for. The body is untrusted until the core has read it: only a
 * labelled pod with owners, created in a namespace opted in — where the pod route uses the result — so a review sent
 * straight to devx cannot make it read anywhere else.
 */
function prefetchNamespace(cluster: ClusterConnection, route: Route, body: unknown): string | undefined {
  const req = (body as PrefetchBody | undefined)?.request ?? {};
  if (route !== 'pods' || req.operation !== 'CREATE' || !labelledWithOwners(req.object?.metadata)) return undefined;
  const namespace = String(req.namespace ?? '');
  return cluster.view.namespaceLabels(namespace)?.[LABEL_POLICY] === undefined ? undefined : namespace;
}

function labelledWithOwners(meta: { labels?: unknown; ownerReferences?: unknown } | undefined): boolean {
  return Array.isArray(meta?.ownerReferences) && isDevEnabled(meta?.labels as Record<string, string> | undefined);
}

/** A pod CREATE with owners: the owner chain is fetched first where the informers do not hold it yet. */
function ownerPrefetch(cluster: ClusterConnection): (route: Route, body: unknown) => Promise<void> | undefined {
  return (route, body) => {
    const namespace = prefetchNamespace(cluster, route, body);
    return namespace === undefined ? undefined : cluster.prefetchOwners((body as PrefetchBody).request?.object, namespace);
  };
}

/** New TLS handshakes get the new pair; open connections keep theirs. Same TLS floor as buildApp's. */
function swapOnChange(tls: ServingTls, server: TlsServer): void {
  tls.onChange((pair) => server.setSecureContext({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' }));
}

/** What reviews read: the cluster, or a file of objects (with a record key for this process alone). */
interface AdmissionSource {
  view: ClusterView;
  ready: () => boolean;
  signer: RecordSigner;
  self?: string | undefined;
  prepare?: (route: Route, body: unknown) => Promise<void> | undefined;
}

function admissionSource(config: ServerConfig, cluster: ClusterConnection | undefined): AdmissionSource {
  if (cluster) return { view: cluster.view, ready: () => cluster.ready(), signer: cluster.signer, self: cluster.self, prepare: ownerPrefetch(cluster) };
  return { view: staticView(loadObjects(config.objects ?? '')), ready: () => true, signer: hmacSigner(randomRecordKey()) };
}

/** With --probe-port, the probes' own server (src/webhook/probes.ts). */
function probeServer(config: ServerConfig, ready: () => boolean, logger: Logger): Promise<ProbeServer | undefined> {
  if (config.probePort === undefined) return Promise.resolve(undefined);
  return startProbeServer({ host: config.host, port: config.probePort, ready, logger });
}

/** Registers devx's webhook configurations at `url`, once the view is complete: an early review would see no namespaces and deny wrongly. */
async function registerWhenSynced(cluster: ClusterConnection, config: ServerConfig, url: string, tls: ServingTls): Promise<void> {
  if (!(await pollCondition(() => cluster.ready(), { timeoutMs: 60_000, intervalMs: 50 }))) throw new Error('the informers did not sync within 60 s');
  await cluster.register({ url, caBundlePem: tls.caBundle(), excludedNamespaces: ['kube-system', config.namespace] });
}

export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const started = Date.now();
  const kube = await clusterKubeConfig(config);
  const tls = await servingTls(config, logger, kube);
  const cluster = kube ? await (await import('./cluster.ts')).connectCluster(config, kube, logger) : undefined;
  const { view, ready, signer, self, prepare } = admissionSource(config, cluster);
  const metrics = createMetrics();
  const app = buildApp({
    logger,
    metrics,
    https: { cert: tls.current().certPem, key: tls.current().keyPem },
    ready,
    context: () => ({ view, now: new Date(), version: VERSION, signer, self }),
    ...(prepare ? { prepare } : {}),
    overload: { maxConnections: config.maxConnections, maxInFlight: config.maxInFlight, maxQueueDelayMs: config.maxQueueDelay },
  });
  swapOnChange(tls, app.server as unknown as TlsServer);
  // A deep accept queue: a burst of connections waits there instead of having SYNs dropped and sent again a second or
  // three later. Under overload devx stops listening, which resets what is queued (src/webhook/accept-gate.ts).
  await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const probes = await probeServer(config, ready, logger);
  const probePort = probes?.port;
  if (cluster && config.registerUrl) await registerWhenSynced(cluster, config, config.registerUrl.replace(/:0$/, `:${port}`), tls);
  const source = config.objects ? 'objects-file' : 'cluster';
  logger.info({ port, probePort, host: config.host, startupMs: Date.now() - started, version: VERSION, source, tls: tls.mode, tlsSource: tls.source }, 'devx-webhook listening');
  return {
    port,
    probePort,
    url: `https://127.0.0.1:${port}`,
    ...(tls.mode === 'self-managed' ? { caPem: tls.caBundle() } : {}),
    tls,
    close: async () => {
      tls.stop();
      await app.close();
      await probes?.close();
      await cluster?.stop();
    },
  };
}
