// The health probes: /healthz (the process serves) and /readyz (the cluster view is complete, so a review is answered
// from it). They are routes of the webhook's HTTPS server and, with --probe-port, of a plain-HTTP server of their own.
//
// Why a port of their own: under a flood devx stops listening on the webhook port, and at --max-connections it takes
// no new connection there (src/webhook/accept-gate.ts). The kubelet's probes on that port would be refused with the
// flood, and doing what it should would get a replica taken out of the Service after ten seconds (readiness) and
// restarted after thirty (liveness). On their own port they are answered through any flood. controller-runtime's
// managers (health probes on :8081) and cert-manager's webhook (--healthz-port) keep them apart for the same reason.
// Readiness says nothing of load: a replica that is only busy stays in the Service, since taking every busy replica
// out would leave the API server with no endpoint at all.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';

/** Probes are the kubelet's, one connection each; more than this at once is not the kubelet. */
const PROBE_MAX_CONNECTIONS = 64;

export function probeRoutes(app: FastifyInstance, ready: () => boolean): void {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => (ready() ? { status: 'ready' } : reply.code(503).send({ status: 'not ready' })));
}

export interface ProbeServer {
  port: number;
  close: () => Promise<void>;
}

/** The probes alone, over plain HTTP on `host`:`port` (they carry nothing secret: "ok", "ready" or "not ready"). */
export async function startProbeServer(o: { host: string; port: number; ready: () => boolean; logger: Logger }): Promise<ProbeServer> {
  const app = Fastify({
    loggerInstance: o.logger.child({ server: 'probes' }),
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: true,
  }) as unknown as FastifyInstance;
  probeRoutes(app, o.ready);
  app.server.maxConnections = PROBE_MAX_CONNECTIONS;
  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : o.port, close: () => app.close() };
}
