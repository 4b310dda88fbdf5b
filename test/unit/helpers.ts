// Shared by the HTTP-level unit tests: the fastify app with a silent logger and no port.
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { AdmissionContext } from '../../src/core/context.ts';
import { buildApp, type AppDeps } from '../../src/webhook/app.ts';
import { createMetrics } from '../../src/webhook/metrics.ts';

export function testApp(context: () => AdmissionContext, extra: Partial<AppDeps> = {}): FastifyInstance {
  return buildApp({ logger: pino({ level: 'silent' }), metrics: createMetrics({ defaultMetrics: false }), context, ready: () => true, ...extra });
}
