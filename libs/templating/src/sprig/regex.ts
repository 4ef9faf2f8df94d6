/**
 * Go regexp for sprig's regex functions, on re2js (a JS port of RE2): exact RE2 syntax and semantics
 * (leftmost-first matching, Go's rules for empty matches) and linear-time matching, so a template
 * cannot hang the process with a catastrophic pattern.
 */
import { RE2JS } from 're2js';
import { fail } from '../go/funcs.js';
import { canBackquote, quote } from '../go/strconv.js';

type RE2 = ReturnType<RE2JS['re2']>;

export interface GoRegexp {
  re2: RE2;
  names: Map<string, number>; // named group → index
  numGroups: number;
}

const cache = new Map<string, GoRegexp>();

/** regexp.Compile; throws an Error with Go's message ("error parsing regexp: ..."). */
export function compileRegexp(expr: string): GoRegexp {
  let r = cache.get(expr);
  if (r) return r;
  let p: RE2JS;
  try {
    p = RE2JS.compile(expr);
  } catch (e) {
    throw new Error(e instanceof Error ? e.message : String(e), { cause: e });
  }
  const names = new Map(Object.entries(p.namedGroups()));
  r = { re2: p.re2(), names, numGroups: p.groupCount() };
  if (cache.size > 500) cache.clear();
  cache.set(expr, r);
  return r;
}

/** Go's FindAll*Index: successive non-overlapping matches; empty matches abutting a match are skipped. */
export function findAll(r: GoRegexp, s: string, n: number): number[][] {
  return (r.re2.findAllSubmatchIndex(s, n) as number[][] | null) ?? [];
}

export function matches(r: GoRegexp, s: string): boolean {
  return r.re2.match(s);
}

/** Regexp.Expand template: $1, ${1}, $name, ${name}, $$ */
function expand(template: string, r: GoRegexp, s: string, m: number[]): string {
  const group = (idx: number): string =>
    idx >= 0 && m[2 * idx] >= 0 ? s.slice(m[2 * idx], m[2 * idx + 1]) : '';
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c !== '$' || i + 1 >= template.length) {
      out += c;
      continue;
    }
    if (template[i + 1] === '$') {
      out += '$';
      i++;
      continue;
    }
    let name: string;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close < 0 || !/^[A-Za-z0-9_]+$/.test(inner)) {
        out += c;
        continue;
      }
      name = inner;
      i = close;
    } else {
      const mm = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (!mm) {
        out += c;
        continue;
      }
      name = mm[0];
      i += mm[0].length;
    }
    if (/^\d+$/.test(name)) {
      const idx = Number(name);
      if (idx <= r.numGroups) out += group(idx);
    } else {
      out += group(r.names.get(name) ?? -1);
    }
  }
  return out;
}

export function replaceAll(r: GoRegexp, s: string, repl: string, literal: boolean): string {
  let out = '';
  let last = 0;
  for (const m of findAll(r, s, -1)) {
    out += s.slice(last, m[0]);
    out += literal ? repl : expand(repl, r, s, m);
    last = m[1];
  }
  return out + s.slice(last);
}

/** Regexp.Split */
export function split(r: GoRegexp, expr: string, s: string, n: number): string[] | null {
  if (n === 0) return null;
  if (expr.length > 0 && s.length === 0) return [''];
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of findAll(r, s, n)) {
    if (n > 0 && out.length === n - 1) break;
    end = m[0];
    if (m[1] !== 0) out.push(s.slice(beg, end));
    beg = m[1];
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

/** regexp.QuoteMeta */
export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** regexp.MustCompile's panic message. */
export function mustCompile(expr: string): GoRegexp {
  try {
    return compileRegexp(expr);
  } catch (e) {
    const q = canBackquote(expr) ? '`' + expr + '`' : quote(expr);
    fail(`regexp: Compile(${q}): ${(e as Error).message}`);
  }
}
