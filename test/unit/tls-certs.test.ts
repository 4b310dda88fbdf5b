// `devx-webhook certs`: the four files, checked with node:crypto's X509Certificate (SANs, CA flag, chain, validity,
// key usage) and with a real TLS handshake; file modes; refusal to overwrite; usage errors; the real CLI entry point.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { makeCertificateFiles, parseCertsArgs, runCertsCommand } from '../../src/tls/certs-command.ts';

const REPO = path.resolve(import.meta.dirname, '../..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-certs-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const NOW = new Date('2030-06-01T12:00:00.000Z');
const DAY = 86_400_000;

function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) }, out, err };
}

const read = (dir: string, name: string): string => fs.readFileSync(path.join(dir, name), 'utf8');

describe('devx-webhook certs', () => {
  test('writes a CA and a serving certificate it signs, for the names asked, valid for --validity', async () => {
    const dir = path.join(tmp, 'named');
    const c = capture();
    const code = await runCertsCommand(['--out', dir, '--dns', 'devx.devx-system.svc', '--dns', 'localhost', '--ip', '127.0.0.1', '--ip', '::1', '--validity', '30d'], c.io, NOW);
    assert.equal(code, 0, c.err.join(''));
    assert.deepEqual(fs.readdirSync(dir).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);

    const ca = new X509Certificate(read(dir, 'ca.crt'));
    const tls = new X509Certificate(read(dir, 'tls.crt'));
    assert.equal(ca.ca, true, 'ca.crt is a CA');
    assert.equal(tls.ca, false, 'tls.crt is not');
    assert.ok(tls.checkIssued(ca) && tls.verify(ca.publicKey), 'tls.crt is signed by ca.crt');
    assert.ok(ca.verify(ca.publicKey), 'ca.crt is self-signed');
    assert.equal(tls.subjectAltName, 'DNS:devx.devx-system.svc, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(tls.subject, 'CN=devx.devx-system.svc');
    assert.deepEqual(tls.keyUsage, [SERVER_AUTH], 'server authentication only');
    assert.ok(ca.checkPrivateKey(createPrivateKey(read(dir, 'ca.key'))));
    assert.ok(tls.checkPrivateKey(createPrivateKey(read(dir, 'tls.key'))));
    // Valid from a minute before NOW (clock skew) until NOW + 30 days, for both.
    for (const cert of [ca, tls]) {
      assert.equal(cert.validFromDate.toISOString(), new Date(NOW.getTime() - 60_000).toISOString());
      assert.equal(cert.validToDate.toISOString(), new Date(NOW.getTime() + 30 * DAY).toISOString());
    }
    assert.equal(fs.statSync(path.join(dir, 'ca.key')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'tls.key')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(path.join(dir, 'tls.crt')).mode & 0o777, 0o644);
    assert.match(c.out.join(''), /--tls-cert-file .*tls\.crt --tls-key-file .*tls\.key --tls-ca-file .*ca\.crt/);
  });

  test('without --dns or --ip: localhost and 127.0.0.1, a year; a TLS client trusting ca.crt accepts tls.crt', async () => {
    const dir = path.join(tmp, 'defaults');
    const c = capture();
    assert.equal(await runCertsCommand(['--out', dir], c.io), 0);
    const tls = new X509Certificate(read(dir, 'tls.crt'));
    assert.equal(tls.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
    const days = (tls.validToDate.getTime() - Date.now()) / DAY;
    assert.ok(days > 364.9 && days <= 365, `${days} days`);

    const server = https.createServer({ cert: read(dir, 'tls.crt'), key: read(dir, 'tls.key') }, (_req, res) => res.end('ok'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      for (const host of ['127.0.0.1', 'localhost']) {
        const body = await new Promise<string>((resolve, reject) => {
          https
            .get({ host: '127.0.0.1', servername: host === 'localhost' ? 'localhost' : undefined, port, ca: read(dir, 'ca.crt'), agent: false, headers: { host } }, (res) => {
              let text = '';
              res.on('data', (d: Buffer) => (text += d.toString()));
              res.on('end', () => resolve(text));
            })
            .on('error', reject);
        });
        assert.equal(body, 'ok', `verified as ${host}`);
      }
      // And a client that trusts some other CA does not.
      const other = await makeCertificateFiles({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityMs: DAY, now: new Date() });
      await assert.rejects(
        new Promise((resolve, reject) => https.get({ host: '127.0.0.1', port, ca: other['ca.crt'], agent: false }, resolve).on('error', reject)),
        /self[- ]signed|unable to verify|certificate/i,
      );
    } finally {
      server.close();
    }
  });

  test('existing files are kept unless --force', async () => {
    const dir = path.join(tmp, 'force');
    assert.equal(await runCertsCommand(['--out', dir], capture().io), 0);
    const before = read(dir, 'ca.key');
    const c = capture();
    assert.equal(await runCertsCommand(['--out', dir], c.io), 1);
    assert.match(c.err.join(''), /already exist; pass --force to replace/);
    assert.equal(read(dir, 'ca.key'), before);
    fs.chmodSync(path.join(dir, 'tls.key'), 0o644);
    assert.equal(await runCertsCommand(['--out', dir, '--force'], capture().io), 0);
    assert.notEqual(read(dir, 'ca.key'), before);
    assert.equal(fs.statSync(path.join(dir, 'tls.key')).mode & 0o777, 0o600, 'a replaced key is private again');
  });

  test('usage errors exit 2 with a message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--out DIR is required/],
      [['--out', tmp, '--ip', '300.1.1.1'], /--ip 300\.1\.1\.1: not an IP address/],
      [['--out', tmp, '--dns', 'bad name'], /--dns bad name: not a DNS name/],
      [['--out', tmp, '--validity', 'forever'], /--validity forever: not a lifetime/],
      [['--out', tmp, '--validity', '0s'], /--validity 0s: not a lifetime/],
      [['--out', tmp, '--bogus'], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const c = capture();
      assert.equal(await runCertsCommand(args, c.io), 2, args.join(' '));
      assert.match(c.err.join(''), message);
    }
    assert.equal(parseCertsArgs(['--help']), 'help');
    assert.deepEqual(parseCertsArgs(['--out', 'x', '--dns', '*.example.com', '--validity', '1d12h']), {
      out: 'x',
      request: { dnsNames: ['*.example.com'], ipAddresses: [], validityMs: 1.5 * DAY },
      force: false,
    });
  });

  test('the real entry point: `devx-webhook certs` runs and `devx-webhook --help` mentions it', () => {
    const dir = path.join(tmp, 'cli');
    const run = spawnSync(process.execPath, [path.join(REPO, 'src/cli/devx-webhook.ts'), 'certs', '--out', dir, '--dns', 'devx.example'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(new X509Certificate(read(dir, 'tls.crt')).subjectAltName, 'DNS:devx.example');
    const help = spawnSync(process.execPath, [path.join(REPO, 'src/cli/devx-webhook.ts'), '--help'], { encoding: 'utf8' });
    assert.match(help.stdout, /devx-webhook certs --out DIR/);
    assert.match(help.stdout, /--cert-validity D/);
    assert.match(help.stdout, /--ca-validity D/);
    const bad = spawnSync(process.execPath, [path.join(REPO, 'src/cli/devx-webhook.ts'), 'certs'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
  });
});
