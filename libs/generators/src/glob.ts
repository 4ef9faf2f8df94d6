import { RE2JS } from 're2js';

/**
 * Path matching exactly as Argo CD does it:
 *
 * - git directory generator: Go's `path.Match` (`*` and `?` never cross `/`, `[...]`/`[^...]`
 *   classes, `\` escapes; `**` is just two `*`, no recursive meaning; a malformed pattern matches
 *   nothing, Argo only logs it).
 * - git files generator, default ("old") globbing: `git ls-files -- <pattern>` pathspec semantics,
 *   where `*` and `?` also match `/` (so `a/*.yaml` finds YAML files at any depth below `a/`) and a
 *   wildcard-free pattern also matches everything below a directory of that name.
 * - git files generator with Argo's `--enable-new-git-file-globbing`: doublestar semantics, where `*`
 *   stays inside one path segment and a `**` segment matches any number of segments.
 */

export class BadPatternError extends Error {
  constructor(pattern: string) {
    super(`syntax error in pattern ${JSON.stringify(pattern)}`);
    this.name = 'BadPatternError';
  }
}

// ---------------------------------------------------------------------------------------------
// Go path.Match (port of src/path/match.go), operating on code points.

type Cps = number[];
const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const STAR = 0x2a;
const QMARK = 0x3f;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;

function cps(s: string): Cps {
  const out: number[] = [];
  for (const ch of s) out.push(ch.codePointAt(0)!);
  return out;
}

function scanChunk(p: Cps, from: number): { star: boolean; chunkEnd: number; chunkStart: number } {
  let i = from;
  let star = false;
  while (i < p.length && p[i] === STAR) {
    i++;
    star = true;
  }
  const chunkStart = i;
  let inrange = false;
  for (; i < p.length; i++) {
    const c = p[i];
    if (c === BACKSLASH) {
      if (i + 1 < p.length) i++;
    } else if (c === LBRACK) inrange = true;
    else if (c === RBRACK) inrange = false;
    else if (c === STAR && !inrange) break;
  }
  return { star, chunkStart, chunkEnd: i };
}

function getEsc(chunk: Cps, i: number, end: number, pattern: string): [number, number] {
  if (i >= end || chunk[i] === DASH || chunk[i] === RBRACK) throw new BadPatternError(pattern);
  if (chunk[i] === BACKSLASH) {
    i++;
    if (i >= end) throw new BadPatternError(pattern);
  }
  const r = chunk[i];
  i++;
  if (i >= end) throw new BadPatternError(pattern);
  return [r, i];
}

/** Returns the index in `s` after the chunk matched at `si`, or -1. Throws on a bad pattern. */
function matchChunk(p: Cps, cs: number, ce: number, s: Cps, si: number, pattern: string): number {
  let failed = false;
  let i = cs;
  while (i < ce) {
    if (!failed && si >= s.length) failed = true;
    const c = p[i];
    if (c === LBRACK) {
      let r = -1;
      if (!failed) r = s[si++]!;
      i++;
      let negated = false;
      if (i < ce && p[i] === CARET) {
        negated = true;
        i++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (i < ce && p[i] === RBRACK && nrange > 0) {
          i++;
          break;
        }
        let lo: number;
        let hi: number;
        [lo, i] = getEsc(p, i, ce, pattern);
        hi = lo;
        if (p[i] === DASH) [hi, i] = getEsc(p, i + 1, ce, pattern);
        if (lo <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (c === QMARK) {
      if (!failed) {
        if (s[si] === SLASH) failed = true;
        si++;
      }
      i++;
    } else {
      if (c === BACKSLASH) {
        i++;
        if (i >= ce) throw new BadPatternError(pattern);
      }
      if (!failed) {
        if (p[i] !== s[si]) failed = true;
        si++;
      }
      i++;
    }
  }
  return failed ? -1 : si;
}

/** Go `path.Match(pattern, name)`; throws {@link BadPatternError} like Go returns ErrBadPattern. */
export function goPathMatch(pattern: string, name: string): boolean {
  const p = cps(pattern);
  const s = cps(name);
  let pi = 0;
  let si = 0;
  outer: while (pi < p.length) {
    const { star, chunkStart, chunkEnd } = scanChunk(p, pi);
    pi = chunkEnd;
    if (star && chunkStart === chunkEnd) {
      for (let k = si; k < s.length; k++) if (s[k] === SLASH) return false;
      return true;
    }
    const t = matchChunk(p, chunkStart, chunkEnd, s, si, pattern);
    if (t >= 0 && (t === s.length || pi < p.length)) {
      si = t;
      continue;
    }
    if (star) {
      for (let k = si; k < s.length && s[k] !== SLASH; k++) {
        const t2 = matchChunk(p, chunkStart, chunkEnd, s, k + 1, pattern);
        if (t2 >= 0) {
          if (pi === p.length && t2 < s.length) continue;
          si = t2;
          continue outer;
        }
      }
    }
    // Check the rest of the pattern is well formed before answering "no".
    while (pi < p.length) {
      const next = scanChunk(p, pi);
      pi = next.chunkEnd;
      matchChunk(p, next.chunkStart, next.chunkEnd, [], 0, pattern);
    }
    return false;
  }
  return si === s.length;
}

// ---------------------------------------------------------------------------------------------
// git wildmatch without WM_PATHNAME (what `git ls-files -- <pathspec>` uses by default).

const CLASS_NAMES: Record<string, (c: string) => boolean> = {
  alnum: (c) => /[A-Za-z0-9]/.test(c),
  alpha: (c) => /[A-Za-z]/.test(c),
  blank: (c) => c === ' ' || c === '\t',
  cntrl: (c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127,
  digit: (c) => /[0-9]/.test(c),
  graph: (c) => c.charCodeAt(0) > 32 && c.charCodeAt(0) < 127,
  lower: (c) => /[a-z]/.test(c),
  print: (c) => c.charCodeAt(0) >= 32 && c.charCodeAt(0) < 127,
  punct: (c) => /[!-/:-@[-`{-~]/.test(c),
  space: (c) => /\s/.test(c),
  upper: (c) => /[A-Z]/.test(c),
  xdigit: (c) => /[0-9A-Fa-f]/.test(c),
};

/** Matches one `[...]` class at p[i] (pointing at '['); returns [matched, indexAfterClass] or null if unterminated. */
function matchGitClass(p: string[], i: number, ch: string): [boolean, number] | null {
  let j = i + 1;
  let negated = false;
  if (p[j] === '!' || p[j] === '^') {
    negated = true;
    j++;
  }
  let matched = false;
  let first = true;
  let prev: string | undefined;
  for (; j < p.length; j++) {
    let c = p[j];
    if (c === ']' && !first) return [matched !== negated, j + 1];
    first = false;
    if (c === '\\') {
      j++;
      if (j >= p.length) return null;
      c = p[j]!;
      if (c === ch) matched = true;
      prev = c;
      continue;
    }
    if (c === '-' && prev !== undefined && j + 1 < p.length && p[j + 1] !== ']') {
      let hi = p[++j];
      if (hi === '\\') {
        j++;
        if (j >= p.length) return null;
        hi = p[j]!;
      }
      if (ch >= prev && ch <= hi) matched = true;
      prev = undefined;
      continue;
    }
    if (c === '[' && p[j + 1] === ':') {
      const close = p.indexOf(':', j + 2);
      if (close > 0 && p[close + 1] === ']') {
        const name = p.slice(j + 2, close).join('');
        const test = CLASS_NAMES[name];
        if (!test) return null;
        if (test(ch)) matched = true;
        j = close + 1;
        prev = undefined;
        continue;
      }
    }
    if (c === ch) matched = true;
    prev = c;
  }
  return null;
}

/**
 * git's wildmatch without WM_PATHNAME: `*` matches any run of characters, `/` included. So a later
 * `*` can absorb whatever an earlier one would have matched, and only the last `*` seen needs to
 * be retried at a later start when the rest fails (O(pattern × path), not the (path)^(stars) of
 * trying every split for every `*`).
 */
function wildmatchFrom(p: string[], pi: number, s: string[], si: number): boolean {
  let starP = -1;
  let starS = -1;
  while (si < s.length) {
    if (pi < p.length && p[pi] === '*') {
      while (p[pi] === '*') pi++;
      if (pi === p.length) return true;
      starP = pi;
      starS = si;
      continue;
    }
    const next = pi < p.length ? matchOne(p, pi, s[si]) : -1;
    if (next >= 0) {
      pi = next;
      si++;
      continue;
    }
    if (starP < 0) return false;
    pi = starP;
    si = ++starS;
  }
  while (p[pi] === '*') pi++;
  return pi === p.length;
}

/** Where the pattern goes on after `p[pi]` (not `*`) matched `ch`; -1 when it does not. */
function matchOne(p: string[], pi: number, ch: string): number {
  const c = p[pi];
  if (c === '?') return pi + 1;
  if (c === '[') {
    const r = matchGitClass(p, pi, ch);
    return r !== null && r[0] ? r[1] : -1;
  }
  if (c === '\\') {
    if (pi + 1 >= p.length) return -1;
    return p[pi + 1] === ch ? pi + 2 : -1;
  }
  return c === ch ? pi + 1 : -1;
}

const GIT_WILDCARDS = /[*?[\\]/;

/**
 * Whether `git ls-files -- <pathspec>` lists `file` (default pathspec magic): exact match, match of
 * a leading directory, or a wildmatch in which `*` and `?` cross `/`.
 */
export function gitPathspecMatch(pathspec: string, file: string): boolean {
  let spec = pathspec.startsWith('./') ? pathspec.slice(2) : pathspec;
  if (spec === '' || spec === '.') return true;
  if (spec.startsWith('/')) spec = spec.slice(1);
  if (file === spec) return true;
  const wild = spec.search(GIT_WILDCARDS);
  const literal = wild < 0 ? spec : spec.slice(0, wild);
  if (file.startsWith(literal) && literal.length === spec.length) {
    // wildcard-free: matches files under a directory of that name
    if (spec.endsWith('/') || file[spec.length] === '/') return true;
    return false;
  }
  if (wild < 0 || !file.startsWith(literal)) return false;
  return wildmatchFrom(Array.from(spec), 0, Array.from(file), 0);
}

// ---------------------------------------------------------------------------------------------
// doublestar (github.com/bmatcuk/doublestar) — Argo's "new" git file globbing.

function segmentRegex(seg: string, pattern: string): RE2JS {
  let re = '';
  const p = Array.from(seg);
  let depth = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    switch (c) {
      case '*':
        while (p[i + 1] === '*') i++;
        re += '[^/]*';
        break;
      case '?':
        re += '[^/]';
        break;
      case '\\':
        i++;
        if (i >= p.length) throw new BadPatternError(pattern);
        re += escapeRe(p[i]);
        break;
      case '[': {
        const close = findClassEnd(p, i);
        if (close < 0) throw new BadPatternError(pattern);
        let body = p.slice(i + 1, close).join('');
        let neg = '';
        if (body.startsWith('!') || body.startsWith('^')) {
          neg = '^';
          body = body.slice(1);
        }
        re += `[${neg}${body.replace(/[\]\\]/g, (m) => `\\${m}`)}]`;
        i = close;
        break;
      }
      case '{':
        depth++;
        re += '(?:';
        break;
      case '}':
        if (depth === 0) throw new BadPatternError(pattern);
        depth--;
        re += ')';
        break;
      case ',':
        re += depth > 0 ? '|' : ',';
        break;
      default:
        re += escapeRe(c);
    }
  }
  if (depth !== 0) throw new BadPatternError(pattern);
  // RE2 (linear in the segment): as a JavaScript RegExp, a segment with many `*` backtracked for
  // minutes over a long file name in the repository.
  return RE2JS.compile(`^${re}$`);
}

function findClassEnd(p: string[], i: number): number {
  let j = i + 1;
  if (p[j] === '!' || p[j] === '^') j++;
  if (p[j] === ']') j++;
  for (; j < p.length; j++) {
    if (p[j] === '\\') j++;
    else if (p[j] === ']') return j;
  }
  return -1;
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\]/g, (m) => `\\${m}`);
}

/** A compiled doublestar pattern; throws {@link BadPatternError} on malformed input. */
export function compileDoublestar(pattern: string): (file: string) => boolean {
  const segs = pattern
    .split('/')
    .filter((s, i, all) => s !== '' && !(s === '.' && i < all.length - 1));
  const compiled = segs.map((s) => (s === '**' ? null : segmentRegex(s, pattern)));
  const width = compiled.length + 1;
  return (file) => {
    const parts = file.split('/');
    // (path segment, pattern segment) pairs already found not to match: with several `**`,
    // trying every split again for each would take time exponential in their number.
    const failed = new Uint8Array((parts.length + 1) * width);
    const matchFrom = (pi: number, ci: number): boolean => {
      if (ci === compiled.length) return pi === parts.length;
      if (failed[pi * width + ci]) return false;
      const c = compiled[ci];
      let ok = false;
      if (c === null) {
        for (let k = pi; k <= parts.length && !ok; k++) ok = matchFrom(k, ci + 1);
      } else ok = pi < parts.length && c.test(parts[pi]) && matchFrom(pi + 1, ci + 1);
      if (!ok) failed[pi * width + ci] = 1;
      return ok;
    };
    return matchFrom(0, 0);
  };
}
