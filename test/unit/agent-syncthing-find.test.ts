// Which local syncthing the agent runs: DEVX_SYNCTHING alone when set, else PATH, else the newest in devx's own cache;
// with none, an error that says how to get one. Fake binaries in a temporary directory, no network.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { cachedSyncthings, findSyncthing } from '../../src/agent/syncthing-process.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'devx-find-syncthing-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function fake(file: string, version: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `#!/bin/sh\necho 'syncthing v${version} "Test" (go1.26 linux-amd64) devx@test'\n`, { mode: 0o755 });
  return file;
}

const cache = path.join(tmp, 'cache');
const emptyPath = path.join(tmp, 'empty-bin');
fs.mkdirSync(emptyPath);
fake(path.join(cache, 'syncthing-v1.19.2', 'syncthing'), '1.19.2');
fake(path.join(cache, 'syncthing-v1.27.12', 'syncthing'), '1.27.12');
fake(path.join(cache, 'syncthing-v1.9.0', 'syncthing'), '1.9.0');
fs.mkdirSync(path.join(cache, 'syncthing-v2.0.0')); // a build that did not finish: no binary

test("devx's cache: the newest built syncthing first (versions compared as numbers)", () => {
  assert.deepEqual(cachedSyncthings({ DEVX_CACHE: cache }), ['1.27.12', '1.19.2', '1.9.0'].map((v) => path.join(cache, `syncthing-v${v}`, 'syncthing')));
  assert.deepEqual(cachedSyncthings({ DEVX_CACHE: path.join(tmp, 'nothing') }), []);
});

test('PATH first, then the cache; DEVX_SYNCTHING alone when set; none: says how to get one', async () => {
  const onPath = path.join(tmp, 'path-bin');
  fake(path.join(onPath, 'syncthing'), '1.20.0');
  assert.equal((await findSyncthing({ PATH: onPath, DEVX_CACHE: cache }, 'linux')).version, '1.20.0');
  const fromCache = await findSyncthing({ PATH: emptyPath, DEVX_CACHE: cache }, 'linux');
  assert.equal(fromCache.version, '1.27.12');
  assert.equal(fromCache.path, path.join(cache, 'syncthing-v1.27.12', 'syncthing'));
  const chosen = fake(path.join(tmp, 'chosen', 'syncthing'), '1.19.2');
  assert.equal((await findSyncthing({ PATH: onPath, DEVX_CACHE: cache, DEVX_SYNCTHING: chosen }, 'linux')).version, '1.19.2');
  await assert.rejects(findSyncthing({ PATH: emptyPath, DEVX_CACHE: path.join(tmp, 'nothing') }, 'linux'), /no syncthing found \(PATH and devx's cache; syncthing on PATH: not found\).*apt install syncthing/s);
  await assert.rejects(findSyncthing({ PATH: emptyPath, DEVX_SYNCTHING: path.join(tmp, 'missing') }, 'linux'), /no syncthing found \(DEVX_SYNCTHING=/);
  const old = fake(path.join(tmp, 'old', 'syncthing'), '1.18.0');
  await assert.rejects(findSyncthing({ PATH: emptyPath, DEVX_SYNCTHING: old }, 'linux'), /is syncthing 1\.18\.0; devx needs 1\.19\.0 or newer/);
});
