// The sync Secret `devx-sync-<kind>-<name>` (DESIGN §5): both syncthing identities of one workload, the sidecar's
// config.xml and its API key. Built by the reconciler, mounted read-only into the sidecar, read by the agent.
import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { err, ok, type Result } from '../core/result.ts';
import { formatIssue } from '../schemas/issues.ts';
import { renderSidecarConfig } from './config.ts';
import { deviceIdFromDer } from './device-id.ts';
import { generateSyncIdentity, type SyncIdentity } from './identity.ts';

/** The keys of the Secret's data, exactly these. */
export const SYNC_SECRET_KEYS = ['sidecar-cert.pem', 'sidecar-key.pem', 'agent-cert.pem', 'agent-key.pem', 'config.xml', 'api-key'] as const;
export type SyncSecretKey = (typeof SYNC_SECRET_KEYS)[number];

/** The Secret's data as plain strings (write it as `stringData`; base64-decode `data` before reading it back). */
export type SyncSecretData = Record<SyncSecretKey, string>;

export interface BuildSyncSecretOptions {
  /** Workload kind as in the API, e.g. `Deployment`. */
  workloadKind: string;
  workloadName: string;
  namespace: string;
  /** The clock, as an input (certificate validity). */
  now: Date;
  /** Folder label in syncthing's GUI; default `<namespace>/<kind lowercased>/<name>`. */
  folderLabel?: string;
}

/** 24 random bytes, base64url: 32 characters, safe in URLs, headers and XML. */
function newApiKey(): string {
  return randomBytes(24).toString('base64url');
}

/** Default folder label of a workload: `<namespace>/<kind lowercased>/<name>`. */
export function defaultFolderLabel(opts: { workloadKind: string; workloadName: string; namespace: string }): string {
  return `${opts.namespace}/${opts.workloadKind.toLowerCase()}/${opts.workloadName}`;
}

/** Fresh identities for both ends, a fresh API key and the sidecar's config.xml that ties them together. */
export function buildSyncSecretData(opts: BuildSyncSecretOptions): SyncSecretData {
  const sidecar = generateSyncIdentity({ now: opts.now });
  const agent = generateSyncIdentity({ now: opts.now });
  const apiKey = newApiKey();
  const configXml = renderSidecarConfig({
    sidecarDeviceId: sidecar.deviceId,
    agentDeviceId: agent.deviceId,
    apiKey,
    folderLabel: opts.folderLabel ?? defaultFolderLabel(opts),
  });
  return {
    'sidecar-cert.pem': sidecar.certPem,
    'sidecar-key.pem': sidecar.keyPem,
    'agent-cert.pem': agent.certPem,
    'agent-key.pem': agent.keyPem,
    'config.xml': configXml,
    'api-key': apiKey,
  };
}

export { syncSecretName } from '../core/secret-name.ts';

/** A sync Secret read back and checked: identities with device IDs recomputed from the certificates. */
export interface SyncSecret {
  sidecar: SyncIdentity;
  agent: SyncIdentity;
  /** The sidecar's config.xml, as stored. */
  configXml: string;
  /** API key of the sidecar's GUI/REST API. */
  apiKey: string;
}

const nonEmpty = z.string().min(1, 'is empty');
const secretDataSchema = z.object({
  'sidecar-cert.pem': nonEmpty,
  'sidecar-key.pem': nonEmpty,
  'agent-cert.pem': nonEmpty,
  'agent-key.pem': nonEmpty,
  'config.xml': nonEmpty,
  'api-key': z.string().regex(/^[A-Za-z0-9_-]{16,}$/, 'must be at least 16 characters of [A-Za-z0-9_-]'),
});

/** The identity in a cert/key pair, or why it is unusable. */
function identityOf(certPem: string, keyPem: string, end: string): Result<SyncIdentity> {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return err(`${end}-cert.pem is not a PEM certificate`);
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return err(`${end}-key.pem does not belong to ${end}-cert.pem`);
  } catch {
    return err(`${end}-key.pem is not a PEM private key`);
  }
  return ok({ certPem, keyPem, deviceId: deviceIdFromDer(cert.raw) });
}

function configProblem(secret: SyncSecret): string | undefined {
  if (secret.sidecar.deviceId === secret.agent.deviceId) return 'sidecar and agent share one certificate';
  for (const [end, id] of [['sidecar', secret.sidecar.deviceId], ['agent', secret.agent.deviceId]] as const) {
    // Once in the device list and once in the folder's share list.
    if (secret.configXml.split(`<device id="${id}"`).length - 1 < 2) return `config.xml does not trust the ${end} certificate (device ${id})`;
  }
  if (!secret.configXml.includes(`<apikey>${secret.apiKey}</apikey>`)) return 'config.xml does not carry the api-key';
  return undefined;
}

/**
 * Checks a sync Secret's data (plain strings, i.e. `data` already base64-decoded): all six keys present, each
 * certificate parses and matches its key, the two ends differ, and config.xml names both device IDs and the API key.
 * Other keys are ignored. Never throws.
 */
export function readSyncSecretData(data: unknown): Result<SyncSecret> {
  const parsed = secretDataSchema.safeParse(data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => formatIssue(i, '(data)'));
    return err(`sync Secret data invalid: ${issues.join('; ')}`);
  }
  const d = parsed.data;
  const sidecar = identityOf(d['sidecar-cert.pem'], d['sidecar-key.pem'], 'sidecar');
  if (!sidecar.ok) return sidecar;
  const agent = identityOf(d['agent-cert.pem'], d['agent-key.pem'], 'agent');
  if (!agent.ok) return agent;
  const secret: SyncSecret = { sidecar: sidecar.value, agent: agent.value, configXml: d['config.xml'], apiKey: d['api-key'] };
  const problem = configProblem(secret);
  return problem === undefined ? ok(secret) : err(problem);
}
