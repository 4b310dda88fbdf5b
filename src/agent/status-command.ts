// `kubectl devx status [-n NS | -A] [-o json]`: the workloads in dev mode, read from the API server (only labelled
// objects are listed), with their dev pods, the policy's TTL cap, and any sync session running on this machine.
import path from 'node:path';
import { LABEL_POLICY, WORKLOAD_KINDS, type WorkloadKind } from '../core/names.ts';
import { KubeApiError, kubeGet, type AgentKube } from '../k8s/agent-api.ts';
import { listDevPods } from './cluster.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { sessionHome } from './paths.ts';
import { isAlive, readPid } from './pidfile.ts';
import { PolicyTtlSchema, listSchema, WorkloadSchema, type Workload, ObjectMetaSchema } from './schemas.ts';
import { readSessionRecord } from './session-home.ts';
import { AGENT_PID_FILE, sessionSummary } from './session-record.ts';
import { renderStatusTable, statusRows, type StatusRow } from './status.ts';
import { devModePath, resourceName } from './workload-ref.ts';
import { z } from 'zod';

export interface StatusCommand {
  kube: AgentKube;
  /** undefined = all namespaces (-A). */
  namespace: string | undefined;
  json: boolean;
  configDir: string;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  now: Date;
}

/** Labelled objects of one kind; a kind the user may not list is reported and skipped. */
async function listKind(cmd: StatusCommand, kind: WorkloadKind): Promise<Array<{ kind: WorkloadKind; object: Workload }>> {
  try {
    const list = listSchema(WorkloadSchema).parse(await kubeGet(cmd.kube.kubeConfig, devModePath(kind, cmd.namespace)));
    return list.items.map((object) => ({ kind, object }));
  } catch (err) {
    const where = cmd.namespace === undefined ? 'all namespaces' : `namespace ${cmd.namespace}`;
    if (err instanceof KubeApiError && err.status === 403) {
      cmd.err.write(`warning: you may not list ${resourceName(kind)} in ${where} (RBAC verb "list"): those are left out\n`);
      return [];
    }
    throw err;
  }
}

/** maxDuration of the policy each namespace binds, where the user may read it (a DevPolicy is cluster-scoped, and
 * namespaces that share one read it once). */
async function maxDurations(cmd: StatusCommand, namespaces: readonly string[]): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  const policies = new Map<string, Promise<string | undefined>>();
  const maxOf = (policy: string): Promise<string | undefined> => {
    const read = policies.get(policy) ?? kubeGet(cmd.kube.kubeConfig, `/apis/dev.x/v1alpha1/devpolicies/${encodeURIComponent(policy)}`).then((p) => PolicyTtlSchema.parse(p).spec.maxDuration);
    policies.set(policy, read);
    return read;
  };
  for (const ns of namespaces) {
    try {
      const meta = z.object({ metadata: ObjectMetaSchema }).parse(await kubeGet(cmd.kube.kubeConfig, `/api/v1/namespaces/${encodeURIComponent(ns)}`));
      const policy = meta.metadata.labels?.[LABEL_POLICY];
      out.set(ns, policy ? await maxOf(policy) : undefined);
    } catch {
      out.set(ns, undefined); // not readable: the TTL column shows dev.x/ttl alone
    }
  }
  return out;
}

function sessionOf(cmd: StatusCommand, namespace: string, workload: string, copy?: string): string | undefined {
  const [kindLower, ...rest] = workload.split('/');
  const kind = WORKLOAD_KINDS.find((k) => k.toLowerCase() === kindLower);
  if (!kind) return undefined;
  const home = sessionHome(cmd.configDir, cmd.kube.context, { kind, name: rest.join('/'), namespace, ...(copy === undefined ? {} : { copy }) });
  const pid = readPid(path.join(home, AGENT_PID_FILE));
  return sessionSummary(readSessionRecord(home), pid !== undefined && isAlive(pid));
}

export async function runStatus(cmd: StatusCommand): Promise<ExitCode> {
  const workloads = (await Promise.all(WORKLOAD_KINDS.map((k) => listKind(cmd, k)))).flat();
  const pods = workloads.length === 0 ? [] : await listDevPods(cmd.kube.kubeConfig, cmd.namespace);
  const namespaces = [...new Set(workloads.map((w) => w.object.metadata.namespace ?? ''))];
  const caps = await maxDurations(cmd, namespaces);
  const rows: StatusRow[] = statusRows({
    workloads,
    pods,
    maxDuration: (ns) => caps.get(ns),
    session: (ns, workload, copy) => sessionOf(cmd, ns, workload, copy),
    now: cmd.now,
  });
  if (cmd.json) {
    cmd.out.write(`${JSON.stringify({ items: rows }, null, 2)}\n`);
  } else if (rows.length === 0) {
    cmd.err.write(`no workloads in dev mode in ${cmd.namespace === undefined ? 'any namespace' : `namespace ${cmd.namespace}`}\n`);
  } else {
    cmd.out.write(renderStatusTable(rows, { allNamespaces: cmd.namespace === undefined, now: cmd.now }));
  }
  return EXIT.OK;
}
