/** Go regexp (RE2 syntax) on top of JS RegExp, with Go's match iteration and replacement rules. */
import { fail } from '../go/funcs.js';

const posixClasses: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-/:-@[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

export interface GoRegexp {
  re: RegExp; // global + unicode
  names: (string | undefined)[]; // group index → name
  numGroups: number;
}

const cache = new Map<string, GoRegexp>();

/** regexp.Compile; throws Error with a Go-like message. */
export function compileRegexp(expr: string): GoRegexp {
  let r = cache.get(expr);
  if (r) return r;
  r = translate(expr);
  if (cache.size > 500) cache.clear();
  cache.set(expr, r);
  return r;
}

// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
function translate(expr: string): GoRegexp {
  let flags = 'gu';
  let src = expr;
  // leading flag group (?flags)
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]) {
      if (f === 'U')
        throw new Error(`error parsing regexp: invalid or unsupported Perl syntax: \`(?U\``);
      if (!flags.includes(f)) flags += f;
    }
    src = src.slice(lead[0].length);
  }
  let out = '';
  const names: (string | undefined)[] = [undefined];
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      const n = src[i + 1];
      if (n === undefined)
        throw new Error('error parsing regexp: trailing backslash at end of expression: ``');
      if (n === 'A' && !inClass) {
        out += '(?<![\\s\\S])';
        i++;
        continue;
      }
      if (n === 'z' && !inClass) {
        out += '(?![\\s\\S])';
        i++;
        continue;
      }
      if (n === 'Q') {
        const end = src.indexOf('\\E', i + 2);
        const lit = end < 0 ? src.slice(i + 2) : src.slice(i + 2, end);
        out += lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
        i = end < 0 ? src.length : end + 1;
        continue;
      }
      if (n === 'p' || n === 'P') {
        if (src[i + 2] === '{') {
          const end = src.indexOf('}', i + 3);
          const name = src.slice(i + 3, end);
          out += `\\${n}{${unicodeProp(name)}}`;
          i = end;
        } else {
          out += `\\${n}{${src[i + 2]}}`;
          i += 2;
        }
        continue;
      }
      out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === '[' && src[i + 1] === ':') {
        const end = src.indexOf(':]', i + 2);
        if (end > 0) {
          let name = src.slice(i + 2, end);
          const neg = name.startsWith('^');
          if (neg) name = name.slice(1);
          const cls = posixClasses[name];
          if (!cls)
            throw new Error(`error parsing regexp: invalid character class range: \`[:${name}:]\``);
          if (neg) throw new Error('error parsing regexp: negated POSIX classes are not supported');
          out += cls;
          i = end + 1;
          continue;
        }
      }
      if (c === ']') inClass = false;
      if (c === '[') {
        out += '\\[';
        continue;
      }
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (src[i + 1] === '^') {
        out += '^';
        i++;
      }
      if (src[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(') {
      if (src[i + 1] === '?') {
        const m = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(src.slice(i));
        if (m) {
          names.push(m[1]);
          out += `(?<${m[1]}>`;
          i += m[0].length - 1;
          continue;
        }
        if (src[i + 2] === ':') {
          out += '(?:';
          i += 2;
          continue;
        }
        throw new Error(
          `error parsing regexp: invalid or unsupported Perl syntax: \`${src.slice(i, i + 3)}\``,
        );
      }
      names.push(undefined);
      out += c;
      continue;
    }
    out += c;
  }
  if (inClass)
    throw new Error(
      `error parsing regexp: missing closing ]: \`${src.slice(src.lastIndexOf('['))}\``,
    );
  try {
    return { re: new RegExp(out, flags), names, numGroups: names.length - 1 };
  } catch (e) {
    throw new Error(`error parsing regexp: ${goReason(e, expr)}`, { cause: e });
  }
}

function goReason(e: unknown, expr: string): string {
  const msg = e instanceof Error ? e.message : String(e);
  if (/Unterminated group/i.test(msg)) return `missing closing ): \`${expr}\``;
  if (/Unmatched '\)'/i.test(msg)) return `unexpected ): \`${expr}\``;
  if (/Nothing to repeat/i.test(msg)) {
    const m = /[*+?]/.exec(expr);
    return `missing argument to repetition operator: \`${m ? m[0] : expr}\``;
  }
  return msg.replace(/^Invalid regular expression: /, '');
}

function unicodeProp(name: string): string {
  if (/^[A-Z][a-z]?$/.test(name)) return name;
  if (name === 'Any') return 'Any';
  return `Script=${name}`;
}

/** Go's allMatches: successive non-overlapping matches; empty matches abutting a match are skipped. */
export function findAll(r: GoRegexp, s: string, n: number): RegExpExecArray[] {
  const out: RegExpExecArray[] = [];
  if (n < 0) n = s.length + 1;
  const re = r.re;
  let pos = 0;
  let prevMatchEnd = -1;
  while (out.length < n && pos <= s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) break;
    const start = m.index;
    const end = start + m[0].length;
    let accept = true;
    if (end === start) {
      if (start === prevMatchEnd) accept = false;
      const cp = s.codePointAt(start);
      pos = start + (cp !== undefined && cp > 0xffff ? 2 : 1);
      if (start >= s.length) pos = s.length + 1;
    } else pos = end;
    prevMatchEnd = end;
    if (accept) out.push(m);
  }
  return out;
}

/** Regexp.Expand template: $1, ${1}, $name, ${name}, $$ */
function expand(template: string, r: GoRegexp, m: RegExpExecArray): string {
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
    let end: number;
    if (template[i + 1] === '{') {
      const close = template.indexOf('}', i + 2);
      const inner = close < 0 ? '' : template.slice(i + 2, close);
      if (close < 0 || !/^[A-Za-z0-9_]+$/.test(inner)) {
        out += c;
        continue;
      }
      name = inner;
      end = close;
    } else {
      const mm = /^[A-Za-z0-9_]+/.exec(template.slice(i + 1));
      if (!mm) {
        out += c;
        continue;
      }
      name = mm[0];
      end = i + mm[0].length;
    }
    i = end;
    if (/^\d+$/.test(name)) {
      const idx = Number(name);
      if (idx <= r.numGroups) out += m[idx] ?? '';
    } else {
      const idx = r.names.indexOf(name);
      if (idx > 0) out += m[idx] ?? '';
    }
  }
  return out;
}

export function replaceAll(r: GoRegexp, s: string, repl: string, literal: boolean): string {
  let out = '';
  let last = 0;
  for (const m of findAll(r, s, -1)) {
    out += s.slice(last, m.index);
    out += literal ? repl : expand(repl, r, m);
    last = m.index + m[0].length;
  }
  return out + s.slice(last);
}

export function split(r: GoRegexp, expr: string, s: string, n: number): string[] | null {
  if (n === 0) return null;
  if (expr.length > 0 && s.length === 0) return [''];
  const matches = findAll(r, s, n);
  const out: string[] = [];
  let beg = 0;
  let end = 0;
  for (const m of matches) {
    if (n > 0 && out.length === n - 1) break;
    end = m.index;
    if (m.index + m[0].length !== 0) out.push(s.slice(beg, end));
    beg = m.index + m[0].length;
  }
  if (end !== s.length) out.push(s.slice(beg));
  return out;
}

export function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

export function mustCompile(expr: string): GoRegexp {
  try {
    return compileRegexp(expr);
  } catch (e) {
    fail(`regexp: Compile(${JSON.stringify(expr)}): ${(e as Error).message}`);
  }
}
