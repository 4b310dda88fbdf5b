// Self-managed TLS (cert-manager's webhook is the model): a CA kept in a store shared by the replicas, a serving
// certificate in memory signed by it and renewed at two thirds of its life, and the caBundle of devx's webhook
// configurations kept up to date.
//
// A CA rotation never leaves the API server without trust:
//   1. the CA store says the CA must be replaced (caRequiresRegeneration) → one replica writes a new one; replicas
//      that lose the race read and use the winner's (create-if-absent, version-checked update);
//   2. the new CA is *added* to the caBundle; the old one stays until it expires (mergeCaBundle);
//   3. only once the bundle has held the new CA for `propagationDelayMs` (the API servers' informers have seen it)
//      are serving certificates signed by the new CA; until then renewals still come from the old one, whose
//      certificates are capped at its notAfter.
// Every decision is taken in tick(), from the state and the clock; timers only call tick().
import { caRequiresRegeneration, mergeCaBundle, servingRenewAt } from './decisions.ts';
import { certificateOf, summarize } from './inspect.ts';
import { issueCa, issueServing, type CertificateNames } from './issue.ts';
import type { KeyPairPem } from './pki.ts';
import { notifyAll, type BundlePublisher, type CaStore, type ServingTls, type StoredCa, type TlsLogger } from './serving.ts';

export interface SelfManagedOptions {
  store: CaStore;
  /** Absent: nobody to tell (no cluster); the CA bundle is still available from caBundle(). */
  publisher?: BundlePublisher | undefined;
  /**
   * `merge`: keep every still-valid CA already in the configurations (replicas share a CA store, and another one may
   * still serve a certificate from an older CA). `replace`: only this process's CAs (a CA in memory dies with its
   * process; a restarted one would otherwise pile up dead CAs).
   */
  bundlePolicy: 'merge' | 'replace';
  names: CertificateNames;
  servingValidityMs: number;
  caValidityMs: number;
  /** How long the bundle must have held a new CA before certificates signed by it are served (default derived). */
  propagationDelayMs?: number;
  /** How often the CA store is read again (default derived). */
  caCheckIntervalMs?: number;
  clock?: () => Date;
  logger: TlsLogger;
}

/** How often replicas read the CA store: a hundredth of the CA's life, between 1 s and 1 min. */
export function defaultCaCheckIntervalMs(caValidityMs: number): number {
  return Math.min(60_000, Math.max(1000, Math.floor(caValidityMs / 100)));
}

/** How long a new CA is only trusted before it is used: 10 s (API servers see a changed caBundle within ~1 s), less
 * for CA lifetimes under 100 s so that tests with tiny lifetimes still rotate. */
export function defaultPropagationDelayMs(caValidityMs: number): number {
  return Math.min(10_000, Math.floor(caValidityMs / 10));
}

interface KnownCa {
  pair: KeyPairPem;
  sha256: string;
  notAfter: number;
  /** Clock time at which a published bundle was first known to contain this CA. */
  trustedSince: number | undefined;
}

interface Serving {
  pair: KeyPairPem;
  renewAt: number;
  /** sha256 of the CA that signed it. */
  issuer: string;
}

/** Counters for logs and tests. */
export interface RotationStats {
  servingIssued: number;
  caChanges: number;
  signingSwitches: number;
}

function known(pair: KeyPairPem): KnownCa {
  const cert = certificateOf(pair.certPem);
  return { pair, sha256: cert.fingerprint256, notAfter: cert.validToDate.getTime(), trustedSince: undefined };
}

function pairOf(stored: StoredCa): KeyPairPem {
  return { certPem: stored.data['ca.crt'] ?? '', keyPem: stored.data['ca.key'] ?? '' };
}

export class SelfManagedTls implements ServingTls {
  readonly mode = 'self-managed' as const;
  readonly source: string;
  readonly stats: RotationStats = { servingIssued: 0, caChanges: 0, signingSwitches: 0 };
  readonly #opts: SelfManagedOptions;
  readonly #clock: () => Date;
  readonly #checkEveryMs: number;
  readonly #propagationMs: number;
  readonly #listeners: Array<(pair: KeyPairPem) => void> = [];
  #active: KnownCa | undefined;
  #signing: KnownCa | undefined;
  #serving: Serving | undefined;
  /** The CAs this process has used, still valid. */
  #ownBundle = '';
  /** What the configurations held after the last publish (undefined: none exist or never published). */
  #published: string | undefined;
  #nextCaCheck = 0;
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(opts: SelfManagedOptions) {
    this.#opts = opts;
    this.#clock = opts.clock ?? ((): Date => new Date());
    this.#checkEveryMs = opts.caCheckIntervalMs ?? defaultCaCheckIntervalMs(opts.caValidityMs);
    this.#propagationMs = opts.propagationDelayMs ?? defaultPropagationDelayMs(opts.caValidityMs);
    this.source = opts.store.where;
  }

  current(): KeyPairPem {
    if (!this.#serving) throw new Error('no serving certificate yet: tick() first');
    return this.#serving.pair;
  }

  caBundle(): string {
    const now = this.#clock();
    return this.#opts.bundlePolicy === 'merge' ? mergeCaBundle(this.#published ?? '', this.#ownBundle, now) : mergeCaBundle(this.#ownBundle, '', now);
  }

  /** The CA that signs the serving certificate now (PEM). */
  signingCa(): string | undefined {
    return this.#signing?.pair.certPem;
  }

  onChange(listener: (pair: KeyPairPem) => void): void {
    this.#listeners.push(listener);
  }

  /** Does whatever is due at the clock's now: read (or replace) the CA, publish the bundle, switch CA, renew. */
  tick(): Promise<void> {
    const run = this.#queue.then(() => this.#tick());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Ticks again whenever something is due, until stop(). Call after a first successful tick(). */
  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  async #tick(): Promise<void> {
    const now = this.#clock();
    if (!this.#active || now.getTime() >= this.#nextCaCheck) await this.#checkCa(now);
    this.#maybeSwitchSigning(this.#clock().getTime());
    await this.#maybeRenewServing(this.#clock());
  }

  async #checkCa(now: Date): Promise<void> {
    try {
      this.#adopt(await this.#obtainCa(now), now);
      await this.#publish(now);
      this.#nextCaCheck = now.getTime() + this.#checkEveryMs;
    } catch (err) {
      // Without any CA there is nothing to serve: that is the caller's (startup's) problem. With one, keep serving
      // and try again soon; renewals from the current CA need no network.
      if (!this.#active) throw err;
      this.#nextCaCheck = now.getTime() + Math.min(this.#checkEveryMs, 5000);
      this.#opts.logger.warn({ where: this.source, err: (err as Error).message }, 'could not check the CA; keeping the current one, retrying');
    }
  }

  async #obtainCa(now: Date): Promise<KeyPairPem> {
    const { store, logger } = this.#opts;
    const stored = await store.read();
    const decision = caRequiresRegeneration(stored?.data, now);
    if (!decision.regenerate && stored) return pairOf(stored);
    const ca = await issueCa(now, this.#opts.caValidityMs);
    if (await store.write(ca, stored?.version)) {
      logger.info({ where: store.where, reason: decision.reason, ca: summarize(certificateOf(ca.certPem)) }, 'CA generated');
      return ca;
    }
    const theirs = await store.read();
    const again = caRequiresRegeneration(theirs?.data, now);
    if (again.regenerate || !theirs) throw new Error(`${store.where} changed under us and is still unusable (${again.reason})`);
    logger.info({ where: store.where, reason: decision.reason }, 'another replica stored a new CA first; using it');
    return pairOf(theirs);
  }

  #adopt(pair: KeyPairPem, now: Date): void {
    if (this.#active?.pair.certPem === pair.certPem) return;
    const next = known(pair);
    if (this.#active?.sha256 === next.sha256) return;
    const previous = this.#active;
    this.#active = next;
    this.#ownBundle = mergeCaBundle(this.#ownBundle, pair.certPem, now);
    if (!previous) return;
    this.stats.caChanges += 1;
    this.#opts.logger.info(
      { where: this.source, ca: summarize(certificateOf(pair.certPem)), previous: previous.sha256 },
      'CA changed: trusting old and new; serving certificates switch once the webhook configurations carry the new one',
    );
  }

  async #publish(now: Date): Promise<void> {
    const { publisher, bundlePolicy } = this.#opts;
    const own = mergeCaBundle(this.#ownBundle, '', now);
    this.#ownBundle = own;
    if (publisher) {
      const before = this.#published;
      this.#published = await publisher.publish((current) => (bundlePolicy === 'merge' ? mergeCaBundle(current, own, now) : own));
      if (this.#published !== before) this.#opts.logger.info({ cas: countCerts(this.#published ?? '') }, 'caBundle of the webhook configurations updated');
    }
    if (this.#active && this.#active.trustedSince === undefined) this.#active.trustedSince = this.#clock().getTime();
  }

  #maybeSwitchSigning(now: number): void {
    const active = this.#active;
    if (!active || this.#signing?.sha256 === active.sha256) return;
    const previous = this.#signing;
    // At startup nothing is served yet: use the CA at once.
    if (previous) {
      const trusted = active.trustedSince !== undefined && now - active.trustedSince >= this.#propagationMs;
      if (!trusted && now < previous.notAfter) return;
      if (!trusted) this.#opts.logger.error({ where: this.source }, 'the signing CA expired before the new one was confirmed in the caBundle; switching anyway');
      this.stats.signingSwitches += 1;
    }
    this.#signing = active;
  }

  async #maybeRenewServing(now: Date): Promise<void> {
    const signing = this.#signing;
    if (!signing) return;
    const serving = this.#serving;
    if (serving && now.getTime() < serving.renewAt && serving.issuer === signing.sha256) return;
    const pair = await issueServing({ ca: signing.pair, names: this.#opts.names, now, validityMs: this.#opts.servingValidityMs });
    const cert = certificateOf(pair.certPem);
    this.#serving = { pair, renewAt: servingRenewAt(cert).getTime(), issuer: signing.sha256 };
    this.stats.servingIssued += 1;
    const why = !serving ? 'first' : serving.issuer !== signing.sha256 ? 'new CA' : 'renewal time';
    this.#opts.logger.info({ why, certificate: summarize(cert), renewAt: new Date(this.#serving.renewAt).toISOString() }, 'serving certificate issued');
    if (serving) notifyAll(this.#listeners, pair, this.#opts.logger);
  }

  /** When tick() has something to do next. */
  #nextDue(): number {
    const due = [this.#nextCaCheck, this.#serving?.renewAt ?? 0];
    const pending = this.#active && this.#signing?.sha256 !== this.#active.sha256 ? this.#active.trustedSince : undefined;
    if (pending !== undefined) due.push(pending + this.#propagationMs);
    return Math.min(...due);
  }

  #schedule(minWaitMs = 50): void {
    if (this.#stopped) return;
    const waitMs = Math.max(minWaitMs, Math.min(this.#nextDue() - this.#clock().getTime(), 2 ** 31 - 1));
    this.#timer = setTimeout(() => {
      this.tick().then(
        () => this.#schedule(),
        (err: unknown) => {
          this.#opts.logger.error({ err: (err as Error).message }, 'TLS rotation step failed; retrying in a second');
          this.#schedule(1000);
        },
      );
    }, waitMs);
    // The HTTPS server keeps the process alive, not this timer.
    this.#timer.unref();
  }
}

function countCerts(pem: string): number {
  return (pem.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
}

/** Makes the first CA and serving certificate, then keeps them current. */
export async function startSelfManaged(opts: SelfManagedOptions): Promise<SelfManagedTls> {
  const tls = new SelfManagedTls(opts);
  await tls.tick();
  tls.start();
  return tls;
}
