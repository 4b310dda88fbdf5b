// The local syncthing home of one sync session (mode 0700): claimed with a pid file, cleared of a syncthing a crashed
// run left behind, its index dropped when it no longer describes the directory or the pod, and filled with the
// agent's identity and config. Also the `.stignore` in the synced directory.
import fs from 'node:fs';
import path from 'node:path';
import { renderAgentConfig, type AgentConfigOptions } from '../sync/config.ts';
import type { SyncSecret } from '../sync/secret.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { decideStignore, DEVXIGNORE, STIGNORE, stignoreFor } from './ignore.ts';
import { commandLine, isAlive, readPid, removeFile, stopStale, writePid } from './pidfile.ts';
import { AGENT_PID_FILE, indexResetReason, parseSessionRecord, SESSION_FILE, SYNCTHING_PID_FILE, type SessionRecord } from './session-record.ts';

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export interface Claim {
  /** A syncthing of an earlier, crashed run that was stopped. */
  stoppedStale: number | undefined;
  /** The previous run's record, if any. */
  previous: SessionRecord | undefined;
  release(): void;
}

/**
 * Creates the home (0700) and claims it for this process. Refuses (ALREADY_RUNNING) while another live agent holds
 * it; stops a syncthing whose agent is gone.
 */
export async function claimHome(home: string, describe: string): Promise<Claim> {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  fs.chmodSync(home, 0o700);
  const agentPidFile = path.join(home, AGENT_PID_FILE);
  const other = readPid(agentPidFile);
  if (other !== undefined && other !== process.pid && isAlive(other) && /devx|node/.test(commandLine(other) ?? '')) {
    throw new AgentError(EXIT.ALREADY_RUNNING, `kubectl devx sync of ${describe} already runs on this machine (pid ${other}); stop it first (Ctrl-C there, or kill ${other})`);
  }
  writePid(agentPidFile, process.pid);
  const stoppedStale = await stopStale(path.join(home, SYNCTHING_PID_FILE), `--home=${home}`);
  return {
    stoppedStale,
    previous: readSessionRecord(home),
    release: () => {
      if (readPid(agentPidFile) === process.pid) removeFile(agentPidFile);
    },
  };
}

/** Drops syncthing's index database (and only that) when `indexResetReason` says so; returns the reason. */
export function resetIndexIfNeeded(home: string, previous: SessionRecord | undefined, next: { folderPath: string; podUid: string }): string | undefined {
  const reason = indexResetReason(previous, next);
  if (reason === undefined) return undefined;
  for (const entry of fs.readdirSync(home)) {
    if (/^index-.*\.db$/.test(entry)) fs.rmSync(path.join(home, entry), { recursive: true, force: true });
  }
  return reason;
}

/** The record the last session in `home` left (undefined: none, or unreadable). */
export function readSessionRecord(home: string): SessionRecord | undefined {
  return parseSessionRecord(readText(path.join(home, SESSION_FILE)));
}

export function writeSessionRecord(home: string, record: SessionRecord): void {
  fs.writeFileSync(path.join(home, SESSION_FILE), `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
}

/** cert.pem, key.pem and config.xml of the agent's end, private to the user. */
export function writeIdentityAndConfig(home: string, secret: SyncSecret, config: AgentConfigOptions): void {
  const write = (name: string, content: string): void => {
    const file = path.join(home, name);
    fs.writeFileSync(file, content, { mode: 0o600 });
    fs.chmodSync(file, 0o600);
  };
  write('cert.pem', secret.agent.certPem);
  write('key.pem', secret.agent.keyPem);
  write('config.xml', renderAgentConfig(config));
}

/** The `.stignore` in `localDir` (undefined: none); refuses (USAGE) one that is the user's own. */
function ourStignore(localDir: string): string | undefined {
  const existing = readText(path.join(localDir, STIGNORE));
  const decision = decideStignore(existing, localDir);
  if (decision.action === 'refuse') throw new AgentError(EXIT.USAGE, decision.message);
  return existing;
}

/** Refuses (USAGE) a directory whose `.stignore` is the user's own: checked before anything starts. */
export function assertStignoreOurs(localDir: string): void {
  ourStignore(localDir);
}

/** Writes `.stignore` into the synced directory from `.devxignore` (refuses to overwrite a user's own). */
export function writeStignore(localDir: string): void {
  const existing = ourStignore(localDir);
  const content = stignoreFor(readText(path.join(localDir, DEVXIGNORE)));
  if (existing !== content) fs.writeFileSync(path.join(localDir, STIGNORE), content);
}
