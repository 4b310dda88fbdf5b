// Sync Secret data made in a worker thread (secret-worker.ts), so key generation never blocks the event loop the
// webhook answers on. The worker starts on first use and ends after 15 quiet seconds (it holds node-forge in memory);
// if it cannot start, the data is made on the main thread instead: slower answers for a moment, never no Secret.
import { Worker } from 'node:worker_threads';
import { buildSyncSecretData, type BuildSyncSecretOptions, type SyncSecretData } from '../sync/secret.ts';

export type SecretDataGenerator = ((opts: BuildSyncSecretOptions) => Promise<SyncSecretData>) & { close(): Promise<void> };

const IDLE_MS = 15_000;
// Run from source (type stripping) the worker is the .ts file; built into dist/, the .js next to this one.
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './secret-worker.ts' : './secret-worker.js', import.meta.url);

type Pending = { resolve: (d: SyncSecretData) => void; reject: (e: Error) => void };

export function secretDataGenerator(opts: { onWorkerError?: (err: Error) => void } = {}): SecretDataGenerator {
  let worker: Worker | undefined;
  let nextId = 1;
  let idle: NodeJS.Timeout | undefined;
  const pending = new Map<number, Pending>();

  const failAll = (err: Error): void => {
    for (const p of pending.values()) p.reject(err);
    pending.clear();
    worker = undefined;
  };

  const spawn = (): Worker => {
    const w = new Worker(WORKER_URL);
    w.unref();
    w.on('message', (msg: { id: number; data?: SyncSecretData; error?: string }) => {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.data) p?.resolve(msg.data);
      else p?.reject(new Error(msg.error ?? 'secret worker failed'));
    });
    w.on('error', (err) => {
      opts.onWorkerError?.(err);
      failAll(err);
    });
    w.on('exit', () => {
      if (worker === w) failAll(new Error('secret worker exited'));
    });
    return w;
  };

  const armIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => {
      if (pending.size > 0 || !worker) return;
      const w = worker;
      worker = undefined;
      void w.terminate();
    }, IDLE_MS);
    idle.unref();
  };

  const inWorker = (o: BuildSyncSecretOptions): Promise<SyncSecretData> => {
    worker ??= spawn();
    const id = nextId++;
    const w = worker;
    return new Promise<SyncSecretData>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ id, opts: { ...o, now: o.now.toISOString() } });
    }).finally(armIdle);
  };

  const generate = async (o: BuildSyncSecretOptions): Promise<SyncSecretData> => {
    try {
      return await inWorker(o);
    } catch (err) {
      opts.onWorkerError?.(err as Error);
      return buildSyncSecretData(o);
    }
  };
  return Object.assign(generate, {
    close: async () => {
      clearTimeout(idle);
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  });
}
