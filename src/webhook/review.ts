// From a parsed HTTP body to an AdmissionReview answer: decode with zod, call the core, diff, encode. No HTTP here,
// so the same function serves the fastify routes, the benchmarks and the fuzzer.
import { admit, type Route } from '../core/admit.ts';
import type { AdmissionContext } from '../core/context.ts';
import type { Decision } from '../core/result.ts';
import {
  ADMISSION_API_VERSION,
  AdmissionEnvelopeSchema,
  AdmissionRequestSchema,
  type AdmissionRequest,
  type AdmissionResponse,
} from '../schemas/admission.ts';
import { formatIssues } from '../schemas/issues.ts';
import { objectSchemaFor } from '../schemas/objects.ts';
import jsonpatch from 'fast-json-patch';

export interface ReviewOutcome {
  /** HTTP status: 200 with an AdmissionReview, or 400 with `{message}` when the body is not one. */
  statusCode: 200 | 400;
  body: unknown;
  /** For the decision log line and the metrics. */
  log: { uid?: string; namespace?: string; name?: string; kind?: string; operation?: string; result: string; reason: string };
}

function badRequest(message: string): ReviewOutcome {
  return { statusCode: 400, body: { message }, log: { result: 'invalid', reason: message } };
}

function zodMessage(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return formatIssues(issues);
}

function patchOf(req: AdmissionRequest, decision: Decision): string | undefined {
  if (decision.kind !== 'mutate' || !req.object) return undefined;
  // The diff of the original against the mutated copy (never a hand-written patch), as DESIGN §4 says.
  const ops = jsonpatch.compare(req.object, decision.object as object);
  return ops.length > 0 ? Buffer.from(JSON.stringify(ops)).toString('base64') : undefined;
}

function responseOf(req: AdmissionRequest, decision: Decision): AdmissionResponse {
  if (decision.kind === 'deny') {
    return { uid: req.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: `devx: ${decision.message}` } };
  }
  const response: AdmissionResponse = { uid: req.uid, allowed: true };
  const patch = patchOf(req, decision);
  if (patch) {
    response.patchType = 'JSONPatch';
    response.patch = patch;
  }
  if (decision.kind === 'mutate' && decision.warnings.length > 0) response.warnings = decision.warnings;
  return response;
}

function resultOf(decision: Decision, patched: boolean): string {
  if (decision.kind === 'mutate') return patched ? 'mutate' : 'allow';
  return decision.kind;
}

function decide(route: Route, req: AdmissionRequest, ctx: AdmissionContext): Decision {
  try {
    return admit(route, req, ctx);
  } catch (err) {
    // The core returns values; an exception is a devx bug. Fail closed for this review only, with a reason.
    return { kind: 'deny', message: `internal error in devx, please report it: ${(err as Error).message}`, reason: 'internal-error' };
  }
}

type Parsed = { req: AdmissionRequest; apiVersion: string; kind: string | undefined } | ReviewOutcome;

function parseReview(body: unknown): Parsed {
  const envelope = AdmissionEnvelopeSchema.safeParse(body);
  if (!envelope.success) return badRequest(`not an AdmissionReview: ${zodMessage(envelope.error.issues)}`);
  const parsed = AdmissionRequestSchema.safeParse(envelope.data.request);
  if (!parsed.success) return badRequest(`invalid AdmissionReview request: ${zodMessage(parsed.error.issues)}`);
  const shapeError = objectShapeError(parsed.data);
  if (shapeError) return badRequest(shapeError);
  return { req: parsed.data, apiVersion: envelope.data.apiVersion ?? ADMISSION_API_VERSION, kind: envelope.data.kind };
}

/** Objects of the kinds devx reads must have the shape the core relies on. */
function objectShapeError(req: AdmissionRequest): string | undefined {
  const schema = objectSchemaFor(req.kind.kind, req.subResource);
  if (!schema) return undefined;
  for (const field of ['object', 'oldObject'] as const) {
    const value = req[field];
    if (value === undefined || value === null) continue;
    const r = schema.safeParse(value);
    if (!r.success) return `invalid ${req.kind.kind} in request.${field}: ${zodMessage(r.error.issues)}`;
  }
  return undefined;
}

/** Answers one AdmissionReview body (already JSON-parsed). Never throws for any input. */
export function answerReview(route: Route, body: unknown, ctx: AdmissionContext): ReviewOutcome {
  const parsed = parseReview(body);
  if ('statusCode' in parsed) return parsed;
  const { req, apiVersion } = parsed;
  const where = { uid: req.uid, namespace: req.namespace, name: req.name, kind: req.kind.kind, operation: req.operation };
  if (apiVersion !== ADMISSION_API_VERSION || parsed.kind !== 'AdmissionReview') {
    const reason = `unsupported ${apiVersion}/${parsed.kind ?? '?'}; allowed unchanged (devx speaks ${ADMISSION_API_VERSION})`;
    return { statusCode: 200, body: { apiVersion, kind: 'AdmissionReview', response: { uid: req.uid, allowed: true } }, log: { ...where, result: 'skip', reason } };
  }
  const decision = decide(route, req, ctx);
  const response = responseOf(req, decision);
  return {
    statusCode: 200,
    body: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response },
    log: { ...where, result: resultOf(decision, response.patch !== undefined), reason: decision.kind === 'deny' ? decision.message : decision.reason },
  };
}
