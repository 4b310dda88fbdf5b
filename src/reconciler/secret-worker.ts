// Runs in a worker thread: builds sync Secret data (two RSA key pairs, tens to hundreds of milliseconds of CPU) off
// the main thread, where admission reviews must keep being answered within milliseconds.
import { parentPort } from 'node:worker_threads';
import { buildSyncSecretData, type BuildSyncSecretOptions } from '../sync/secret.ts';

interface Request {
  id: number;
  opts: Omit<BuildSyncSecretOptions, 'now'> & { now: string };
}

parentPort?.on('message', (req: Request) => {
  try {
    const data = buildSyncSecretData({ ...req.opts, now: new Date(req.opts.now) });
    parentPort?.postMessage({ id: req.id, data });
  } catch (err) {
    parentPort?.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) });
  }
});
