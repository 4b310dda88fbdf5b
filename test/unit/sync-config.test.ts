import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASELINE_IGNORES,
  SYNCTHING_CONFIG_VERSION,
  renderAgentConfig,
  renderIgnore,
  renderSidecarConfig,
  type AgentConfigOptions,
  type SidecarConfigOptions,
} from '../../src/sync/config.ts';
import { FOLDER_ID, SIDECAR_WORKDIR } from '../../src/sync/constants.ts';
import { childrenNamed, onlyChild, parseXml, type XmlNode } from '../support/mini-xml.ts';

// Device IDs are only checked for form here; the real-syncthing test uses real certificates.
const SIDECAR_ID = 'P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2';
const AGENT_ID = 'BLIHA67-NFNJVQ2-BY6YLKJ-QNGBOAA-LTV7SKM-QGOJ6NS-HD46F2P-45HLYQB';
const API_KEY = 'k3y-0123456789_abcdefABCDEF';

const sidecarOpts: SidecarConfigOptions = { sidecarDeviceId: SIDECAR_ID, agentDeviceId: AGENT_ID, apiKey: API_KEY, folderLabel: 'bookinfo/deployment/reviews' };
const agentOpts: AgentConfigOptions = {
  ...sidecarOpts,
  folderPath: '/home/dev/src',
  sidecarAddress: 'tcp://127.0.0.1:41234',
  guiAddress: '127.0.0.1:41235',
  mode: 'two-way',
};

function option(root: XmlNode, name: string): string[] {
  return childrenNamed(onlyChild(root, 'options'), name).map((n) => n.text);
}

function deviceAddresses(root: XmlNode): Record<string, string[]> {
  return Object.fromEntries(childrenNamed(root, 'device').map((d) => [d.attrs.id, childrenNamed(d, 'address').map((a) => a.text)]));
}

/** What both ends must say, whichever end it is (DESIGN §5). */
function assertSessionContract(root: XmlNode): void {
  assert.equal(root.name, 'configuration');
  assert.equal(root.attrs.version, String(SYNCTHING_CONFIG_VERSION));
  // Exactly the two devices, each once, and the one folder shared with exactly both.
  assert.deepEqual(childrenNamed(root, 'device').map((d) => d.attrs.id).sort(), [AGENT_ID, SIDECAR_ID].sort());
  for (const d of childrenNamed(root, 'device')) assert.equal(d.attrs.introducer, 'false');
  const folder = onlyChild(root, 'folder');
  assert.equal(folder.attrs.id, FOLDER_ID);
  assert.deepEqual(childrenNamed(folder, 'device').map((d) => d.attrs.id).sort(), [AGENT_ID, SIDECAR_ID].sort());
  assert.equal(folder.attrs.fsWatcherEnabled, 'true');
  assert.equal(folder.attrs.fsWatcherDelayS, '1');
  assert.ok(Number(folder.attrs.rescanIntervalS) >= 60 && Number(folder.attrs.rescanIntervalS) <= 3600);
  assert.equal(folder.attrs.label, 'bookinfo/deployment/reviews');
  // Nothing leaves the session: no discovery, relays, NAT traversal, reporting or upgrades.
  assert.deepEqual(option(root, 'globalAnnounceEnabled'), ['false']);
  assert.deepEqual(option(root, 'localAnnounceEnabled'), ['false']);
  assert.deepEqual(option(root, 'relaysEnabled'), ['false']);
  assert.deepEqual(option(root, 'natEnabled'), ['false']);
  assert.deepEqual(option(root, 'urAccepted'), ['-1']);
  assert.deepEqual(option(root, 'crashReportingEnabled'), ['false']);
  assert.deepEqual(option(root, 'autoUpgradeIntervalH'), ['0']);
  assert.deepEqual(option(root, 'startBrowser'), ['false']);
  // GUI/REST on loopback, with the API key.
  const gui = onlyChild(root, 'gui');
  assert.equal(gui.attrs.enabled, 'true');
  assert.match(onlyChild(gui, 'address').text, /^127\.0\.0\.1:\d+$/);
  assert.equal(onlyChild(gui, 'apikey').text, API_KEY);
}

test('sidecar config: well-formed, the session contract, sendreceive on /devx/workdir, listens on 127.0.0.1:22000 only, GUI on 127.0.0.1:8384', () => {
  const root = parseXml(renderSidecarConfig(sidecarOpts));
  assertSessionContract(root);
  const folder = onlyChild(root, 'folder');
  assert.equal(folder.attrs.path, SIDECAR_WORKDIR);
  assert.equal(folder.attrs.type, 'sendreceive');
  // Loopback only (DESIGN §10): a port-forward reaches it, another pod through the pod IP does not.
  assert.deepEqual(option(root, 'listenAddress'), ['tcp://127.0.0.1:22000']);
  assert.equal(onlyChild(onlyChild(root, 'gui'), 'address').text, '127.0.0.1:8384');
  // The sidecar never dials: no explicit address for either device.
  assert.deepEqual(deviceAddresses(root), { [SIDECAR_ID]: ['dynamic'], [AGENT_ID]: ['dynamic'] });
});

test('sidecar config: folder path, listen and GUI addresses are options (for a stand-in), nothing else changes', () => {
  const standIn = renderSidecarConfig({ ...sidecarOpts, folderPath: '/tmp/x', listenAddress: 'tcp://127.0.0.1:30000', guiAddress: '127.0.0.1:30001' });
  const substituted = standIn.replace('/tmp/x', SIDECAR_WORKDIR).replace('tcp://127.0.0.1:30000', 'tcp://127.0.0.1:22000').replace('127.0.0.1:30001', '127.0.0.1:8384');
  assert.equal(substituted, renderSidecarConfig(sidecarOpts));
});

test('agent config: the session contract, dials the sidecar at the port-forward, listens on loopback only', () => {
  const root = parseXml(renderAgentConfig(agentOpts));
  assertSessionContract(root);
  const folder = onlyChild(root, 'folder');
  assert.equal(folder.attrs.path, '/home/dev/src');
  assert.equal(folder.attrs.type, 'sendreceive');
  assert.deepEqual(deviceAddresses(root), { [SIDECAR_ID]: ['tcp://127.0.0.1:41234'], [AGENT_ID]: ['dynamic'] });
  assert.deepEqual(option(root, 'listenAddress'), ['tcp://127.0.0.1:0']);
  assert.equal(onlyChild(onlyChild(root, 'gui'), 'address').text, '127.0.0.1:41235');
});

test('agent config: push mode makes the local folder sendonly', () => {
  const folder = onlyChild(parseXml(renderAgentConfig({ ...agentOpts, mode: 'push' })), 'folder');
  assert.equal(folder.attrs.type, 'sendonly');
});

test('labels and paths with XML metacharacters are escaped and survive a parse', () => {
  const label = `a<b>&"c'\u0001`;
  const root = parseXml(renderAgentConfig({ ...agentOpts, folderLabel: label, folderPath: '/tmp/<&>"' }));
  const folder = onlyChild(root, 'folder');
  assert.equal(folder.attrs.label, `a<b>&"c'\uFFFD`);
  assert.equal(folder.attrs.path, '/tmp/<&>"');
});

test('bad inputs are refused: non-canonical or equal device IDs, a GUI or a sync listener off loopback, bad addresses, weak API key', () => {
  const bad: Array<Partial<AgentConfigOptions>> = [
    { sidecarDeviceId: SIDECAR_ID.toLowerCase() },
    { agentDeviceId: 'nope' },
    { agentDeviceId: SIDECAR_ID },
    { guiAddress: '0.0.0.0:8384' },
    { guiAddress: '10.0.0.1:8384' },
    { sidecarAddress: 'http://127.0.0.1:1' },
    { listenAddress: '127.0.0.1:22000' },
    { listenAddress: 'tcp://0.0.0.0:22000' },
    { listenAddress: 'tcp://[::]:22000' },
    { listenAddress: 'tcp://:22000' },
    { listenAddress: 'tcp://10.0.0.5:22000' },
    { listenAddress: 'tcp://localhost:22000' },
    { listenAddress: 'tcp://127.0.0.1.example.com:22000' },
    { listenAddress: 'default' },
    { apiKey: 'short' },
    { apiKey: 'has spaces in it, sixteen+' },
    { folderPath: '' },
  ];
  for (const override of bad) assert.throws(() => renderAgentConfig({ ...agentOpts, ...override }), /invalid syncthing config input/, JSON.stringify(override));
  assert.throws(() => renderSidecarConfig({ ...sidecarOpts, guiAddress: '[::]:8384' }), /guiAddress/);
  for (const listenAddress of ['tcp://0.0.0.0:22000', 'tcp://[::]:22000', 'tcp://:22000', 'tcp://10.0.0.5:22000', 'default']) {
    assert.throws(() => renderSidecarConfig({ ...sidecarOpts, listenAddress }), /listenAddress .* loopback/, listenAddress);
  }
  assert.doesNotThrow(() => renderSidecarConfig({ ...sidecarOpts, listenAddress: 'tcp://[::1]:22000' }));
  assert.doesNotThrow(() => renderAgentConfig({ ...agentOpts, guiAddress: '[::1]:9000', sidecarAddress: 'tcp4://localhost:1' }));
});

test('renderIgnore: .git first, then the patterns one per line, blanks and duplicates dropped', () => {
  assert.deepEqual(BASELINE_IGNORES, ['.git']);
  const text = renderIgnore(['node_modules', '', '*.log\r\n/build', 'node_modules', '!.git']);
  assert.equal(text, '// Generated by devx.\n.git\nnode_modules\n*.log\n/build\n!.git\n');
  assert.equal(renderIgnore([]), '// Generated by devx.\n.git\n');
  assert.equal(renderIgnore(['.git']), '// Generated by devx.\n.git\n');
});

test('the XML reader used above does reject what is not well-formed', () => {
  for (const bad of ['<a><b></a></b>', '<a x="1" x="2"/>', '<a>&foo;</a>', '<a>x < y</a>', '<a></a><b/>', '<a x=1/>', '<a>', 'text']) {
    assert.throws(() => parseXml(bad), Error, bad);
  }
  assert.equal(parseXml('<?xml version="1.0"?><a x="&lt;&#65;"><b/>t&amp;</a>').attrs.x, '<A');
});
