#!/usr/bin/env node
// kubectl-devx: the kubectl plugin of devx (`kubectl devx ...`). Dev mode itself needs no client; this is the
// optional agent (the local end of the file sync, and conveniences around the dev label) and the offline preview.
import { parseArgs } from 'node:util';
import { AGENT_COMMANDS } from '../agent/args.ts';
import { runAgentCommand } from '../agent/main.ts';
import { VERSION } from '../version.ts';
import { runInject } from './inject.ts';

const HELP = `kubectl devx ${VERSION}: dev mode for Kubernetes workloads

Usage:
  kubectl devx sync WORKLOAD [LOCAL_DIR[:REMOTE_DIR]] [-n NS] [--mode two-way|push] [--address tcp://HOST:PORT]
      Sync LOCAL_DIR (default: the current directory) with the dev pod of WORKLOAD until Ctrl-C: waits for the pod,
      port-forwards to its devx-sync sidecar through the API server and runs the local syncthing. .git is never
      synced; add syncthing ignore patterns to LOCAL_DIR/.devxignore. REMOTE_DIR (absolute, in the dev container)
      moves the synced directory there (sets dev.x/workdir; the dev pod is recreated). --mode push: local changes
      go to the pod, changes made in the pod stay there. --address: dial the sidecar there instead of
      port-forwarding (e.g. behind your own kubectl port-forward to port 22000). --forward PORTS (repeatable;
      PORT or LOCAL:REMOTE, comma-separated): forward 127.0.0.1:LOCAL to the dev pod's REMOTE while syncing, on top
      of the workload's dev.x/ports annotation (a --forward of the same REMOTE port replaces the annotation's).
      In duplicate mode: the dev pod of your own copy.
  kubectl devx up WORKLOAD [-n NS] [--image IMAGE] [--duplicate] [--sync LOCAL_DIR[:REMOTE_DIR] [--mode M] [--forward PORTS] [--no-shell]]
      Label WORKLOAD dev.x/enabled=true (and set dev.x/image), wait for its dev pod; with --sync, then sync, and on
      a terminal open a shell in the dev container once the first full sync is complete (the sync keeps running;
      exiting the shell stops it). The shell: dev.x/shell on the workload, else the DevPolicy's, else sh.
      --duplicate (or a WORKLOAD already in duplicate mode): WORKLOAD keeps serving untouched and you get your own
      copy WORKLOAD-devx-<you> whose pod is in dev mode (dev.x/mode=duplicate).
  kubectl devx exec WORKLOAD [-n NS] [-- COMMAND [ARG...]]
      A shell (or COMMAND) in the dev container of WORKLOAD, in a terminal when stdin and stdout are one; exits
      with the command's exit code. In duplicate mode: in your own copy's dev pod.
  kubectl devx down WORKLOAD [-n NS]
      Remove the label, wait until the workload is restored and its dev pod is gone. In duplicate mode: delete your
      copy (and remove the label when no copy is left).
  kubectl devx status [-n NS | -A]
      Workloads in dev mode: who turned it on, since when, TTL left, dev pod and phase, image, local sync.
  kubectl devx inject -f FILE --policy FILE [--as USER] [--as-group GROUP]...
      Print the manifests as dev mode would make them (offline; same core as the webhook). For a workload: the
      workload as admission leaves it, then the pod its template becomes. FILE may be - for stdin.
  kubectl devx version

WORKLOAD is KIND/NAME (deploy/reviews, sts/db, ds/agent, job/x, cj/nightly, pod/x) or a NAME unique among those.
Common flags: --kubeconfig FILE, --context NAME, -n NAMESPACE, -o json (JSON lines for sync; one object otherwise),
--timeout DURATION (waiting for the pod, the Secret, up/down; default 5m).
Environment: DEVX_SYNCTHING (the syncthing binary), XDG_CONFIG_HOME (sessions live in $XDG_CONFIG_HOME/devx/),
NO_COLOR.

Exit codes: 0 ok (a sync stopped with Ctrl-C included); 1 failed (inject: an object was denied); 2 bad usage;
3 workload not found; 4 workload not in dev mode; 5 forbidden by RBAC (the missing verb is named); 6 timed out
waiting; 7 syncthing missing or too old; 8 a sync of that workload already runs here; 127 exec: no such program in
the dev container; 130 interrupted. Once exec's command (or up's shell) ran, its exit code is the agent's.
`;

function inject(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { filename: { type: 'string', short: 'f' }, policy: { type: 'string' }, as: { type: 'string' }, 'as-group': { type: 'string', multiple: true } },
    strict: true,
  });
  if (!values.filename || !values.policy) throw new Error('inject needs -f FILE and --policy FILE');
  const result = runInject({ file: values.filename, policyFile: values.policy, ...(values.as ? { user: values.as } : {}), ...(values['as-group'] ? { groups: values['as-group'] } : {}) });
  process.stdout.write(result.output);
  return result.ok ? 0 : 1;
}

function isAgentCommand(cmd: string | undefined): boolean {
  return (AGENT_COMMANDS as readonly string[]).includes(cmd ?? '');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'inject') return inject(rest);
    if (isAgentCommand(cmd)) return await runAgentCommand(cmd as string, rest, { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, cwd: process.cwd() });
    if (cmd === 'version' || cmd === '--version') {
      process.stdout.write(`${VERSION}\n`);
      return 0;
    }
    process.stdout.write(HELP);
    return cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h' ? 0 : 2;
  } catch (err) {
    process.stderr.write(`kubectl devx: ${(err as Error).message}\n`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
