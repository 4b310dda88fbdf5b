// The baseline of the benchmark: a bare fastify HTTPS route that reads the same body and answers a constant allow.
// Same TLS settings and body limit as devx-webhook, no devx code.
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [certFile, keyFile, port] = process.argv.slice(2);
const app = Fastify({ https: { cert: readFileSync(certFile as string), key: readFileSync(keyFile as string), minVersion: 'TLSv1.2' }, bodyLimit: 4 * 1024 * 1024, keepAliveTimeout: 95_000 });
app.post('/mutate/pods', async (req) => {
  const uid = (req.body as { request?: { uid?: string } }).request?.uid ?? '';
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } };
});
app.get('/readyz', async () => ({ status: 'ready' }));
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
