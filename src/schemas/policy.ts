// DevPolicy: the single source of truth for the CRD schema (deploy/crds is generated from this file).
import { formatIssue } from './issues.ts';
import { z } from 'zod';
import { DEV_MODES, WORKLOAD_KINDS, DEFAULT_WORKDIR } from '../core/names.ts';
import { DURATION_PATTERN } from './duration.ts';
import { SHELL_PATTERN } from '../core/shell.ts';
import { err, ok, type Result } from '../core/result.ts';

const quantity = z
  .union([z.string(), z.number()])
  .describe('A Kubernetes quantity, e.g. 50m or 64Mi.')
  .meta({ 'x-kubernetes-int-or-string': true });

const resourceList = z.record(z.string(), quantity);

export const LabelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(
        z.object({
          key: z.string().min(1),
          operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']),
          values: z.array(z.string()).optional(),
        }),
      )
      .optional(),
  })
  .describe('A label selector as in any Kubernetes object; empty matches everything.');
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

/** A storage size as a PersistentVolumeClaim requests it: a positive quantity, e.g. 2Gi or 500M. */
const STORAGE_SIZE = /^([1-9][0-9]*(\.[0-9]+)?|0\.[0-9]*[1-9][0-9]*)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
/** A StorageClass name (a DNS-1123 subdomain), or "" for "no class" as in a PersistentVolumeClaim. */
const STORAGE_CLASS = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export const PersistenceSchema = z
  .object({
    size: z
      .string()
      .regex(STORAGE_SIZE, 'must be a storage size such as 2Gi or 500Mi')
      .default('2Gi')
      .describe('Storage each claim requests, e.g. 2Gi. Applies when a claim is created; an existing claim keeps its size.'),
    storageClassName: z
      .string()
      .max(253)
      .regex(STORAGE_CLASS, 'must be the name of a StorageClass (lower case letters, digits, - and .), or empty')
      .optional()
      .describe('StorageClass of the claims. Absent: the cluster\'s default StorageClass; "": only volumes without a class.'),
  })
  .strict();
export type Persistence = z.infer<typeof PersistenceSchema>;

export const DevPolicySpecSchema = z
  .object({
    namespaceSelector: LabelSelectorSchema.optional().describe(
      'Namespaces that may bind this policy with the dev.x/policy label. Empty or absent: any namespace.',
    ),
    subjects: z
      .object({
        users: z.array(z.string().min(1)).default([]).describe('User names allowed to turn dev mode on.'),
        groups: z.array(z.string().min(1)).default([]).describe('Groups whose members may turn dev mode on.'),
      })
      .optional()
      .describe('Who may turn dev mode on. Absent or both lists empty: anyone allowed to update the workload.'),
    images: z
      .array(
        z.object({
          match: z
            .string()
            .min(1)
            .describe('Glob on the original image, e.g. "*/bookinfo/reviews*"; here `*` matches any characters, `/` included, and `?` any one character.'),
          devImage: z.string().min(1).describe('Dev image used instead.'),
        }),
      )
      .default([])
      .describe('Dev image per original image; the first match wins.'),
    defaultDevImage: z.string().default('').describe('Dev image when no rule matches; empty keeps the original image.'),
    allowedImages: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Globs of images the dev.x/image annotation may name; empty: only images this policy names. A glob matches the ' +
          'whole image: `*` matches any characters except `/`, `**` any characters including `/`, `?` one character ' +
          'except `/`; everything else is literal. E.g. "registry.example.com/dev/*" allows ' +
          '"registry.example.com/dev/java:21" but not "registry.example.com/dev/x/y:1"; "registry.example.com/dev/**" allows both.',
      ),
    workDir: z
      .string()
      .regex(/^\/.*/, 'must be an absolute path')
      .default(DEFAULT_WORKDIR)
      .describe('Directory that is synced, unless the workload sets dev.x/workdir.'),
    command: z
      .array(z.string())
      .min(1)
      .optional()
      .describe('Command of the dev container; default: a keep-alive shell that exits on SIGTERM.'),
    shell: z
      .string()
      .regex(SHELL_PATTERN, 'must name one program, e.g. bash or /bin/zsh (no arguments)')
      .optional()
      .describe('Shell that kubectl devx up --sync and kubectl devx exec open in the dev container, unless the workload sets dev.x/shell; default sh (and sh when this one is missing in the container).'),
    stripProbes: z.boolean().default(true).describe('Remove liveness, readiness and startup probes of the dev container.'),
    sidecar: z
      .object({
        image: z.string().min(1).default('syncthing/syncthing:1.27').describe('The syncthing image of devx-sync.'),
        resources: z
          .object({ requests: resourceList.optional(), limits: resourceList.optional() })
          .optional()
          .describe('Resources of the devx-sync container.'),
      })
      .default({ image: 'syncthing/syncthing:1.27' })
      .describe('The syncthing sidecar.'),
    persistence: PersistenceSchema.optional().describe(
      'A PersistentVolumeClaim per workload in dev mode instead of the devx-workdir emptyDir, so synced files, ' +
        'installed dependencies and build caches survive a pod restart. Absent: off (an emptyDir, gone with the pod). ' +
        'The reconciler creates the claim devx-workdir-<kind>-<name> when dev mode starts and deletes it when dev mode ' +
        'ends, unless the workload carries the label dev.x/keep-volume=true. Bare pods keep the emptyDir.',
    ),
    maxDuration: z
      .string()
      .regex(new RegExp(`(${DURATION_PATTERN})|^$`), 'must be a duration such as 8h or 30m')
      .default('')
      .describe('Upper bound for dev.x/ttl, e.g. 8h; empty: no expiry.'),
    maxWorkloads: z.number().int().min(0).default(10).describe('Workloads in dev mode per namespace at once.'),
    kinds: z
      .array(z.enum(WORKLOAD_KINDS))
      .default([...WORKLOAD_KINDS])
      .describe('Workload kinds that may enter dev mode.'),
    modes: z
      .array(z.enum(DEV_MODES))
      .min(1)
      .default([...DEV_MODES])
      .describe(
        'Dev modes a workload may use (its dev.x/mode annotation). replace: the workload\'s own pods go into dev mode ' +
          '(one replica, dev image). duplicate: the workload keeps serving untouched and each developer gets a copy ' +
          '<name>-devx-<user> whose pod is in dev mode and receives no Service traffic (Deployments and StatefulSets).',
      ),
  })
  .strict();

export type DevPolicySpec = z.infer<typeof DevPolicySpecSchema>;

export const DevPolicySchema = z.object({
  apiVersion: z.literal('dev.x/v1alpha1'),
  kind: z.literal('DevPolicy'),
  metadata: z.object({ name: z.string().min(1) }).loose(),
  spec: DevPolicySpecSchema.default(DevPolicySpecSchema.parse({})),
});
export type DevPolicy = z.infer<typeof DevPolicySchema>;

/** A DevPolicy, or every error with its field path. */
export type PolicyParse = Result<DevPolicy, string[]>;

/** Parses a DevPolicy object; on failure returns every error with its field path. */
export function parseDevPolicy(raw: unknown): PolicyParse {
  const r = DevPolicySchema.safeParse(raw);
  if (r.success) return ok(r.data);
  return err(r.error.issues.map((i) => formatIssue(i)));
}
