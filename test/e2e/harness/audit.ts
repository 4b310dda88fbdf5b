// The API server's audit log, for the tests that check what devx's ServiceAccount did: a policy that records every
// request of one user at Metadata level (verb, object, answer) and nothing else.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface AuditEvent {
  verb: string;
  requestReceivedTimestamp: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number; message?: string };
  annotations?: Record<string, string>;
}

export interface AuditLog {
  /** kube-apiserver flags that turn the log on. */
  flags: string[];
  /** Every event recorded so far, for the user. */
  events(): AuditEvent[];
  remove(): void;
}

export function auditLogOf(username: string): AuditLog {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-audit-'));
  const log = path.join(dir, 'audit.log');
  const policy = path.join(dir, 'policy.yaml');
  fs.writeFileSync(policy, ['apiVersion: audit.k8s.io/v1', 'kind: Policy', 'omitStages: [RequestReceived]', 'rules:', '  - level: Metadata', `    users: ["${username}"]`, '  - level: None', ''].join('\n'));
  return {
    flags: [`--audit-policy-file=${policy}`, `--audit-log-path=${log}`],
    events: () =>
      (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as AuditEvent)
        .filter((e) => e.user.username === username),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
