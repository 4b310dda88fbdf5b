#!/usr/bin/env node
// kubectl-devx: the kubectl plugin of devx (`kubectl devx ...`). Dev mode itself needs no client; this is the
// optional agent and the offline preview.
import { parseArgs } from 'node:util';
import { VERSION } from '../version.ts';
import { runInject } from './inject.ts';

const HELP = `kubectl devx ${VERSION}: dev mode for Kubernetes workloads

Usage:
  kubectl devx inject -f FILE --policy FILE [--as USER] [--as-group GROUP]...
      Print the manifests as dev mode would make them (offline; same core as the webhook). For a workload: the
      workload as admission leaves it, then the pod its template becomes. FILE may be - for stdin.
  kubectl devx version

Exit codes: 0 ok; 1 an object was denied by the policy (the reason is printed); 2 bad usage or unreadable input.
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

function main(argv: string[]): number {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === 'inject') return inject(rest);
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

process.exitCode = main(process.argv.slice(2));
