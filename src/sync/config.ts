// What the two syncthing processes of a dev session are told: config.xml for the sidecar (in the pod) and for the
// agent (on the developer's machine), and the agent's .stignore. Pure: every input is an argument.
//
// The contract (DESIGN §5): each config trusts exactly the two devices; global and local discovery, relays, NAT
// traversal, usage and crash reporting and auto-upgrade are off; the one folder (id `devx`) is watched with a 1 s
// delay; the GUI/REST API listens on loopback only and needs the API key. Both ends' sync listeners are on loopback
// too (DESIGN §10): the sidecar's on 127.0.0.1:22000, which only `pods/portforward` reaches (the container runtime
// dials localhost inside the pod's network namespace), never another pod through the pod IP; the agent's on a free
// loopback port it never needs. The agent dials the sidecar at an explicit address (the local end of a port-forward); the
// sidecar never dials out, it only accepts the agent.
//
// Config `version` 36 is what syncthing 1.19 writes; 1.20+ migrate it on load (1.27 writes 37; the 36→37 step only
// renames a folder option devx does not set). A config newer than the binary is refused without
// --allow-newer-config, so the oldest supported syncthing (1.19, Debian's) decides the version.
import { FOLDER_ID, GUI_PORT, SIDECAR_WORKDIR, SYNC_PORT } from './constants.ts';
import { isCanonicalDeviceId } from './device-id.ts';
import { renderXml, textElement, type XmlElement } from './xml.ts';

/** Config schema version written; see the file comment. */
export const SYNCTHING_CONFIG_VERSION = 36;

/** Full rescans back up the file watcher (inotify can overflow or be unavailable); 5 min is cheap for source trees. */
export const RESCAN_INTERVAL_S = 300;

/** How often a disconnected end retries; short because the agent's port-forward comes and goes with the pod. */
export const RECONNECT_INTERVAL_S = 5;

/** Device names shown in syncthing's GUI and logs. */
export const SIDECAR_DEVICE_NAME = 'devx-sidecar';
export const AGENT_DEVICE_NAME = 'devx-agent';

/** `two-way`: both ends send and receive. `push`: the local end only sends; changes made in the pod stay there. */
export type SyncMode = 'two-way' | 'push';

interface SessionConfigOptions {
  /** Device ID of the sidecar's certificate (canonical form, as deviceIdFromCertPem returns it). */
  sidecarDeviceId: string;
  /** Device ID of the agent's certificate (canonical form). */
  agentDeviceId: string;
  /** API key of this end's GUI/REST API (`X-API-Key` header). */
  apiKey: string;
  /** Folder label shown in syncthing's GUI, e.g. `bookinfo/deployment/reviews`. */
  folderLabel: string;
}

export interface SidecarConfigOptions extends SessionConfigOptions {
  /** Synced directory; default SIDECAR_WORKDIR. Only tests point it elsewhere. */
  folderPath?: string;
  /**
   * Sync listen address, loopback only; default `tcp://127.0.0.1:22000`. Not the pod IP: any pod of the cluster could
   * reach that; a port-forward reaches the pod's loopback.
   */
  listenAddress?: string;
  /** GUI/REST address, loopback only; default `127.0.0.1:8384`. */
  guiAddress?: string;
}

export interface AgentConfigOptions extends SessionConfigOptions {
  /** The local directory to sync. */
  folderPath: string;
  /** Where the sidecar is reached: the local end of the port-forward, e.g. `tcp://127.0.0.1:41234`. */
  sidecarAddress: string;
  /** GUI/REST address, loopback only; pick a free port (8384 is usually the user's own syncthing). */
  guiAddress: string;
  mode: SyncMode;
  /**
   * Sync listen address, loopback only; default `tcp://127.0.0.1:0` (any free port): the agent only dials out, and a
   * fixed port would clash with the user's own syncthing on 22000.
   */
  listenAddress?: string;
}

interface EndConfig extends SessionConfigOptions {
  self: 'sidecar' | 'agent';
  folderPath: string;
  folderType: 'sendreceive' | 'sendonly';
  listenAddress: string;
  guiAddress: string;
  /** The address this end dials the other at; `dynamic` = never dials (discovery is off). */
  peerAddress: string;
}

const LOOPBACK_GUI = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):\d{1,5}$/;
/** A sync listener on a loopback address literal (no name to resolve, no wildcard). */
const LOOPBACK_LISTEN = /^tcp[46]?:\/\/(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]):\d{1,5}$/;
const TCP_ADDRESS = /^tcp[46]?:\/\/[^\s/]+:\d{1,5}$/;

/** Each check: a problem description if `end` fails it. */
const INPUT_CHECKS: ReadonlyArray<(end: EndConfig) => string | undefined> = [
  (e) => (isCanonicalDeviceId(e.sidecarDeviceId) ? undefined : `sidecarDeviceId ${JSON.stringify(e.sidecarDeviceId)} is not a canonical device ID`),
  (e) => (isCanonicalDeviceId(e.agentDeviceId) ? undefined : `agentDeviceId ${JSON.stringify(e.agentDeviceId)} is not a canonical device ID`),
  (e) => (e.sidecarDeviceId === e.agentDeviceId ? 'sidecar and agent must have different identities' : undefined),
  (e) => (LOOPBACK_GUI.test(e.guiAddress) ? undefined : `guiAddress ${JSON.stringify(e.guiAddress)} must be a loopback host:port`),
  (e) => (LOOPBACK_LISTEN.test(e.listenAddress) ? undefined : `listenAddress ${JSON.stringify(e.listenAddress)} must be tcp://host:port on a loopback host`),
  (e) => (e.peerAddress === 'dynamic' || TCP_ADDRESS.test(e.peerAddress) ? undefined : `sidecarAddress ${JSON.stringify(e.peerAddress)} must be tcp://host:port`),
  (e) => (/^[A-Za-z0-9_-]{16,}$/.test(e.apiKey) ? undefined : 'apiKey must be at least 16 characters of [A-Za-z0-9_-]'),
  (e) => (e.folderPath === '' ? 'folderPath must not be empty' : undefined),
];

function checkInputs(end: EndConfig): void {
  const problems = INPUT_CHECKS.map((check) => check(end)).filter((p) => p !== undefined);
  // Rendering is fed by devx's own code, so a bad input is a bug: fail loudly rather than write a config that
  // syncthing would reject, or one that exposes the GUI or the sync port beyond loopback.
  if (problems.length > 0) throw new Error(`invalid syncthing config input: ${problems.join('; ')}`);
}

function folderElement(end: EndConfig): XmlElement {
  return {
    name: 'folder',
    attrs: {
      id: FOLDER_ID,
      label: end.folderLabel,
      path: end.folderPath,
      type: end.folderType,
      rescanIntervalS: RESCAN_INTERVAL_S,
      fsWatcherEnabled: true,
      fsWatcherDelayS: 1,
      ignorePerms: false,
      autoNormalize: true,
    },
    children: [
      textElement('filesystemType', 'basic'),
      { name: 'device', attrs: { id: end.sidecarDeviceId, introducedBy: '' } },
      { name: 'device', attrs: { id: end.agentDeviceId, introducedBy: '' } },
      textElement('minDiskFree', 1, { unit: '%' }),
    ],
  };
}

function deviceElement(opts: { id: string; name: string; address: string; isSelf: boolean }): XmlElement {
  return {
    name: 'device',
    // The peer gets compression "always": the port-forward through the API server is the bottleneck, and source
    // code compresses well. Introducer off: neither end may bring in a third device.
    attrs: { id: opts.id, name: opts.name, compression: opts.isSelf ? 'metadata' : 'always', introducer: false, skipIntroductionRemovals: false, introducedBy: '' },
    children: [textElement('address', opts.address), textElement('paused', false), textElement('autoAcceptFolders', false)],
  };
}

function optionsElement(end: EndConfig): XmlElement {
  return {
    name: 'options',
    children: [
      textElement('listenAddress', end.listenAddress),
      textElement('globalAnnounceEnabled', false),
      textElement('localAnnounceEnabled', false),
      textElement('relaysEnabled', false),
      textElement('natEnabled', false),
      textElement('announceLANAddresses', false),
      textElement('reconnectionIntervalS', RECONNECT_INTERVAL_S),
      textElement('startBrowser', false),
      textElement('urAccepted', -1),
      textElement('urSeen', 3),
      textElement('crashReportingEnabled', false),
      textElement('autoUpgradeIntervalH', 0),
    ],
  };
}

function renderEndConfig(end: EndConfig): string {
  checkInputs(end);
  const sidecarAddress = end.self === 'sidecar' ? 'dynamic' : end.peerAddress;
  const agentAddress = end.self === 'agent' ? 'dynamic' : end.peerAddress;
  return renderXml({
    name: 'configuration',
    attrs: { version: SYNCTHING_CONFIG_VERSION },
    children: [
      folderElement(end),
      deviceElement({ id: end.sidecarDeviceId, name: SIDECAR_DEVICE_NAME, address: sidecarAddress, isSelf: end.self === 'sidecar' }),
      deviceElement({ id: end.agentDeviceId, name: AGENT_DEVICE_NAME, address: agentAddress, isSelf: end.self === 'agent' }),
      {
        name: 'gui',
        attrs: { enabled: true, tls: false, debugging: false },
        children: [textElement('address', end.guiAddress), textElement('apikey', end.apiKey), textElement('theme', 'default')],
      },
      optionsElement(end),
    ],
  });
}

/**
 * config.xml of the sidecar (the `config.xml` key of the sync Secret). Its folder is always `sendreceive`: the
 * Secret is written once per workload, before anyone picks a mode; the agent's folder type decides push vs two-way.
 * Throws if an input is malformed (a bug in the caller).
 */
export function renderSidecarConfig(opts: SidecarConfigOptions): string {
  return renderEndConfig({
    ...opts,
    self: 'sidecar',
    folderPath: opts.folderPath ?? SIDECAR_WORKDIR,
    folderType: 'sendreceive',
    listenAddress: opts.listenAddress ?? `tcp://127.0.0.1:${SYNC_PORT}`,
    guiAddress: opts.guiAddress ?? `127.0.0.1:${GUI_PORT}`,
    // The sidecar never dials: the agent's address is unknown to it, and with discovery off "dynamic" finds nothing.
    peerAddress: 'dynamic',
  });
}

/** config.xml of the agent (the local end). Throws if an input is malformed (a bug in the caller). */
export function renderAgentConfig(opts: AgentConfigOptions): string {
  return renderEndConfig({
    sidecarDeviceId: opts.sidecarDeviceId,
    agentDeviceId: opts.agentDeviceId,
    apiKey: opts.apiKey,
    folderLabel: opts.folderLabel,
    self: 'agent',
    folderPath: opts.folderPath,
    folderType: opts.mode === 'push' ? 'sendonly' : 'sendreceive',
    listenAddress: opts.listenAddress ?? 'tcp://127.0.0.1:0',
    guiAddress: opts.guiAddress,
    peerAddress: opts.sidecarAddress,
  });
}

/**
 * Patterns every `.stignore` devx writes starts with. `.git`: a git directory is a database (index, locks, packs);
 * two working trees writing it through a file sync corrupt each other, and the container has no use for it. Listed
 * first so a user's `!.git` cannot re-include it (in .stignore the first matching line wins). Syncthing's own
 * `.stfolder`, `.stignore` and `.stversions` are always excluded by syncthing itself and need no line.
 */
export const BASELINE_IGNORES: readonly string[] = ['.git'];

/** First line of every `.stignore` renderIgnore writes: how the agent recognises a file of its own. */
export const IGNORE_HEADER = '// Generated by devx.';

/**
 * The `.stignore` for the agent's folder root: BASELINE_IGNORES, then `patterns` (syncthing's .stignore syntax), one
 * per line, blank lines dropped, duplicates removed, first occurrence kept. A pattern containing line breaks counts
 * as several lines. Ignored paths are neither sent nor received by that end, so the agent's file alone keeps them
 * out of the session in both directions; the sidecar gets no .stignore (it would land in the user's workdir).
 */
export function renderIgnore(patterns: readonly string[]): string {
  const lines = [...BASELINE_IGNORES, ...patterns.flatMap((p) => p.split(/\r?\n/))].filter((l) => l.trim() !== '');
  const unique = [...new Set(lines)];
  return [IGNORE_HEADER, ...unique, ''].join('\n');
}
