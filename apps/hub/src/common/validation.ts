import { z } from 'zod';
import { MAX_SELECTOR_TEXT, parseSelector } from '../../../../libs/generators/src/index.js';

/** One invalid field: its dotted path and why. */
export interface FieldError {
  field: string;
  reason: string;
}

/** At most this many field errors are reported; a final entry says how many more there were. */
export const MAX_FIELD_ERRORS = 50;
/** Field names (unknown keys are the client's) are reported up to this many characters. */
const MAX_FIELD_CHARS = 200;
const MORE_FIELD = '…';
const MORE_REASON = /^…and (\d+) more$/;

/** The final entry of a capped list, `…and N more`. */
function moreEntry(n: number): FieldError {
  return { field: MORE_FIELD, reason: `…and ${n} more` };
}

/** How many errors `f` stands for: N when it is a capped list's final `…and N more`, else 1. */
export function countOf(f: FieldError): number {
  const m = MORE_REASON.exec(f.reason);
  return m && f.field.endsWith(MORE_FIELD) ? Number(m[1]) : 1;
}

/**
 * At most MAX_FIELD_ERRORS errors, then one `…and N more`: a request with many bad or unknown
 * fields gets an answer of bounded size (each of them listed made it many times the request).
 */
export function capFieldErrors(fields: FieldError[]): FieldError[] {
  const last = fields.at(-1);
  if (
    fields.length <= MAX_FIELD_ERRORS ||
    (fields.length === MAX_FIELD_ERRORS + 1 && last && countOf(last) > 1)
  )
    return fields.map(shortField);
  let more = 0;
  for (const f of fields.slice(MAX_FIELD_ERRORS)) more += countOf(f);
  return [...fields.slice(0, MAX_FIELD_ERRORS).map(shortField), moreEntry(more)];
}

function shortField(f: FieldError): FieldError {
  return f.field.length > MAX_FIELD_CHARS
    ? { ...f, field: `${f.field.slice(0, MAX_FIELD_CHARS)}…` }
    : f;
}

/** A client error that names the offending fields; the exception filter maps it to 400. */
export class ValidationFailed extends Error {
  /** The fields, at most MAX_FIELD_ERRORS of them and then `…and N more`. */
  readonly fields: FieldError[];
  /** The message without its fields. */
  readonly summary: string;

  constructor(message: string, fields: FieldError[]) {
    const capped = capFieldErrors(fields);
    super(`${message}: ${capped.map((f) => `${f.field || '(body)'}: ${f.reason}`).join('; ')}`);
    this.fields = capped;
    this.summary = message;
  }
}

export class NotFound extends Error {}
export class Conflict extends Error {}

function fieldPath(path: PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

/**
 * The issues of `err` as field errors, capped as capFieldErrors does (what is past the cap is
 * counted, not built: a body may hold a million unknown keys).
 */
export function zodFieldErrors(err: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  let more = 0;
  for (const issue of err.issues) {
    if (issue.code === 'unrecognized_keys') {
      const room = Math.max(0, MAX_FIELD_ERRORS - out.length);
      for (const k of issue.keys.slice(0, room))
        out.push(shortField({ field: fieldPath([...issue.path, k]), reason: 'unknown field' }));
      more += Math.max(0, issue.keys.length - room);
      continue;
    }
    if (out.length >= MAX_FIELD_ERRORS) {
      more++;
      continue;
    }
    // zod reports a missing field as an invalid type whose input was undefined.
    const reason =
      issue.code === 'invalid_type' && /received undefined$/.test(issue.message)
        ? 'is required'
        : issue.message;
    out.push(shortField({ field: fieldPath(issue.path), reason }));
  }
  return more ? [...out, moreEntry(more)] : out;
}

/** Parses `input` with `schema` or throws ValidationFailed naming every bad field. */
export function parseOrThrow<T extends z.ZodType>(
  schema: T,
  input: unknown,
  what: string,
): z.output<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw new ValidationFailed(`invalid ${what}`, zodFieldErrors(r.error));
  return r.data;
}

/** PostgreSQL's largest bigint, the largest id of a bigserial column. */
const PG_BIGINT_MAX = 9223372036854775807n;

/**
 * An id of a bigserial column (audit events, deliveries) as text: digits, at most PostgreSQL's
 * largest bigint (beyond, PostgreSQL refuses it with an error that names no field).
 */
export const bigserialId = (what: string) =>
  z
    .string()
    .regex(/^\d+$/, `must be ${what}`)
    .refine((s) => !/^\d+$/.test(s) || (s.length <= 30 && BigInt(s) <= PG_BIGINT_MAX), {
      message: `must be ${what} of at most ${PG_BIGINT_MAX}`,
    });

/** DNS-1123 label: what Kubernetes accepts for namespaces and what Axle accepts for cluster names. */
export const dns1123Label = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/,
    'must be a DNS-1123 label: lower-case letters, digits and "-", starting and ending with a letter or digit',
  );

/** DNS-1123 subdomain (application names, like Argo CD's). */
export const dns1123Subdomain = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .regex(
    /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/,
    'must be a DNS-1123 subdomain: lower-case letters, digits, "-" and ".", starting and ending with a letter or digit',
  );

const labelKey = z
  .string()
  .max(317, 'label key too long')
  .regex(
    /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'must be a Kubernetes label key ([prefix/]name)',
  );
const labelValue = z
  .string()
  .max(63, 'label value must be at most 63 characters')
  .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, 'must be a Kubernetes label value');

export const labelMap = z.record(labelKey, labelValue);

/**
 * A label selector query parameter, in Kubernetes syntax (`env=prod,tier!=db,region in
 * (eu-west,eu-central),team,!legacy`), as its requirements.
 */
export const labelSelectorParam = z
  .string()
  .max(MAX_SELECTOR_TEXT)
  .transform((text, ctx) => {
    try {
      return parseSelector(text).matchExpressions;
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });
export const annotationMap = z.record(z.string().max(317), z.string().max(64 * 1024));
