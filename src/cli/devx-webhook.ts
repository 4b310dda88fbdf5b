#!/usr/bin/env node
// devx-webhook: the admission webhook server (DESIGN §7). Flags are documented in `--help`.
import { parseArgs } from 'node:util';
import pino from 'pino';
import { ServerConfigSchema } from '../schemas/server-config.ts';
import { VERSION } from '../version.ts';
import { startServer } from '../webhook/server.ts';

const HELP = `devx-webhook ${VERSION}: dev mode for Kubernetes workloads by label (mutating admission webhook)

Usage: devx-webhook [flags]

  --host HOST            address to listen on (default 0.0.0.0)
  --port PORT            HTTPS port (default 8443; 0 picks a free one)
  --tls-cert-file FILE   serving certificate (PEM); with --tls-key-file. Without them devx makes its own CA
  --tls-key-file FILE    serving key (PEM)
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
  --log-level LEVEL      trace|debug|info|warn|error (default info)
  --version, --help
`;

function parseConfig(argv: string[]): ReturnType<typeof ServerConfigSchema.parse> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-key-file': { type: 'string' },
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

async function main(): Promise<void> {
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
