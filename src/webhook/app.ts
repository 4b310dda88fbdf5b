// The fastify adapter: routes, body handling, logs and metrics around answerReview. `buildApp` returns the app;
// only the CLI's main listens, so tests use app.inject() with no port.
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Logger } from 'pino';
import type { Route } from '../core/admit.ts';
import type { AdmissionContext } from '../core/context.ts';
import type { AdmissionMetrics } from './metrics.ts';
import { shedOverload, type OverloadLimits } from './overload.ts';
import { probeRoutes } from './probes.ts';
import { answerReview } from './review.ts';

/** The API server sends at most 3 MiB; a little more leaves room for the envelope. */
export const BODY_LIMIT = 4 * 1024 * 1024;

export interface AppDeps {
  logger: Logger;
  metrics: AdmissionMetrics;
  /** A fresh context per review (the clock and the cluster view as of now). */
  context: () => AdmissionContext;
  /** Ready when the cluster view is synced (or loaded from a file). */
  ready: () => boolean;
  /**
   * Before a review is decided: fetch what the cluster view lacks for it (a new pod's owners); must not throw.
   * Returns undefined when there is nothing to fetch, so such a review is decided without waiting a turn.
   */
  prepare?: (route: Route, body: unknown) => Promise<void> | undefined;
  https?: { cert: string; key: string } | undefined;
  bodyLimit?: number;
  /** When to answer reviews 429 instead of queueing them; devx-webhook always sets it, tests of decisions need not. */
  overload?: OverloadLimits;
}

const ROUTES: Record<string, Route> = { '/mutate/pods': 'pods', '/mutate/workloads': 'workloads', '/validate': 'validate' };

function reviewHandler(deps: AppDeps, route: Route) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const started = process.hrtime.bigint();
    const fetching = deps.prepare?.(route, request.body);
    if (fetching) await fetching;
    const outcome = answerReview(route, request.body, deps.context());
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    deps.metrics.observe(route, outcome.log.result, ms / 1000);
    deps.logger.info({ route, ...outcome.log, ms: Math.round(ms * 1000) / 1000 }, 'admission decision');
    return reply.code(outcome.statusCode).send(outcome.body);
  };
}

function serverOptions(deps: AppDeps): FastifyServerOptions & { https?: unknown } {
  const opts: FastifyServerOptions & { https?: unknown } = {
    loggerInstance: deps.logger,
    // One log line per decision is written by the route itself; fastify's two lines per request would double it.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit ?? BODY_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    // The API server keeps connections open; keep ours open a little longer than its idle timeout (90 s).
    keepAliveTimeout: 95_000,
    // A review not fully received in 30 s (the longest webhook timeout there is) has no one waiting for its answer;
    // without this, slow senders could hold every connection devx accepts (see overload.ts).
    requestTimeout: 30_000,
    // Each Service connection sticks to one replica; closing it after 1,000 reviews lets the API server's new
    // connections spread over replicas again (a restarted replica gets its share) at one TLS handshake per 1,000.
    maxRequestsPerSocket: 1000,
  };
  if (deps.https) opts.https = { ...deps.https, minVersion: 'TLSv1.2' };
  return opts;
}

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify(serverOptions(deps)) as unknown as FastifyInstance;
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    // Body errors (not JSON, too large, wrong content type) are the client's: answer 4xx with a message, never 5xx.
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
    const message =
      status === 415 ? `content-type ${String(req.headers['content-type'])} is not supported; send an AdmissionReview as application/json` : err.message;
    deps.logger.warn({ code: err.code, status, err: message }, 'rejected request');
    return reply.code(status).send({ message: `devx: ${message}`, code: err.code });
  });
  if (deps.overload) {
    shedOverload(app, {
      limits: deps.overload,
      reviewUrls: new Set(Object.keys(ROUTES)),
      onShed: (url, reason) => deps.metrics.shed(ROUTES[url] ?? url, reason),
      listener: { paused: (reason) => deps.metrics.listenerPaused(reason), resumed: (s) => deps.metrics.listenerResumed(s) },
    });
  }
  for (const [url, route] of Object.entries(ROUTES)) app.post(url, reviewHandler(deps, route));
  probeRoutes(app, deps.ready);
  app.get('/metrics', async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
  return app;
}
