// devx-webhook's configuration, from flags (and environment for the container). Parsed once at startup.
import { z } from 'zod';
import { DAY_MS, parseLifetime } from './duration.ts';

/**
 * When devx answers reviews 429 instead of queueing them, or closes new connections (src/webhook/overload.ts).
 * From bench/overload.ts (the README's "Under overload"): at three times devx's peak, a review's wait is mostly
 * in connection setup (one connection per concurrent call, each a TLS handshake), so the connection cap is what bounds
 * it: 1,024 let answers take 4-5 s and RSS reach 350 MB, 512 kept them at 3 s and 227 MB, 256 at 1.7 s and 167 MB
 * but closed half the connections. The API server's own concurrency (600 requests by default, of every kind) rarely
 * opens more than 512 calls to one replica. A 1 s queue-delay bound is the lowest that never shed a review of the
 * 1,000 reviews/s soak on the busy two-core VM; 64 reviews in flight is far more than reviews waiting on the API
 * server for a pod's owners ever need at once.
 */
export const DEFAULT_OVERLOAD = { maxConnections: 512, maxInFlight: 64, maxQueueDelayMs: 1000 } as const;

/** A certificate lifetime flag (`90d`, `2160h`, `30s`) as milliseconds. */
const lifetime = z.string().transform((text, ctx) => {
  const ms = parseLifetime(text);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not a lifetime such as 90d, 2160h or 30s` });
    return z.NEVER;
  }
  return ms;
});

/**
 * Where to listen when --host is not given: on every interface (in a cluster, the Service reaches the pod IP), except
 * when --register-url names a loopback address: then the API server is on this machine, and only that address is
 * needed — nothing else on the network should reach devx.
 */
export function defaultHost(registerUrl: string | undefined): string {
  if (!registerUrl) return '0.0.0.0';
  const host = new URL(registerUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return loopback ? (host === 'localhost' ? '127.0.0.1' : host) : '0.0.0.0';
}

export const ServerConfigSchema = z
  .object({
    host: z.string().optional().describe('address to listen on (default 0.0.0.0, or the loopback host of --register-url)'),
    port: z.coerce.number().int().min(0).max(65535).default(8443),
    probePort: z.coerce
      .number()
      .int()
      .min(0)
      .max(65535)
      .optional()
      .describe('plain-HTTP port of /healthz and /readyz alone, answered while the webhook port is refusing a flood'),
    tlsCertFile: z.string().optional(),
    tlsKeyFile: z.string().optional(),
    tlsCaFile: z.string().optional().describe('CA bundle (PEM) to register with --register-url when serving from files'),
    certValidity: lifetime.default(90 * DAY_MS).describe('self-managed TLS: lifetime of the serving certificate, renewed at 2/3 of it'),
    caValidity: lifetime.default(365 * DAY_MS).describe('self-managed TLS: lifetime of the CA, replaced at 2/3 of it'),
    caSecretName: z.string().default('devx-webhook-ca').describe('self-managed TLS: the Secret in --namespace that holds the CA'),
    kubeconfig: z.string().optional(),
    context: z.string().optional(),
    objects: z.string().optional().describe('DevPolicy and Namespace objects from a YAML file instead of a cluster'),
    registerUrl: z
      .string()
      .regex(/^https:\/\/[^/]+$/, 'must be https://HOST:PORT with no path')
      .optional()
      .describe('register devx’s webhook configurations with this URL and its own CA (outside a cluster)'),
    namespace: z.string().default('devx-system'),
    serviceName: z.string().default('devx'),
    leaderElection: z.boolean().default(true).describe('run the reconciler only on the replica holding the Lease'),
    leaseName: z.string().default('devx-reconciler'),
    identity: z.string().optional().describe('this replica’s name in the Lease (default: POD_NAME or hostname-pid)'),
    reconcile: z.boolean().default(true).describe('run the reconciler (Secrets, copies, expiry, repair) in this process'),
    maxConnections: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_OVERLOAD.maxConnections)
      .describe('open connections; at the cap devx stops listening (new ones are refused) until below 9/10 of it'),
    maxInFlight: z.coerce
      .number()
      .int()
      .min(1)
      .default(DEFAULT_OVERLOAD.maxInFlight)
      .describe('reviews handled at once; one more is answered 429 (overloaded) at once'),
    maxQueueDelay: z.coerce
      .number()
      .int()
      .min(0)
      .default(DEFAULT_OVERLOAD.maxQueueDelayMs)
      .describe('ms reviews may wait before devx reads them (event loop delay); beyond it new reviews get 429; 0: off'),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .refine((c) => Boolean(c.tlsCertFile) === Boolean(c.tlsKeyFile), {
    message: '--tls-cert-file and --tls-key-file go together',
    path: ['tlsCertFile'],
  })
  .refine((c) => !c.tlsCaFile || Boolean(c.tlsCertFile), { message: '--tls-ca-file goes with --tls-cert-file and --tls-key-file', path: ['tlsCaFile'] })
  .refine((c) => c.certValidity >= 2000, { message: 'must be at least 2s', path: ['certValidity'] })
  .refine((c) => c.caValidity > c.certValidity, { message: 'must be longer than --cert-validity', path: ['caValidity'] })
  .refine((c) => c.probePort === undefined || c.probePort === 0 || c.probePort !== c.port, { message: 'must not be --port', path: ['probePort'] })
  .refine((c) => !(c.objects && c.registerUrl), { message: '--register-url needs a cluster; it cannot be used with --objects', path: ['registerUrl'] })
  .transform((c) => ({ ...c, host: c.host ?? defaultHost(c.registerUrl) }));

export type ServerConfig = z.infer<typeof ServerConfigSchema>;
