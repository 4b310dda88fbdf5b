// devx-webhook's HTTPS server swapping certificates without a restart (setSecureContext), in-process with an objects
// file (no cluster): certificate files replaced the way the kubelet replaces a Secret volume (a `..data` symlink
// renamed over the old one). Self-managed rotation in real time is in test/e2e/tls-rotation.test.ts.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { FilePairTls, loadFilePair } from '../../src/tls/file-pair.ts';
import { generateCA, issueCertificate, type KeyPairPem } from '../../src/tls/pki.ts';
import { objectsServer, probe } from '../support/tls-probe.ts';
import { pollCondition } from '../../src/wait.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-tls-server-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const start = objectsServer(dir);

describe('the HTTPS server swaps certificates without a restart', () => {
  test('files: a kubelet-style symlink swap is served at once; a mismatched pair is refused and the old one kept', async () => {
    const now = new Date(Date.now() - 60_000);
    const ca = generateCA({ commonName: 'files-ca', notBefore: now, validityMs: 3_600_000 });
    const leaf = (cn: string): KeyPairPem => issueCertificate(ca, { commonName: cn, ipAddresses: ['127.0.0.1'], usage: 'server', notBefore: now, validityMs: 3_600_000 });
    const volume = path.join(dir, 'volume');
    fs.mkdirSync(volume);
    let generation = 0;
    // What the kubelet's atomic writer does: a new timestamped directory, then `..data` renamed over the old link.
    const publish = (pair: { certPem: string; keyPem: string }): void => {
      const data = `..${++generation}`;
      fs.mkdirSync(path.join(volume, data));
      fs.writeFileSync(path.join(volume, data, 'tls.crt'), pair.certPem);
      fs.writeFileSync(path.join(volume, data, 'tls.key'), pair.keyPem);
      fs.writeFileSync(path.join(volume, data, 'ca.crt'), ca.certPem);
      fs.symlinkSync(data, path.join(volume, '..data_tmp'));
      fs.renameSync(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
    };
    publish(leaf('first'));
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) fs.symlinkSync(path.join('..data', f), path.join(volume, f));

    const server = await start({ tlsCertFile: path.join(volume, 'tls.crt'), tlsKeyFile: path.join(volume, 'tls.key'), tlsCaFile: path.join(volume, 'ca.crt') });
    try {
      const subject = async (): Promise<string> => new X509Certificate(server.tls.current().certPem).subject;
      assert.equal(await subject(), 'CN=first');
      assert.equal(server.tls.caBundle(), ca.certPem);
      const served1 = await probe(server.port, ca.certPem);

      const second = leaf('second');
      publish(second);
      let served2 = served1;
      await pollCondition(
        async () => {
          served2 = await probe(server.port, ca.certPem);
          return served2.sha256 !== served1.sha256;
        },
        { timeoutMs: 5000, intervalMs: 50 },
      );
      assert.equal(served2.sha256, new X509Certificate(second.certPem).fingerprint256, 'the new certificate is served');

      // A pair that does not fit together (the key of another certificate) is refused; the server keeps serving.
      publish({ certPem: leaf('third').certPem, keyPem: second.keyPem });
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await probe(server.port, ca.certPem)).sha256, served2.sha256);
      assert.equal(await subject(), 'CN=second');
    } finally {
      await server.close();
    }
  });

  test('files: the poll catches a change no watch reported, and reload() says whether it swapped', async () => {
    const now = new Date(Date.now() - 60_000);
    const ca = generateCA({ commonName: 'poll-ca', notBefore: now, validityMs: 3_600_000 });
    const a = issueCertificate(ca, { commonName: 'a', ipAddresses: ['127.0.0.1'], notBefore: now, validityMs: 3_600_000 });
    const b = issueCertificate(ca, { commonName: 'b', ipAddresses: ['127.0.0.1'], notBefore: now, validityMs: 3_600_000 });
    const certFile = path.join(dir, 'poll.crt');
    const keyFile = path.join(dir, 'poll.key');
    fs.writeFileSync(certFile, a.certPem);
    fs.writeFileSync(keyFile, a.keyPem);
    const first = await loadFilePair({ certFile, keyFile });
    assert.ok(first.ok, first.ok ? '' : first.error.message);
    const logs: string[] = [];
    const log = (_o: object, msg?: string): void => void logs.push(msg ?? '');
    const tls = new FilePairTls({ certFile, keyFile, pollIntervalMs: 100, watch: false, logger: { debug: log, info: log, warn: log, error: log } }, first.value);
    const swapped: string[] = [];
    tls.onChange((p) => swapped.push(new X509Certificate(p.certPem).subject));
    assert.equal(await tls.reload(), false, 'unchanged files: nothing to do');
    fs.writeFileSync(keyFile, b.keyPem); // half an update: the key of b with the certificate of a
    assert.equal(await tls.reload(), false);
    assert.equal(await tls.reload(), false);
    assert.equal(logs.filter((m) => m === 'new certificate files rejected; keeping the current pair').length, 1, 'logged once, not at every poll');
    fs.writeFileSync(certFile, b.certPem);
    // Without a watch only the poll can see the completed update.
    tls.start();
    try {
      await pollCondition(() => swapped.length > 0, { timeoutMs: 3000, intervalMs: 50 });
    } finally {
      tls.stop();
    }
    assert.deepEqual(swapped, ['CN=b']);
    assert.equal(new X509Certificate(tls.current().certPem).subject, 'CN=b');
    assert.equal(tls.reloads, 1);
  });

  test('files with a publisher (devx registers itself): a new CA file reaches the caBundle before its certificate is served', async () => {
    const now = new Date(Date.now() - 60_000);
    const ca1 = generateCA({ commonName: 'ca-one', notBefore: now, validityMs: 3_600_000 });
    const ca2 = generateCA({ commonName: 'ca-two', notBefore: now, validityMs: 3_600_000 });
    const leaf = (ca: KeyPairPem): KeyPairPem => issueCertificate(ca, { commonName: 'x', ipAddresses: ['127.0.0.1'], notBefore: now, validityMs: 3_600_000 });
    const files = { certFile: path.join(dir, 'pub.crt'), keyFile: path.join(dir, 'pub.key'), caFile: path.join(dir, 'pub-ca.crt') };
    const write = (ca: KeyPairPem): void => {
      const l = leaf(ca);
      fs.writeFileSync(files.certFile, l.certPem);
      fs.writeFileSync(files.keyFile, l.keyPem);
      fs.writeFileSync(files.caFile, ca.certPem);
    };
    write(ca1);
    const events: string[] = [];
    let bundle = ca1.certPem;
    const publisher = {
      publish: async (desired: (current: string) => string): Promise<string> => {
        bundle = desired(bundle);
        events.push(`published ${bundle.match(/BEGIN CERTIFICATE/g)?.length ?? 0} CAs`);
        return bundle;
      },
    };
    const first = await loadFilePair(files);
    assert.ok(first.ok, first.ok ? '' : first.error.message);
    const silent = (): void => undefined;
    const tls = new FilePairTls({ ...files, publisher, watch: false, logger: { debug: silent, info: silent, warn: silent, error: silent } }, first.value);
    tls.onChange((p) => events.push(`swapped to ${new X509Certificate(p.certPem).issuer}`));
    write(ca1);
    assert.equal(await tls.reload(), true);
    assert.deepEqual(events, ['swapped to CN=ca-one'], 'same CA file: nothing to publish');
    write(ca2);
    assert.equal(await tls.reload(), true);
    assert.deepEqual(events, ['swapped to CN=ca-one', 'published 2 CAs', 'swapped to CN=ca-two'], 'old and new CA trusted first, then served');
    assert.equal(tls.caBundle(), ca2.certPem);
  });
});
