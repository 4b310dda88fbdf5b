// What the agent reads from a workload for the developer's side of dev mode: the shell of its terminal (dev.x/shell,
// else the DevPolicy's `shell`, else sh) and the app's ports (dev.x/ports, and --forward). Both are records any user
// who may edit the workload can write: they are parsed here and used only as what they claim to be, a program name
// for the user's own exec and port numbers on the user's own loopback.
import { ANN_PORTS, ANN_SHELL, LABEL_POLICY } from '../core/names.ts';
import { chooseShell, type ShellChoice } from '../core/shell.ts';
import { kubeGet, type KubeConfig } from '../k8s/agent-api.ts';
import type { FoundWorkload } from './cluster.ts';
import { AgentError, EXIT } from './exit-codes.ts';
import { mergePorts, parsePortList, type PortMapping } from './port-spec.ts';
import { ObjectMetaSchema, PolicyShellSchema } from './schemas.ts';
import { refString } from './workload-ref.ts';

/** The `shell` of the DevPolicy the namespace binds, where the user may read the namespace and the policy (both are
 * outside most developers' Roles: then the default applies). */
export async function policyShell(kc: KubeConfig, namespace: string): Promise<string | undefined> {
  try {
    const ns = ObjectMetaSchema.parse(((await kubeGet(kc, `/api/v1/namespaces/${encodeURIComponent(namespace)}`)) as { metadata?: unknown }).metadata);
    const policy = ns.labels?.[LABEL_POLICY];
    if (policy === undefined) return undefined;
    return PolicyShellSchema.parse(await kubeGet(kc, `/apis/dev.x/v1alpha1/devpolicies/${encodeURIComponent(policy)}`)).spec.shell;
  } catch {
    return undefined;
  }
}

function annotation(found: FoundWorkload, key: string): string | undefined {
  return found.object.metadata.annotations?.[key];
}

function fixCommand(found: FoundWorkload, key: string, example: string): string {
  return `kubectl annotate ${refString(found.ref)} -n ${found.ref.namespace} --overwrite ${key}=${example}`;
}

/** The shell a terminal in the workload's dev container opens; a malformed dev.x/shell is a usage error. */
export async function shellOf(kc: KubeConfig, found: FoundWorkload): Promise<ShellChoice> {
  const own = annotation(found, ANN_SHELL);
  const choice = chooseShell(own, own === undefined ? await policyShell(kc, found.ref.namespace) : undefined);
  if (!choice.ok) throw new AgentError(EXIT.USAGE, `${refString(found.ref)}: ${choice.error}; fix it with\n  ${fixCommand(found, ANN_SHELL, 'bash')}`);
  return choice.value;
}

/** The ports to forward: the workload's dev.x/ports with --forward's mappings over them (port-spec.ts mergePorts). */
export function portsOf(found: FoundWorkload, forward: readonly PortMapping[]): PortMapping[] {
  const text = annotation(found, ANN_PORTS);
  const declared = text === undefined ? { ok: true as const, value: [] } : parsePortList(text, `${ANN_PORTS} of ${refString(found.ref)}`);
  if (!declared.ok) throw new AgentError(EXIT.USAGE, `${declared.error}; fix it with\n  ${fixCommand(found, ANN_PORTS, '8080,9229:9229')}`);
  const merged = mergePorts(declared.value, forward);
  if (!merged.ok) throw new AgentError(EXIT.USAGE, merged.error);
  return merged.value;
}
