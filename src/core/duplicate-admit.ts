// Duplicate mode at admission (issue 14 §4). A workload labelled dev.x/enabled=true with dev.x/mode=duplicate is not
// changed at all (no template label, no replica change, no probe stripped): admission only keeps devx's record of who
// has a copy, `dev.x/duplicates`, and the reconciler runs one copy `<name>-devx-<user>` per name in it.
//
// Who is in the record comes from the request's user, never from the object: the developer who labels the workload
// gets the first copy; anyone else joins with `kubectl annotate … dev.x/duplicate=join` and leaves with
// `dev.x/duplicate=leave` (or `kubectl devx up --duplicate` / `down`). That annotation is a request, acted on for the
// requester alone and removed from the object by admission, so nobody can add or remove a copy in someone else's name.
// Removing the dev label ends every copy, as leaving dev mode is never denied.
import { DUPLICATE_KINDS, duplicateName, formatDuplicates, modeOf, parseDuplicates } from './duplicate.ts';
import { annotationsOf, setMetaKey } from './kube.ts';
import { ANN_DUPLICATE_REQUEST, ANN_DUPLICATES, ANN_MODE, LABEL_ENABLED, type DevMode, type WorkloadKind } from './names.ts';
import { signRecords } from './records.ts';
import { deny, err, ok, type Decision, type Result } from './result.ts';
import { recordWho, resetRecords, type WorkloadChange } from './workload.ts';
import type { DevPolicySpec } from '../schemas/policy.ts';

/** What a request does to the record of copies. */
export interface DuplicateChange {
  /** Users with a copy before the request (devx's record). */
  before: string[];
  /** Users with a copy after it. */
  after: string[];
  /** The request's own user, when it names one and is not devx itself. */
  user: string | undefined;
  action: 'enter' | 'join' | 'leave' | 'none';
}

/** The mode a workload asks for, or a refusal that says what is allowed. */
export function requestedMode(c: WorkloadChange): Result<DevMode, Decision<never>> {
  const mode = modeOf(annotationsOf(c.object));
  return mode.ok ? mode : err(deny(mode.error, 'bad-annotation'));
}

/** The mode of the dev session the workload is in (devx's records): duplicate when it keeps a record of copies. */
function sessionMode(c: WorkloadChange): DevMode {
  return c.trusted[ANN_DUPLICATES] === undefined ? 'replace' : 'duplicate';
}

function usersIn(text: string | undefined): string[] {
  return parseDuplicates(text) ?? [];
}

const NOT_DUPLICATED: Partial<Record<WorkloadKind, string>> = {
  Job: "a Job's dev mode already runs a copy and leaves the Job as it is",
  CronJob: "a CronJob's dev mode suspends its schedule and runs one dev Job",
  DaemonSet: "a DaemonSet's pods usually hold host ports or host paths that a copy on the same nodes would fight over",
  Pod: 'a bare pod has no template to copy from',
};

function verb(c: WorkloadChange): string {
  return `kubectl annotate ${c.kind.toLowerCase()} ${c.object.metadata?.name ?? ''}`;
}

interface ModeCheck {
  mode: DevMode;
  spec: DevPolicySpec;
  policyName: string;
  entering: boolean;
  joining: boolean;
}

/** The mode is fixed for a dev session: switching would leave one mode's changes behind the other's. */
function modeChangeGate(c: WorkloadChange, o: ModeCheck): Decision<never> | undefined {
  if (o.entering || o.mode === sessionMode(c)) return undefined;
  const name = c.object.metadata?.name ?? '';
  return deny(
    `${c.kind} ${name} is in dev mode in ${sessionMode(c)} mode, and ${ANN_MODE} cannot change during it: remove the label first ` +
      `(kubectl label ${c.kind.toLowerCase()} ${name} ${LABEL_ENABLED}-), then set ${ANN_MODE} and label it again`,
    'mode-change',
  );
}

function modeKindGate(c: WorkloadChange, o: ModeCheck): Decision<never> | undefined {
  if (o.mode !== 'duplicate' || DUPLICATE_KINDS.includes(c.kind)) return undefined;
  const why = NOT_DUPLICATED[c.kind] ?? `not of ${c.kind}s`;
  return deny(`duplicate mode (${ANN_MODE}=duplicate) makes copies of ${DUPLICATE_KINDS.join('s and ')}s, and ${why}: remove ${ANN_MODE} (${verb(c)} ${ANN_MODE}-)`, 'mode-not-supported');
}

/** The policy's modes bind whoever enters dev mode or joins it; sessions already running are left alone. */
function modePolicyGate(c: WorkloadChange, o: ModeCheck): Decision<never> | undefined {
  if (!(o.entering || o.joining) || o.spec.modes.includes(o.mode)) return undefined;
  const what = o.mode === 'replace' ? `work on a copy instead: ${verb(c)} ${ANN_MODE}=duplicate, then label it` : `remove ${ANN_MODE} (${verb(c)} ${ANN_MODE}-) to use replace mode, or ask a cluster admin`;
  return deny(`DevPolicy ${o.policyName} does not allow ${o.mode} mode (modes: ${o.spec.modes.join(', ')}); ${what}`, 'mode-not-allowed');
}

/** dev.x/mode: fixed during a dev session, possible for the kind, allowed by the policy for a newcomer. */
export function modeGate(c: WorkloadChange, o: ModeCheck): Decision<never> | undefined {
  return modeChangeGate(c, o) ?? modeKindGate(c, o) ?? modePolicyGate(c, o);
}

type Action = DuplicateChange['action'];

/** The request annotation: join, leave or none; anything else is refused. */
function actionOf(c: WorkloadChange, mode: DevMode): Result<Action, Decision<never>> {
  const text = annotationsOf(c.object)[ANN_DUPLICATE_REQUEST];
  if (text === undefined) return ok('none');
  if (text !== 'join' && text !== 'leave') return err(deny(`${ANN_DUPLICATE_REQUEST} must be join or leave, not ${JSON.stringify(text)}`, 'bad-annotation'));
  if (mode !== 'duplicate') {
    return err(deny(`${ANN_DUPLICATE_REQUEST}=${text} is about a copy of your own, which only duplicate mode makes (${ANN_MODE}=duplicate); remove ${ANN_DUPLICATE_REQUEST}`, 'bad-annotation'));
  }
  return ok(text);
}

/**
 * The record as this request leaves it. A record set devx signed earlier for this object could be sent again (a
 * signature binds the object, not the moment), so the record this request brings may differ from the stored one by
 * the requester's own name only — else someone could put back a set that adds or drops someone else.
 */
function recordProblem(c: WorkloadChange, user: string | undefined): Decision<never> | undefined {
  if (c.self || c.stored === undefined) return undefined;
  const now = new Set(usersIn(c.trusted[ANN_DUPLICATES]));
  const before = new Set(usersIn(c.stored[ANN_DUPLICATES]));
  const changed = [...now].filter((u) => !before.has(u)).concat([...before].filter((u) => !now.has(u)));
  if (changed.every((u) => u === user)) return undefined;
  return deny(`${ANN_DUPLICATES} lists who has a copy, and only devx changes it, for the requester alone: use ${ANN_DUPLICATE_REQUEST}=join or leave instead`, 'devx-record');
}

function next(before: string[], action: Action, user: string): string[] {
  if (action === 'join') return [...new Set([...before, user])];
  if (action === 'leave') return before.filter((u) => u !== user);
  return before;
}

/** What the request does to the record of copies, or why it is refused. */
export function duplicateChange(c: WorkloadChange, o: { mode: DevMode; entering: boolean }): Result<DuplicateChange, Decision<never>> {
  const asked = actionOf(c, o.mode);
  if (!asked.ok) return asked;
  const user = c.self ? undefined : c.user.username || undefined;
  if (o.entering) return ok({ before: [], after: user && o.mode === 'duplicate' ? [user] : [], user, action: 'enter' });
  const problem = recordProblem(c, user);
  if (problem) return err(problem);
  const before = usersIn(c.trusted[ANN_DUPLICATES]);
  // devx's own request (the reconciler completing dev mode) names nobody: whatever it carries is dropped.
  const action = user === undefined ? 'none' : asked.value;
  return ok({ before, after: user === undefined ? before : next(before, action, user), user, action });
}

/** The copies this request adds to those counted by maxWorkloads, and how many this workload has already. */
export function copiesNeeded(d: DuplicateChange, mode: DevMode): { adding: number; already: number } {
  if (d.action === 'enter') return { adding: mode === 'replace' || d.after.length > 0 ? 1 : 0, already: 0 };
  const adding = d.action === 'join' && !d.before.includes(d.user ?? '') ? 1 : 0;
  return { adding, already: d.before.length };
}

function enterWarning(c: WorkloadChange, mine: string): string {
  const name = c.object.metadata?.name ?? '';
  const copy = mine
    ? `your copy ${mine} runs the dev pod; it gets no Service traffic (reach it with kubectl port-forward deploy/${mine} or kubectl devx sync ${name})`
    : `nobody has a copy yet: each developer gets one with ${verb(c)} ${ANN_DUPLICATE_REQUEST}=join`;
  return `dev mode on in duplicate mode: ${c.kind} ${name} keeps serving unchanged; ${copy}`;
}

function warningsFor(c: WorkloadChange, d: DuplicateChange): string[] {
  const user = d.user ?? '';
  const mine = duplicateName(c.object.metadata?.name ?? '', user);
  const had = d.before.includes(user);
  const said: Record<Action, string | undefined> = {
    enter: enterWarning(c, d.user === undefined ? '' : mine),
    join: had ? `duplicate mode: you already have a copy, ${mine}` : `duplicate mode: your copy ${mine} is created`,
    leave: had ? `duplicate mode: your copy ${mine} is deleted` : `duplicate mode: you have no copy of ${c.kind} ${c.object.metadata?.name ?? ''}`,
    none: undefined,
  };
  const line = said[d.action];
  return line === undefined ? [] : [line];
}

/** The workload in duplicate mode: unchanged but for devx's records (the record of copies among them), signed. */
export function enterDuplicateMode(c: WorkloadChange, d: DuplicateChange): Decision {
  const obj = structuredClone(c.object);
  resetRecords(obj, c.trusted);
  recordWho(obj, c);
  obj.metadata ??= {};
  setMetaKey(obj.metadata, 'annotations', ANN_DUPLICATES, formatDuplicates(d.after));
  setMetaKey(obj.metadata, 'annotations', ANN_DUPLICATE_REQUEST, undefined);
  signRecords(obj, { signer: c.signer, namespace: c.namespace });
  return { kind: 'mutate', object: obj, warnings: warningsFor(c, d), reason: d.action === 'enter' ? 'dev mode on (duplicate)' : `dev mode kept (duplicate${d.action === 'none' ? '' : `, ${d.action}`})` };
}
