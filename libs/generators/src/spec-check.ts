import { z } from 'zod';
import { joinPath, type SpecIssue } from './errors.js';

/**
 * Field-level checking on top of zod: schemas are written with `z.looseObject` so that unknown
 * keys survive parsing; {@link checkFields} then walks schema and value side by side and reports
 * every key the schema does not know (or marks as unsupported) with its full path, so that nothing
 * Argo users write is silently dropped. {@link stripFields} removes those keys afterwards.
 */

export interface FieldReport {
  errors: SpecIssue[];
  warnings: SpecIssue[];
}

interface Marker {
  /** `ignore`: accepted and stripped without a report (e.g. server-managed metadata). */
  severity: 'warning' | 'error' | 'ignore';
  message: string;
}

const markers = new WeakMap<object, Marker>();
const strictKeys = new WeakMap<object, (key: string) => Marker>();

/**
 * A field Argo CD knows but Axle does not implement. Any value is accepted by the schema; the walk
 * reports it (warning: ignored; error: the spec cannot be executed) and strips it.
 */
export function unsupportedField(
  message = 'not supported by Axle (ignored)',
  severity: 'warning' | 'error' | 'ignore' = 'warning',
): z.ZodOptional<z.ZodUnknown> {
  const s = z.unknown().optional();
  markers.set(s, { severity, message });
  return s;
}

/** Marks an object schema whose unknown keys are reported with the given severity/message. */
export function withUnknownKeys<T extends z.ZodType>(
  schema: T,
  onUnknown: (key: string) => Marker,
): T {
  strictKeys.set(schema, onUnknown);
  return schema;
}

type AnyZod = z.ZodType;

function unwrap(schema: AnyZod): { schema: AnyZod; marker?: Marker } {
  let s: AnyZod = schema;
  for (let i = 0; i < 32; i++) {
    const m = markers.get(s);
    if (m) return { schema: s, marker: m };
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as AnyZod;
    else if (s instanceof z.ZodDefault) s = s.unwrap() as AnyZod;
    else if (s instanceof z.ZodLazy) s = s.unwrap() as AnyZod;
    else if (s instanceof z.ZodPipe) s = s.in as AnyZod;
    else break;
  }
  return { schema: s };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pickUnionOption(schema: z.ZodUnion, value: unknown): AnyZod | undefined {
  for (const opt of schema.options as readonly AnyZod[])
    if (opt.safeParse(value).success) return opt;
  return undefined;
}

function push(report: FieldReport, m: Marker, path: string): void {
  if (m.severity === 'ignore') return;
  (m.severity === 'error' ? report.errors : report.warnings).push({ path, message: m.message });
}

/** Reports unknown and unsupported fields of `value` (already known to parse) under `path`. */
export function checkFields(
  schema: AnyZod,
  value: unknown,
  path: string,
  report: FieldReport,
): void {
  if (value === undefined) return;
  const { schema: s, marker } = unwrap(schema);
  if (marker) {
    push(report, marker, path);
    return;
  }
  if (s instanceof z.ZodObject) {
    if (!isPlainObject(value)) return;
    const shape = s.shape as Record<string, AnyZod>;
    const onUnknown = strictKeys.get(s);
    for (const [key, v] of Object.entries(value)) {
      const child = shape[key];
      const p = joinPath(path, key);
      if (!child) {
        const m = onUnknown
          ? onUnknown(key)
          : // A field nobody knows is most likely a typo (`matchLables` would otherwise widen a
            // selector to every cluster): refuse it. Argo CD fields Axle does not support are
            // declared explicitly and come back as warnings.
            { severity: 'error' as const, message: 'unknown field' };
        push(report, m, p);
        continue;
      }
      checkFields(child, v, p, report);
    }
  } else if (s instanceof z.ZodArray) {
    if (Array.isArray(value))
      value.forEach((v, i) => checkFields(s.element as AnyZod, v, joinPath(path, i), report));
  } else if (s instanceof z.ZodRecord) {
    if (isPlainObject(value))
      for (const [k, v] of Object.entries(value))
        checkFields(s.valueType as AnyZod, v, joinPath(path, k), report);
  } else if (s instanceof z.ZodUnion) {
    const opt = pickUnionOption(s, value);
    if (opt) checkFields(opt, value, path, report);
  }
}

/** A copy of `value` without the fields {@link checkFields} reports (unknown or unsupported). */
export function stripFields(schema: AnyZod, value: unknown): unknown {
  if (value === undefined) return undefined;
  const { schema: s, marker } = unwrap(schema);
  if (marker) return undefined;
  if (s instanceof z.ZodObject) {
    if (!isPlainObject(value)) return value;
    const shape = s.shape as Record<string, AnyZod>;
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const child = shape[key];
      if (!child) continue;
      const stripped = stripFields(child, v);
      if (stripped !== undefined) out[key] = stripped;
    }
    return out;
  }
  if (s instanceof z.ZodArray)
    return Array.isArray(value) ? value.map((v) => stripFields(s.element as AnyZod, v)) : value;
  if (s instanceof z.ZodRecord) {
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = stripFields(s.valueType as AnyZod, v);
    return out;
  }
  if (s instanceof z.ZodUnion) {
    const opt = pickUnionOption(s, value);
    return opt ? stripFields(opt, value) : value;
  }
  return value;
}

function describeReceived(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'list';
  if (typeof input === 'object') return 'object';
  return typeof input;
}

/** Converts zod issues into `{path, message}` pairs under `base`. */
export function zodIssues(error: z.ZodError, base: string): SpecIssue[] {
  const out: SpecIssue[] = [];
  for (const issue of error.issues) {
    let path = base;
    for (const seg of issue.path)
      path = joinPath(path, typeof seg === 'number' ? seg : String(seg));
    let message = issue.message;
    if (issue.code === 'invalid_type') {
      const input = (issue as { input?: unknown }).input;
      message =
        input === undefined
          ? `required field is missing (expected ${issue.expected})`
          : `expected ${issue.expected}, got ${describeReceived(input)}`;
    }
    out.push({ path: path || '(root)', message });
  }
  return out;
}

/** Parses with zod and walks the fields; the value is returned only when there are no errors. */
export function validateSpec<T>(
  schema: AnyZod,
  value: unknown,
  path: string,
): { value?: T; errors: SpecIssue[]; warnings: SpecIssue[] } {
  const report: FieldReport = { errors: [], warnings: [] };
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) report.errors.push(...zodIssues(parsed.error, path));
  checkFields(schema, value, path, report);
  if (report.errors.length > 0) return report;
  return { ...report, value: stripFields(schema, value) as T };
}
