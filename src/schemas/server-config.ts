// devx-webhook's configuration, from flags (and environment for the container). Parsed once at startup.
import { z } from 'zod';

export const ServerConfigSchema = z
  .object({
    host: z.string().default('0.0.0.0'),
    port: z.coerce.number().int().min(0).max(65535).default(8443),
    tlsCertFile: z.string().optional(),
    tlsKeyFile: z.string().optional(),
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
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  })
  .refine((c) => Boolean(c.tlsCertFile) === Boolean(c.tlsKeyFile), {
    message: '--tls-cert-file and --tls-key-file go together',
    path: ['tlsCertFile'],
  })
  .refine((c) => !(c.objects && c.registerUrl), { message: '--register-url needs a cluster; it cannot be used with --objects', path: ['registerUrl'] });

export type ServerConfig = z.infer<typeof ServerConfigSchema>;
