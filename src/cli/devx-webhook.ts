#!/usr/bin/env node
// devx-webhook: the admission webhook server (DESIGN §7). Flags are documented in `--help`.
import { getSourceMapsSupport, setSourceMapsSupport } from 'node:module';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ServerConfigSchema } from '../schemas/server-config.ts';
import { runCertsCommand } from '../tls/certs-command.ts';
import { VERSION } from '../version.ts';
import { startServer } from '../server/server.ts';

const HELP = `devx-webhook ${VERSION}: dev mode for Kubernetes workloads by label (mutating admission webhook)

Usage: devx-webhook [flags]
       devx-webhook certs --out DIR [--dns NAME]... [--ip IP]... [--validity D]   (see devx-webhook certs --help)

  --host HOST            address to listen on (default 0.0.0.0; the host of a loopback --register-url)
  --port PORT            HTTPS port (default 8443; 0 picks a free one)
  --probe-port PORT      also serve /healthz and /readyz alone over plain HTTP on PORT, for the kubelet: they are
                         answered there while the webhook port refuses a flood (below); the chart sets 8081

TLS from files (cert-manager, a Secret of your own, devx-webhook certs): reloaded when the files change, no restart
  --tls-cert-file FILE   serving certificate (PEM); with --tls-key-file
  --tls-key-file FILE    serving key (PEM)
  --tls-ca-file FILE     CA bundle (PEM) to register with --register-url (default: the certificate itself)

Self-managed TLS (without --tls-cert-file): a CA in the Secret --ca-secret-name in --namespace, shared by all
replicas (in memory with --objects or when the namespace does not exist), and a serving certificate it signs,
renewed at 2/3 of its life without a restart. The caBundle of the webhook configurations named devx is kept up
to date, old and new CA overlapping while the CA is replaced (at 2/3 of its life, or when the Secret is deleted or
invalid). Lifetimes: 90d, 2160h, 30s, ...
  --cert-validity D      serving certificate lifetime (default 90d)
  --ca-validity D        CA lifetime (default 365d); the Secret is read again every ca-validity/100 (1s to 60s)
  --ca-secret-name NAME  the CA Secret (default devx-webhook-ca)

Cluster
  --kubeconfig FILE      cluster to watch (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --context NAME         kubeconfig context
  --objects FILE         DevPolicy and Namespace objects from a YAML file: no cluster needed
  --register-url URL     register devx's webhook configurations with this https://HOST:PORT URL and devx's CA
                         (for running outside a cluster; :0 means the port devx listens on)
  --namespace NS         devx's own namespace, never sent to devx (default devx-system)
  --service-name NAME    devx's Service name, for the certificate's DNS names (default devx)
  --no-leader-election   run the reconciler without taking the Lease (a single replica)
  --lease-name NAME      the Lease in --namespace that elects the reconciler (default devx-reconciler)
  --identity NAME        this replica's holder identity in the Lease (default POD_NAME, else hostname-pid)
  --no-reconcile         admission only: no reconciler in this process

Overload: devx refuses what it cannot answer in time at once, never queueing it until the API server's timeout.
At --max-connections, or while a flood keeps new connections waiting over 1 s to be accepted, devx stops listening and
new connections are refused (devx_listener_paused_total); on open ones a review is answered 429 (Retry-After: 1,
a message) past the bounds below, counted in /metrics as devx_admission_rejected_total
  --max-connections N    open connections (default 512); at the cap new ones are refused until below 9/10 of it
  --max-in-flight N      reviews handled at once (default 64)
  --max-queue-delay MS   how long reviews may wait before devx reads them, as the event loop's delay (default 1000;
                         0 turns it off)

  --log-level LEVEL      trace|debug|info|warn|error (default info)
  --version, --help
`;

function parseConfig(argv: string[]): ReturnType<typeof ServerConfigSchema.parse> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'probe-port': { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-key-file': { type: 'string' },
      'tls-ca-file': { type: 'string' },
      'cert-validity': { type: 'string' },
      'ca-validity': { type: 'string' },
      'ca-secret-name': { type: 'string' },
      kubeconfig: { type: 'string' },
      context: { type: 'string' },
      objects: { type: 'string' },
      'register-url': { type: 'string' },
      namespace: { type: 'string' },
      'service-name': { type: 'string' },
      'log-level': { type: 'string' },
      'leader-election': { type: 'boolean' },
      'no-leader-election': { type: 'boolean' },
      'lease-name': { type: 'string' },
      identity: { type: 'string' },
      'no-reconcile': { type: 'boolean' },
      'max-connections': { type: 'string' },
      'max-in-flight': { type: 'string' },
      'max-queue-delay': { type: 'string' },
      version: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    process.exit(0);
  }
  const { 'no-leader-election': noLeader, 'no-reconcile': noReconcile, ...rest } = values;
  const camel: Record<string, unknown> = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k.replace(/-(\w)/g, (_m, c: string) => c.toUpperCase()), v]));
  if (noLeader) camel.leaderElection = false;
  if (noReconcile) camel.reconcile = false;
  const parsed = ServerConfigSchema.safeParse(camel);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('\n');
    throw new Error(`${msg}\n(see devx-webhook --help)`);
  }
  return parsed.data;
}

/**
 * The image runs Node with --enable-source-maps, for stack traces that point into devx's own sources. The Kubernetes
 * client, loaded later and only in cluster mode, is 1,100 generated modules whose maps would each be read and kept
 * as well (7 MiB of heap, a quarter of a second at startup, more work for every garbage collection) for stack frames
 * devx never shows: keep maps for devx's code only.
 */
function sourceMapsForDevxOnly(): void {
  if (getSourceMapsSupport().enabled) setSourceMapsSupport(true, { nodeModules: false, generatedCode: false });
}

async function main(): Promise<void> {
  sourceMapsForDevxOnly();
  if (process.argv[2] === 'certs') {
    const io = { stdout: (t: string) => process.stdout.write(t), stderr: (t: string) => process.stderr.write(t) };
    process.exitCode = await runCertsCommand(process.argv.slice(3), io);
    return;
  }
  let config;
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`devx-webhook: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const logger = pino({ level: config.logLevel, base: { app: 'devx-webhook' } });
  const server = await startServer(config, logger).catch((err: unknown) => {
    logger.fatal({ err: (err as Error).message }, 'devx-webhook could not start');
    process.exit(1);
  });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, 'shutting down: finishing in-flight reviews');
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'unclean shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

await main();
