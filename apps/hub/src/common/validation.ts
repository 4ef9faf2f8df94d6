import { z } from 'zod';

/** One invalid field: its dotted path and why. */
export interface FieldError {
  field: string;
  reason: string;
}

/** A client error that names the offending fields; the exception filter maps it to 400. */
export class ValidationFailed extends Error {
  constructor(
    message: string,
    readonly fields: FieldError[],
  ) {
    super(`${message}: ${fields.map((f) => `${f.field || '(body)'}: ${f.reason}`).join('; ')}`);
  }
}

export class NotFound extends Error {}
export class Conflict extends Error {}

function fieldPath(path: PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

export function zodFieldErrors(err: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of err.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        out.push({ field: fieldPath([...issue.path, k]), reason: 'unknown field' });
      }
      continue;
    }
    // zod reports a missing field as an invalid type whose input was undefined.
    const reason =
      issue.code === 'invalid_type' && /received undefined$/.test(issue.message)
        ? 'is required'
        : issue.message;
    out.push({ field: fieldPath(issue.path), reason });
  }
  return out;
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
export const annotationMap = z.record(z.string().max(317), z.string().max(64 * 1024));
