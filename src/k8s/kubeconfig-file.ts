// Reading kubeconfig files the way kubectl does: a list of files (from $KUBECONFIG) merged with the first file winning
// for every named cluster, user and context and for current-context; a file in the list that does not exist is
// skipped. Paths inside a file (certificates, keys, token files, an exec plugin's command when it contains a slash)
// are relative to that file's directory, so they are resolved here, while it is still known which file said them.
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';

// kubectl writes `null` for empty lists and fields (`users: null`, `args: null`); both mean "absent".
const str = z.string().nullish();
const strings = z.array(z.string()).nullish();

const ClusterSchema = z.object({
  server: str,
  'certificate-authority': str,
  'certificate-authority-data': str,
  'insecure-skip-tls-verify': z.boolean().nullish(),
  'tls-server-name': str,
  'proxy-url': str,
});

const ExecSchema = z.object({
  apiVersion: z.string(),
  command: z.string().min(1),
  args: strings,
  env: z.array(z.object({ name: z.string(), value: z.string() })).nullish(),
  installHint: str,
  provideClusterInfo: z.boolean().nullish(),
  interactiveMode: str,
});

const UserSchema = z.object({
  'client-certificate': str,
  'client-certificate-data': str,
  'client-key': str,
  'client-key-data': str,
  token: str,
  tokenFile: str,
  username: str,
  password: str,
  as: str,
  'as-uid': str,
  'as-groups': strings,
  'as-user-extra': z.record(z.string(), z.array(z.string())).nullish(),
  'auth-provider': z.object({ name: z.string() }).nullish(),
  exec: ExecSchema.nullish(),
});

const ContextSchema = z.object({ cluster: str, user: str, namespace: str });

const FileSchema = z.object({
  clusters: z.array(z.object({ name: z.string(), cluster: ClusterSchema.nullish() })).nullish(),
  users: z.array(z.object({ name: z.string(), user: UserSchema.nullish() })).nullish(),
  contexts: z.array(z.object({ name: z.string(), context: ContextSchema.nullish() })).nullish(),
  'current-context': str,
});

export type KubeconfigCluster = z.infer<typeof ClusterSchema>;
export type KubeconfigUser = z.infer<typeof UserSchema>;
export type KubeconfigExec = z.infer<typeof ExecSchema>;
export type KubeconfigContext = z.infer<typeof ContextSchema>;

/** One named entry, with the file it came from (for messages). */
export interface Entry<T> {
  value: T;
  file: string;
}

/** The files merged: what kubectl would see. */
export interface MergedKubeconfig {
  files: string[];
  clusters: Map<string, Entry<KubeconfigCluster>>;
  users: Map<string, Entry<KubeconfigUser>>;
  contexts: Map<string, Entry<KubeconfigContext>>;
  currentContext?: string;
}

function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`).join('; ');
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new Error(`cannot read kubeconfig ${file} (${code}): pass --kubeconfig with a readable file, or fix KUBECONFIG`, { cause: err });
  }
}

function parseFile(file: string): z.infer<typeof FileSchema> {
  let doc: unknown;
  try {
    doc = parse(readText(file));
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('cannot read kubeconfig')) throw err;
    throw new Error(`kubeconfig ${file} is not valid YAML (${(err as Error).message.split('\n')[0]}): fix the file or pass another one with --kubeconfig`, { cause: err });
  }
  const result = FileSchema.safeParse(doc ?? {});
  if (!result.success) throw new Error(`kubeconfig ${file} is malformed: ${issuesText(result.error)}; fix the file or pass another one with --kubeconfig`);
  return result.data;
}

const resolveIn = (dir: string, p: string | null | undefined): string | undefined => (p ? path.resolve(dir, p) : undefined);

function resolveCluster(c: KubeconfigCluster, dir: string): KubeconfigCluster {
  return { ...c, 'certificate-authority': resolveIn(dir, c['certificate-authority']) };
}

function resolveUser(u: KubeconfigUser, dir: string): KubeconfigUser {
  // A bare command name is looked up on PATH; one with a slash is a path relative to the kubeconfig (as client-go).
  const exec = u.exec && u.exec.command.includes('/') ? { ...u.exec, command: path.resolve(dir, u.exec.command) } : u.exec;
  return {
    ...u,
    'client-certificate': resolveIn(dir, u['client-certificate']),
    'client-key': resolveIn(dir, u['client-key']),
    tokenFile: resolveIn(dir, u.tokenFile),
    exec,
  };
}

function addFirst<T>(into: Map<string, Entry<T>>, items: Array<[string, T]>, file: string): void {
  for (const [name, value] of items) if (!into.has(name)) into.set(name, { value, file });
}

/** Reads and merges `files` in order (each must exist; the caller skips missing $KUBECONFIG entries). */
export function readKubeconfigs(files: string[]): MergedKubeconfig {
  const merged: MergedKubeconfig = { files, clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    const doc = parseFile(file);
    const dir = path.dirname(path.resolve(file));
    addFirst(merged.clusters, (doc.clusters ?? []).map((c) => [c.name, resolveCluster(c.cluster ?? {}, dir)]), file);
    addFirst(merged.users, (doc.users ?? []).map((u) => [u.name, resolveUser(u.user ?? {}, dir)]), file);
    addFirst(merged.contexts, (doc.contexts ?? []).map((c) => [c.name, c.context ?? {}]), file);
    merged.currentContext ||= doc['current-context'] ?? undefined;
  }
  return merged;
}
