// `devx-webhook certs`: a CA and a serving certificate it signs, written as files, for running devx outside a
// cluster with --tls-cert-file/--tls-key-file (and the CA for a caBundle or --tls-ca-file). The same code that makes
// self-managed TLS's certificates makes these, so what works in one mode works in the other.
import fs from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { certificateOf } from './inspect.ts';
import { issueCa, issueServing } from './issue.ts';
import { DAY_MS, parseLifetime } from '../schemas/duration.ts';

export const CERTS_HELP = `Usage: devx-webhook certs --out DIR [--dns NAME]... [--ip IP]... [--validity D] [--force]

Writes a new CA and a serving certificate it signs, for running devx-webhook with certificate files:

  DIR/ca.crt    the CA certificate: what clients trust (the webhook configurations' caBundle, --tls-ca-file)
  DIR/ca.key    the CA's private key (mode 0600): devx never needs it; keep it to sign more, or delete it
  DIR/tls.crt   the serving certificate, for --tls-cert-file
  DIR/tls.key   its private key (mode 0600), for --tls-key-file

  --out DIR       where to write (created if missing)
  --dns NAME      a DNS name the certificate is valid for; repeat for more (e.g. devx.devx-system.svc)
  --ip IP         an IP address the certificate is valid for; repeat for more
                  (with neither --dns nor --ip: localhost and 127.0.0.1)
  --validity D    lifetime of both certificates, e.g. 365d, 2160h, 30s (default 365d)
  --force         replace files that already exist
`;

export interface CertsRequest {
  dnsNames: string[];
  ipAddresses: string[];
  validityMs: number;
  now: Date;
}

export interface CertificateFiles {
  'ca.crt': string;
  'ca.key': string;
  'tls.crt': string;
  'tls.key': string;
}

const FILE_MODES: Record<keyof CertificateFiles, number> = { 'ca.crt': 0o644, 'ca.key': 0o600, 'tls.crt': 0o644, 'tls.key': 0o600 };
const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/i;

/** The four files' contents: a CA and a serving certificate (server auth) for the names, both valid for `validityMs`. */
export async function makeCertificateFiles(req: CertsRequest): Promise<CertificateFiles> {
  const ca = await issueCa(req.now, req.validityMs);
  const commonName = req.dnsNames[0] ?? req.ipAddresses[0] ?? 'localhost';
  const serving = await issueServing({ ca, names: { commonName, dnsNames: req.dnsNames, ipAddresses: req.ipAddresses }, now: req.now, validityMs: req.validityMs });
  return { 'ca.crt': ca.certPem, 'ca.key': ca.keyPem, 'tls.crt': serving.certPem, 'tls.key': serving.keyPem };
}

/** Writes the files (keys readable by their owner only); refuses to replace existing ones unless `force`. */
export function writeCertificateFiles(dir: string, files: CertificateFiles, force: boolean): string[] {
  const names = Object.keys(files) as Array<keyof CertificateFiles>;
  const existing = names.map((n) => path.join(dir, n)).filter((p) => fs.existsSync(p));
  if (existing.length > 0 && !force) throw new Error(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to replace`);
  fs.mkdirSync(dir, { recursive: true });
  return names.map((name) => {
    const file = path.join(dir, name);
    fs.rmSync(file, { force: true }); // a fresh file gets the mode below even if an old one was world-readable
    fs.writeFileSync(file, files[name], { mode: FILE_MODES[name] });
    return file;
  });
}

interface ParsedArgs {
  out: string;
  request: Omit<CertsRequest, 'now'>;
  force: boolean;
}

function checkNames(dns: string[], ips: string[]): void {
  const badDns = dns.find((d) => !DNS_NAME.test(d));
  if (badDns !== undefined) throw new Error(`--dns ${badDns}: not a DNS name`);
  const badIp = ips.find((ip) => isIP(ip) === 0);
  if (badIp !== undefined) throw new Error(`--ip ${badIp}: not an IP address`);
}

function validityOf(text: string | undefined): number {
  if (text === undefined) return 365 * DAY_MS;
  const ms = parseLifetime(text);
  if (ms === undefined || ms < 1000) throw new Error(`--validity ${text}: not a lifetime of at least 1s such as 365d, 2160h or 30s`);
  return ms;
}

/** The command's flags, checked; throws a usage error with a message. */
export function parseCertsArgs(argv: string[]): ParsedArgs | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      dns: { type: 'string', multiple: true, default: [] },
      ip: { type: 'string', multiple: true, default: [] },
      validity: { type: 'string' },
      force: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  if (!values.out) throw new Error('--out DIR is required');
  checkNames(values.dns, values.ip);
  const validityMs = validityOf(values.validity);
  const none = values.dns.length === 0 && values.ip.length === 0;
  const request = { dnsNames: none ? ['localhost'] : values.dns, ipAddresses: none ? ['127.0.0.1'] : values.ip, validityMs };
  return { out: values.out, request, force: values.force };
}

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

function usageFailure(io: CommandIo, err: unknown): number {
  io.stderr(`devx-webhook certs: ${(err as Error).message}\n(see devx-webhook certs --help)\n`);
  return 2;
}

/** Runs `devx-webhook certs ARGS`; the exit code (0 written, 1 could not write, 2 usage). */
export async function runCertsCommand(argv: string[], io: CommandIo, now = new Date()): Promise<number> {
  let parsed: ReturnType<typeof parseCertsArgs>;
  try {
    parsed = parseCertsArgs(argv);
  } catch (err) {
    return usageFailure(io, err);
  }
  if (parsed === 'help') {
    io.stdout(CERTS_HELP);
    return 0;
  }
  const files = await makeCertificateFiles({ ...parsed.request, now });
  let written: string[];
  try {
    written = writeCertificateFiles(parsed.out, files, parsed.force);
  } catch (err) {
    io.stderr(`devx-webhook certs: ${(err as Error).message}\n`);
    return 1;
  }
  const tls = certificateOf(files['tls.crt']);
  io.stdout(`${written.map((f) => `wrote ${f}`).join('\n')}\n`);
  io.stdout(`serving certificate for ${tls.subjectAltName ?? ''}, valid until ${tls.validToDate.toISOString()}\n`);
  const at = (name: string): string => path.join(parsed.out, name);
  io.stdout(`\nrun: devx-webhook --tls-cert-file ${at('tls.crt')} --tls-key-file ${at('tls.key')} --tls-ca-file ${at('ca.crt')} ...\n`);
  return 0;
}
