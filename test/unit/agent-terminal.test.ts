// The pure parts of the terminal and the app's ports: dev.x/ports and --forward, the shell choice (dev.x/shell, the
// DevPolicy's shell, sh), the exec command line, how an exec ended (the kubelet's status), and the reporter that
// waits while a shell has the screen. The local port check binds loopback sockets only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { appPortNotes, assertPortsFree } from '../../src/agent/app-ports.ts';
import { parseAgentArgs } from '../../src/agent/args.ts';
import { AgentError, EXIT } from '../../src/agent/exit-codes.ts';
import { holdableReporter } from '../../src/agent/held-reporter.ts';
import { mergePorts, parseForwardFlags, parsePortList, portsText } from '../../src/agent/port-spec.ts';
import type { Reporter } from '../../src/agent/reporter.ts';
import { chooseShell, isShellName } from '../../src/core/shell.ts';
import { endOfStatus, missingProgram } from '../../src/k8s/exec.ts';
import { DevPolicySpecSchema } from '../../src/schemas/policy.ts';

const W = 'dev.x/ports of deploy/web';

test('dev.x/ports: PORT or LOCAL:REMOTE, comma-separated, spaces and empty entries allowed', () => {
  assert.deepEqual(parsePortList('8080,9229:9229', W), { ok: true, value: [{ local: 8080, remote: 8080 }, { local: 9229, remote: 9229 }] });
  assert.deepEqual(parsePortList(' 3000 : 80 ', W).ok, false, 'no spaces inside an entry');
  assert.deepEqual(parsePortList(' 18080:8080 , 1 ,', W), { ok: true, value: [{ local: 18080, remote: 8080 }, { local: 1, remote: 1 }] });
  assert.deepEqual(parsePortList('', W), { ok: true, value: [] });
  assert.deepEqual(parsePortList('65535:65535', W), { ok: true, value: [{ local: 65535, remote: 65535 }] });
});

test('dev.x/ports: what is not a port is named with the syntax and an example', () => {
  for (const bad of ['80a', '0', '65536', '8080:0', '8080:', ':8080', '1:2:3', 'http', '-1', '8080/tcp', '1e3', '080800']) {
    const r = parsePortList(`9229,${bad}`, W);
    assert.ok(!r.ok, bad);
    assert.equal(r.error, `${W}: ${JSON.stringify(bad)} is not a port: write PORT or LOCAL:REMOTE (ports 1-65535), comma-separated, e.g. 8080,9229:9229`);
  }
  const twice = parsePortList('8080,8080:9090', W);
  assert.ok(!twice.ok && twice.error === `${W}: local port 8080 is forwarded twice (to 8080 and to 9090): keep one`, JSON.stringify(twice));
});

test('--forward: repeatable and comma lists; it replaces the annotation’s mapping of the same remote port', () => {
  assert.deepEqual(parseForwardFlags(['8080', '9000:90,5005']), { ok: true, value: [{ local: 8080, remote: 8080 }, { local: 9000, remote: 90 }, { local: 5005, remote: 5005 }] });
  const bad = parseForwardFlags(['x']);
  assert.ok(!bad.ok && bad.error.startsWith('--forward: "x" is not a port'));
  const declared = [{ local: 8080, remote: 8080 }, { local: 9229, remote: 9229 }];
  assert.deepEqual(mergePorts(declared, [{ local: 18080, remote: 8080 }]), { ok: true, value: [{ local: 9229, remote: 9229 }, { local: 18080, remote: 8080 }] });
  assert.deepEqual(mergePorts(declared, []), { ok: true, value: declared });
  const clash = mergePorts(declared, [{ local: 8080, remote: 3000 }]);
  assert.ok(!clash.ok && clash.error === 'local port 8080 would carry both port 8080 and port 3000 of the dev pod: move one of them to another local port with --forward LOCAL:3000', JSON.stringify(clash));
  assert.equal(portsText([{ local: 8080, remote: 8080 }, { local: 19229, remote: 9229 }]), '127.0.0.1:8080 → 8080, 127.0.0.1:19229 → 9229');
});

test('a local port in use (or reserved to root) is a clear error naming the port and what to do', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const taken = (server.address() as net.AddressInfo).port;
  try {
    await assert.rejects(assertPortsFree([{ local: taken, remote: 8080 }]), (e: unknown) => {
      assert.ok(e instanceof AgentError);
      assert.equal(e.exitCode, EXIT.FAILURE);
      const elsewhere = taken + 10000 <= 65535 ? taken + 10000 : 10000 + (taken % 10000);
      assert.equal(e.message, `local port ${taken} (forwarded to port 8080 of the dev pod) is already in use on this machine: stop what listens on 127.0.0.1:${taken}, or forward the pod's port 8080 to another local port, e.g. --forward ${elsewhere}:8080`);
      return true;
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  await assertPortsFree([{ local: taken, remote: 8080 }]); // free again: no error, and nothing left listening
  await assertPortsFree([{ local: taken, remote: 8080 }]);
});

test('the shell: dev.x/shell, else the policy’s, else sh; one program name or absolute path, never a command line', () => {
  assert.deepEqual(chooseShell('bash', 'zsh'), { ok: true, value: { shell: 'bash', from: 'annotation' } });
  assert.deepEqual(chooseShell(' /bin/zsh ', undefined), { ok: true, value: { shell: '/bin/zsh', from: 'annotation' } });
  assert.deepEqual(chooseShell(undefined, 'fish'), { ok: true, value: { shell: 'fish', from: 'policy' } });
  assert.deepEqual(chooseShell(undefined, 'bash -l'), { ok: true, value: { shell: 'sh', from: 'default' } }, 'a policy value that is not a program is ignored');
  assert.deepEqual(chooseShell(undefined, undefined), { ok: true, value: { shell: 'sh', from: 'default' } });
  for (const bad of ['bash -l', 'sh -c id', '', '$(id)', '/bin/../bin/sh', '-i', 'a;b', 'bin/bash', '/bin/', 'x'.repeat(256)]) {
    const r = chooseShell(bad, 'zsh');
    assert.ok(!r.ok, bad);
    assert.equal(r.error, `dev.x/shell must name one program, e.g. bash or /bin/zsh (no arguments), not ${JSON.stringify(bad)}`);
    assert.equal(isShellName(bad.trim()), false, bad);
  }
  for (const good of ['sh', 'bash', 'ash', 'zsh', 'fish', 'pwsh', 'busybox', 'python3.12', 'c++', '/usr/local/bin/fish', '/bin/sh']) assert.equal(isShellName(good), true, good);
});

test('the DevPolicy’s shell: optional, and the CRD schema takes only a program', () => {
  assert.equal(DevPolicySpecSchema.parse({}).shell, undefined);
  assert.equal(DevPolicySpecSchema.parse({ shell: 'bash' }).shell, 'bash');
  const bad = DevPolicySpecSchema.safeParse({ shell: 'bash -l' });
  assert.ok(!bad.success && /must name one program/.test(bad.error.issues[0]?.message ?? ''));
});

test('exec command lines: the command after --, never parsed as options of kubectl devx', () => {
  assert.deepEqual(parseAgentArgs('exec', ['web']), { ok: true, value: { command: 'exec', common: { json: false, timeoutMs: 300_000 }, workload: { name: 'web' } } });
  assert.deepEqual(parseAgentArgs('exec', ['deploy/web', '-n', 'ns', '--', 'ls', '-la', '--', '-n']), {
    ok: true,
    value: { command: 'exec', common: { json: false, timeoutMs: 300_000, namespace: 'ns' }, workload: { kind: 'Deployment', name: 'web' }, argv: ['ls', '-la', '--', '-n'] },
  });
  const errors: Array<[string, string[], RegExp]> = [
    ['exec', [], /exec needs a workload/],
    ['exec', ['web', 'ls'], /^exec: put the command after --, e.g. kubectl devx exec web -- ls$/],
    ['exec', ['web', '--'], /nothing after --/],
    ['exec', ['web', '-o', 'json', '--', 'ls'], /-o json is not supported/],
    ['exec', ['web', '--tty=x'], /--tty' does not take an argument/],
    ['up', ['web', '--forward', '8080'], /--forward needs --sync/],
    ['up', ['web', '--no-shell'], /--no-shell goes with --sync/],
    ['sync', ['web', '--forward', '8080:x'], /--forward: "8080:x" is not a port/],
  ];
  for (const [cmd, argv, message] of errors) {
    const r = parseAgentArgs(cmd, argv);
    assert.ok(!r.ok && message.test(r.error), `${cmd} ${argv.join(' ')}: ${JSON.stringify(r)}`);
  }
  const it = parseAgentArgs('exec', ['-it', 'web', '--', 'sh']);
  assert.ok(it.ok && it.value.command === 'exec' && it.value.argv?.[0] === 'sh', 'kubectl exec’s -it is accepted (and implied)');
  const up = parseAgentArgs('up', ['web', '--sync', '.', '--forward', '8080', '--forward', '9229:9229,5005', '--no-shell']);
  assert.ok(up.ok && up.value.command === 'up');
  assert.deepEqual(up.value.sync.forward, [{ local: 8080, remote: 8080 }, { local: 9229, remote: 9229 }, { local: 5005, remote: 5005 }]);
  assert.equal(up.value.shell, false);
});

test('how an exec ended: the kubelet’s status gives the exit code, or why the command did not run', () => {
  assert.deepEqual(endOfStatus({ status: 'Success' }), { kind: 'exited', code: 0 });
  const three = { status: 'Failure', reason: 'NonZeroExitCode', message: 'command terminated with non-zero exit code', details: { causes: [{ reason: 'ExitCode', message: '3' }] } };
  assert.deepEqual(endOfStatus(three), { kind: 'exited', code: 3 });
  assert.deepEqual(endOfStatus({ ...three, details: { causes: [{ reason: 'ExitCode', message: '137' }] } }), { kind: 'exited', code: 137 });
  // What the node's kubelet and runc say (test/e2e/node-terminal.test.ts meets the same text for real).
  const missing = 'Internal error occurred: error executing command in container: failed to exec in container: failed to start exec "856c": OCI runtime exec failed: exec failed: unable to start container process: exec: "bash": executable file not found in $PATH';
  assert.deepEqual(endOfStatus({ status: 'Failure', reason: 'InternalError', message: missing }), { kind: 'failed', message: missing });
  assert.equal(missingProgram(missing), 'bash');
  assert.equal(missingProgram('OCI runtime exec failed: exec failed: unable to start container process: exec: "/nonexist/x": stat /nonexist/x: no such file or directory'), '/nonexist/x');
  assert.equal(missingProgram('container not found ("reviews")'), undefined);
  assert.deepEqual(endOfStatus({ status: 'Failure', reason: 'NonZeroExitCode' }), { kind: 'failed', message: 'NonZeroExitCode' }, 'no code: not a number made up');
});

function recording(): { reporter: Reporter; lines: string[] } {
  const lines: string[] = [];
  const say = (kind: string) => (x: unknown) => lines.push(`${kind} ${typeof x === 'string' ? x : JSON.stringify(x)}`);
  const reporter: Reporter = { waiting: say('waiting'), step: say('step'), note: say('note'), progress: say('progress'), synced: say('synced'), live: say('live'), stopped: say('stopped'), close: () => lines.push('close') };
  return { reporter, lines };
}

test('while a shell has the screen the sync says nothing; its notes come after, the newest status redrawn', () => {
  const { reporter, lines } = recording();
  const held = holdableReporter(reporter);
  held.step('before');
  held.hold();
  held.note('dev pod replaced');
  held.live({ n: 1 } as never, {} as never);
  held.waiting('the pod');
  held.progress({} as never, 'two-way');
  held.noteNow('bash is missing: opening sh instead');
  held.live({ n: 2 } as never, {} as never);
  assert.deepEqual(lines, ['step before', 'close', 'note bash is missing: opening sh instead']);
  held.release();
  assert.deepEqual(lines.slice(3), ['note dev pod replaced', 'live {"n":2}']);
  held.waiting('x');
  assert.equal(lines.at(-1), 'waiting x');
  held.hold();
  for (let i = 0; i < 80; i++) held.note(`n${i}`);
  held.release();
  const notes = lines.filter((l) => /^note n\d+$/.test(l));
  assert.equal(notes.length, 50, 'a long hold keeps the newest 50');
  assert.equal(notes[0], 'note n30');
});

test('notes about the app ports’ connections: once per port and text, nothing listening said plainly, RBAC left to the caller', () => {
  const notes: string[] = [];
  const refused: unknown[] = [];
  const on = appPortNotes(
    (m) => notes.push(m),
    (e) => {
      refused.push(e);
      return (e as Error).message === 'forbidden';
    },
  );
  const p = { local: 18080, remote: 8080 };
  const q = { local: 19229, remote: 9229 };
  const kubelet = 'error forwarding port 8080 to pod abc, uid : failed to execute portforward in network namespace "/var/run/netns/cni-1": failed to connect to localhost:8080 inside namespace "abc", IPv4: dial tcp4 127.0.0.1:8080: connect: connection refused ';
  on(p, { type: 'open', active: 1 });
  on(p, { type: 'closed', active: 0, error: kubelet });
  on(p, { type: 'closed', active: 0, error: kubelet });
  on(p, { type: 'closed', active: 0 });
  on(q, { type: 'closed', active: 0, error: 'pod gone' });
  on(q, { type: 'refused', error: new Error('forbidden') });
  on(q, { type: 'refused', error: new Error('waiting for the dev pod') });
  on(q, { type: 'refused', error: new Error('waiting for the dev pod') });
  assert.deepEqual(notes, [
    '127.0.0.1:18080 → port 8080: nothing listens on port 8080 in the dev pod (yet)',
    '127.0.0.1:19229 → port 9229: pod gone',
    '127.0.0.1:19229 → port 9229: waiting for the dev pod; the next connection tries again',
  ]);
  assert.equal(refused.length, 3);
});
