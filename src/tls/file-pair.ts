// Serving certificate from files (cert-manager, a Helm-provided Secret, `devx-webhook certs`): loaded at startup,
// loaded again whenever they change, swapped in without a restart.
//
// The kubelet updates a Secret volume by writing a new timestamped directory and renaming the `..data` symlink
// over the old one; the file names are symlinks through `..data`. Watching the file itself would follow an inode
// that is then gone, so the *directories* are watched, and a poll catches whatever a watch misses (network file
// systems, editors that replace directories, an inotify limit). A pair that does not fit together — a half-written
// update, a key of another certificate — is logged once and the current pair is kept.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { err, ok, type Result } from '../core/result.ts';
import { mergeCaBundle } from './decisions.ts';
import { certificateOf, firstCertificate, keyMatchesCertificate, summarize } from './inspect.ts';
import type { KeyPairPem } from './pki.ts';
import { notifyAll, type BundlePublisher, type ServingTls, type TlsLogger } from './serving.ts';

export interface FilePairOptions {
  certFile: string;
  keyFile: string;
  /** CA bundle clients should trust (for registration with --register-url); default: the certificate file itself. */
  caFile?: string | undefined;
  /** Set when devx registers its own webhook configurations: a changed CA file is added to their caBundle. */
  publisher?: BundlePublisher | undefined;
  /** Poll as a fallback for missed watch events (default 10 s). */
  pollIntervalMs?: number;
  /** Watch the directories (default true; false leaves the poll alone, e.g. to test it). */
  watch?: boolean;
  logger: TlsLogger;
}

interface Loaded {
  pair: KeyPairPem;
  bundle: string;
  /** The raw contents, to tell a change from a touch. */
  fingerprint: string;
}

/** Reads the files and checks that they fit together; the reason when they do not (with the fingerprint, so a
 * rejected set is reported once). */
export async function loadFilePair(opts: Pick<FilePairOptions, 'certFile' | 'keyFile' | 'caFile'>): Promise<Result<Loaded, { message: string; fingerprint: string }>> {
  const [certPem, keyPem, caPem] = await Promise.all([
    readFile(opts.certFile, 'utf8'),
    readFile(opts.keyFile, 'utf8'),
    opts.caFile ? readFile(opts.caFile, 'utf8') : Promise.resolve(undefined),
  ]);
  const fingerprint = `${certPem}\0${keyPem}\0${caPem ?? ''}`;
  const cert = firstCertificate(certPem);
  if (!cert) return err({ message: `${opts.certFile} holds no PEM certificate`, fingerprint });
  if (!keyMatchesCertificate(cert, keyPem)) return err({ message: `${opts.keyFile} is not the private key of ${opts.certFile}`, fingerprint });
  if (caPem !== undefined && !firstCertificate(caPem)) return err({ message: `${opts.caFile} holds no PEM certificate`, fingerprint });
  return ok({ pair: { certPem, keyPem }, bundle: caPem ?? certPem, fingerprint });
}

export class FilePairTls implements ServingTls {
  readonly mode = 'files' as const;
  readonly source: string;
  /** How many times a new pair was swapped in. */
  reloads = 0;
  readonly #opts: FilePairOptions;
  readonly #listeners: Array<(pair: KeyPairPem) => void> = [];
  #loaded: Loaded;
  #rejected: string | undefined;
  #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: FilePairOptions, first: Loaded) {
    this.#opts = opts;
    this.#loaded = first;
    this.source = `files ${opts.certFile}, ${opts.keyFile}`;
  }

  current(): KeyPairPem {
    return this.#loaded.pair;
  }

  caBundle(): string {
    return this.#loaded.bundle;
  }

  onChange(listener: (pair: KeyPairPem) => void): void {
    this.#listeners.push(listener);
  }

  /** Reads the files again; true when a new pair was swapped in. Serialised. */
  reload(): Promise<boolean> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  start(): void {
    const dirs = new Set([this.#opts.certFile, this.#opts.keyFile, this.#opts.caFile].filter((f): f is string => Boolean(f)).map((f) => path.dirname(f)));
    for (const dir of this.#opts.watch === false ? [] : dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#soon());
        watcher.on('error', (err) => this.#opts.logger.warn({ dir, err: err.message }, 'watching the certificate directory failed; polling only'));
        this.#watchers.push(watcher);
      } catch (err) {
        this.#opts.logger.warn({ dir, err: (err as Error).message }, 'cannot watch the certificate directory; polling only');
      }
    }
    this.#poll = setInterval(() => this.#soon(), this.#opts.pollIntervalMs ?? 10_000);
    this.#poll.unref();
  }

  stop(): void {
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
  }

  /** A burst of events (the kubelet's rename, an editor's several writes) becomes one reload. */
  #soon(): void {
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.reload().catch((err: unknown) => this.#opts.logger.warn({ err: (err as Error).message }, 'reading the certificate files failed; keeping the current pair'));
    }, 100);
    this.#debounce.unref();
  }

  async #reload(): Promise<boolean> {
    const loaded = await loadFilePair(this.#opts);
    const fingerprint = loaded.ok ? loaded.value.fingerprint : loaded.error.fingerprint;
    if (fingerprint === this.#loaded.fingerprint) return false;
    if (!loaded.ok) {
      if (this.#rejected !== fingerprint) this.#opts.logger.warn({ reason: loaded.error.message }, 'new certificate files rejected; keeping the current pair');
      this.#rejected = fingerprint;
      return false;
    }
    const next = loaded.value;
    // A new CA is added to the caBundle before a certificate it signed is served.
    if (next.bundle !== this.#loaded.bundle) await this.#publish(next.bundle);
    this.#loaded = next;
    this.#rejected = undefined;
    this.reloads += 1;
    this.#opts.logger.info({ certificate: summarize(certificateOf(next.pair.certPem)) }, 'serving certificate reloaded from files');
    notifyAll(this.#listeners, next.pair, this.#opts.logger);
    return true;
  }

  async #publish(bundle: string): Promise<void> {
    const { publisher, logger } = this.#opts;
    if (!publisher) return;
    const now = new Date();
    try {
      await publisher.publish((current) => mergeCaBundle(current, bundle, now));
      logger.info({}, 'caBundle of the webhook configurations updated from the CA file');
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not add the new CA file to the caBundle; serving the new certificate anyway');
    }
  }
}

/** Loads the pair (throwing when it is unusable: startup) and watches the files from then on. */
export async function startFilePair(opts: FilePairOptions): Promise<FilePairTls> {
  const first = await loadFilePair(opts);
  if (!first.ok) throw new Error(first.error.message);
  const tls = new FilePairTls(opts, first.value);
  opts.logger.info({ certificate: summarize(certificateOf(first.value.pair.certPem)) }, 'serving certificate loaded from files');
  tls.start();
  return tls;
}
