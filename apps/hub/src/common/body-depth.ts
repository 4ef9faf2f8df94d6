import {
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { ValidationFailed } from './validation.js';

/**
 * Deepest nesting of objects and arrays a request body may have. Kubernetes objects, Helm values
 * and ApplicationSets stay far below it; past it, the hub's recursive code (serialising, schema
 * checks, template conversion) would run out of stack and answer 500.
 */
export const MAX_BODY_DEPTH = 100;

/**
 * Where `value` nests deeper than `max` (the path of the first object or array past it, `a.b[0]`),
 * or undefined. Walks without recursion, so any input is safe to check.
 */
export function tooDeep(value: unknown, max = MAX_BODY_DEPTH): string | undefined {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return path;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i], depth: depth + 1, path: `${path}[${i}]` });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--)
        stack.push({
          v: (v as Record<string, unknown>)[keys[i]],
          depth: depth + 1,
          path: path ? `${path}.${keys[i]}` : keys[i],
        });
    }
  }
  return undefined;
}

/**
 * Whether `value` written as JSON would be larger than `limit` characters, counted while walking
 * and stopped as soon as it is: a parsed YAML document's aliases share what they repeat, and
 * writing it out whole to measure it would build what its size is there to refuse. Strings count
 * their length plus quotes (escapes not counted: a lower bound, close enough for a limit).
 */
export function jsonLargerThan(value: unknown, limit: number): boolean {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') size += v.length + 2;
    else if (typeof v === 'number' || typeof v === 'boolean') size += String(v).length;
    else if (v === null) size += 4;
    else if (Array.isArray(v)) {
      size += 1 + v.length;
      for (const x of v) stack.push(x);
    } else if (typeof v === 'object') {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        size += k.length + 4;
        stack.push(o[k]);
      }
      size += 2;
    }
    if (size > limit) return true;
  }
  return false;
}

/** Throws ValidationFailed (400) naming where `value` nests deeper than MAX_BODY_DEPTH. */
export function checkDepth(value: unknown, what: string): void {
  const at = tooDeep(value);
  if (at !== undefined)
    throw new ValidationFailed(`invalid ${what}`, [
      { field: at, reason: `nested deeper than ${MAX_BODY_DEPTH} levels` },
    ]);
}

/** Refuses a JSON request body nested deeper than MAX_BODY_DEPTH, before anything reads it. */
@Injectable()
export class BodyDepthInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http')
      checkDepth(context.switchToHttp().getRequest<{ body?: unknown }>().body, 'request body');
    return next.handle();
  }
}
