/** Sprig string functions (strings.go, goutils, xstrings). */
import { randomInt } from 'node:crypto';
import { formatV, sprintf } from '../go/fmt.js';
import { def, fail, type FuncContext, type FuncMap } from '../go/funcs.js';
import { byteSlice, newMap, typedMap, typedSlice } from '../go/values.js';
import { strslice, strval } from './cast.js';

/** UTF-8 bytes of s as a "binary" JS string (one char per byte) – for Go byte-index algorithms. */
export function toBin(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}
export function fromBin(b: string): string {
  return Buffer.from(b, 'latin1').toString('utf8');
}

const isSpaceRe = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
export function isSpace(ch: string): boolean {
  return isSpaceRe.test(ch);
}
const upperRe = /^\p{Lu}$/u;
const lowerRe = /^\p{Ll}$/u;
const titleRe = /^\p{Lt}$/u;
const letterRe = /^\p{L}$/u;
const numberRe = /^\p{N}$/u;
const digitRe = /^\p{Nd}$/u;
const punctRe = /^\p{P}$/u;

function toTitle(ch: string): string {
  // unicode.ToTitle: title case mapping; equals upper case for all but a few digraphs.
  const special: Record<string, string> = {
    ǆ: 'ǅ',
    ǅ: 'ǅ',
    Ǆ: 'ǅ',
    ǉ: 'ǈ',
    Ǉ: 'ǈ',
    ǈ: 'ǈ',
    ǌ: 'ǋ',
    Ǌ: 'ǋ',
    ǋ: 'ǋ',
    ǳ: 'ǲ',
    Ǳ: 'ǲ',
    ǲ: 'ǲ',
  };
  if (special[ch]) return special[ch];
  const u = ch.toUpperCase();
  return Array.from(u).length === 1 ? u : ch;
}
function toUpper(ch: string): string {
  const u = ch.toUpperCase();
  return Array.from(u).length === 1 ? u : ch;
}
function toLower(ch: string): string {
  const l = ch.toLowerCase();
  return Array.from(l).length === 1 ? l : ch;
}

/** strings.Title */
function title(s: string): string {
  let prev = ' ';
  let out = '';
  for (const ch of s) {
    out += isSeparator(prev) ? toTitle(ch) : ch;
    prev = ch;
  }
  return out;
}
function isSeparator(ch: string): boolean {
  const c = ch.codePointAt(0)!;
  if (c <= 0x7f) return !/[0-9a-zA-Z_]/.test(ch);
  if (letterRe.test(ch) || digitRe.test(ch)) return false;
  return isSpace(ch);
}

function untitle(s: string): string {
  let next = true;
  let out = '';
  for (const ch of s) {
    if (isSpace(ch)) {
      next = true;
      out += ch;
    } else if (next) {
      out += toLower(ch);
      next = false;
    } else out += ch;
  }
  return out;
}

function swapcase(s: string): string {
  let ws = true;
  let out = '';
  for (const ch of s) {
    if (upperRe.test(ch) || titleRe.test(ch)) {
      out += toLower(ch);
      ws = false;
    } else if (lowerRe.test(ch)) {
      out += ws ? toTitle(ch) : toUpper(ch);
      ws = false;
    } else {
      ws = isSpace(ch);
      out += ch;
    }
  }
  return out;
}

/** goutils.DeleteWhiteSpace – note: works on bytes, mangling non-ASCII as Go does. */
function nospace(s: string): string {
  const b = toBin(s);
  let out = '';
  for (const ch of b) if (!isSpace(ch)) out += ch;
  return out.length === b.length ? s : out;
}

/** goutils.Initials – byte based as well. */
function initials(s: string): string {
  const b = toBin(s);
  let out = '';
  let gap = true;
  for (const ch of b) {
    if (isSpace(ch)) gap = true;
    else if (gap) {
      out += ch;
      gap = false;
    }
  }
  return out;
}

function abbreviateFull(str: string, offset: number, maxWidth: number): string {
  if (str === '') return '';
  if (maxWidth < 4) fail('stringutils illegal argument: Minimum abbreviation width is 4');
  const s = toBin(str);
  if (s.length <= maxWidth) return str;
  if (offset > s.length) offset = s.length;
  if (s.length - offset < maxWidth - 3) offset = s.length - (maxWidth - 3);
  if (offset <= 4) return fromBin(s.slice(0, maxWidth - 3)) + '...';
  if (maxWidth < 7)
    fail('stringutils illegal argument: Minimum abbreviation width with offset is 7');
  if (offset + maxWidth - 3 < s.length)
    return '...' + abbreviateFull(fromBin(s.slice(offset)), 0, maxWidth - 3);
  return '...' + fromBin(s.slice(s.length - (maxWidth - 3)));
}

function abbrev(width: number, s: string): string {
  if (width < 4) return s;
  try {
    return abbreviateFull(s, 0, width);
  } catch {
    return '';
  }
}
function abbrevboth(left: number, right: number, s: string): string {
  if (right < 4 || (left > 0 && right < 7)) return s;
  try {
    return abbreviateFull(s, left, right);
  } catch {
    return '';
  }
}

/** goutils.WrapCustom */
function wrapCustom(str: string, wrapLength: number, newLine: string, wrapLong: boolean): string {
  if (str === '') return '';
  if (newLine === '') newLine = '\n';
  if (wrapLength < 1) wrapLength = 1;
  const s = toBin(str);
  const nl = toBin(newLine);
  const len = s.length;
  let offset = 0;
  let out = '';
  while (len - offset > wrapLength) {
    if (s[offset] === ' ') {
      offset++;
      continue;
    }
    const end = wrapLength + offset + 1;
    let spaceToWrapAt = s.slice(offset, end).lastIndexOf(' ') + offset;
    if (spaceToWrapAt >= offset) {
      out += s.slice(offset, spaceToWrapAt) + nl;
      offset = spaceToWrapAt + 1;
    } else if (wrapLong) {
      out += s.slice(offset, wrapLength + offset) + nl;
      offset += wrapLength;
    } else {
      const e = wrapLength + offset;
      const idx = s.slice(e).indexOf(' ');
      if (idx === -1) {
        out += s.slice(offset);
        offset = len;
      } else {
        spaceToWrapAt = idx + e;
        out += s.slice(offset, spaceToWrapAt) + nl;
        offset = spaceToWrapAt + 1;
      }
    }
  }
  out += s.slice(offset);
  return fromBin(out);
}

// ---- xstrings case conversion ----
function isConnector(ch: string): boolean {
  return ch === '-' || ch === '_' || isSpace(ch);
}
function isAlphabet(ch: string): boolean {
  if (!letterRe.test(ch)) return false;
  const c = ch.codePointAt(0)!;
  if (c < 0x2e80) return true;
  return !/\p{Script=Han}|\p{Script=Hiragana}|\p{Script=Katakana}|\p{Script=Hangul}/u.test(ch);
}

enum W {
  invalid,
  number,
  upper,
  alphabet,
  connector,
  punct,
  other,
}

// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
function nextWord(rs: string[], i: number): [W, number] {
  // returns word type and end index
  if (i >= rs.length) return [W.invalid, i];
  const r = rs[i];
  let j = i + 1;
  if (isConnector(r)) {
    while (j < rs.length && isConnector(rs[j])) j++;
    return [W.connector, j];
  }
  if (punctRe.test(r)) {
    while (j < rs.length && punctRe.test(rs[j])) j++;
    return [W.punct, j];
  }
  if (upperRe.test(r)) {
    if (j >= rs.length) return [W.upper, j];
    if (upperRe.test(rs[j])) {
      let k = j;
      while (k < rs.length && upperRe.test(rs[k])) k++;
      if (k < rs.length && isAlphabet(rs[k])) k--;
      return [W.upper, k];
    }
    if (isAlphabet(rs[j])) {
      while (j < rs.length && isAlphabet(rs[j]) && !upperRe.test(rs[j])) j++;
    }
    return [W.upper, j];
  }
  if (isAlphabet(r)) {
    while (j < rs.length && isAlphabet(rs[j]) && !upperRe.test(rs[j])) j++;
    return [W.alphabet, j];
  }
  if (numberRe.test(r)) {
    while (j < rs.length && numberRe.test(rs[j])) j++;
    return [W.number, j];
  }
  while (
    j < rs.length &&
    !(isConnector(rs[j]) || isAlphabet(rs[j]) || numberRe.test(rs[j]) || punctRe.test(rs[j]))
  )
    j++;
  return [W.other, j];
}

function lowerWord(wt: W, word: string[], connector: string): string {
  if (wt !== W.upper && wt !== W.connector) return word.join('');
  let out = '';
  for (const r of word) out += isConnector(r) ? connector : upperRe.test(r) ? toLower(r) : r;
  return out;
}

// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
function camelCaseToLowerCase(str: string, connector: string): string {
  if (str === '') return '';
  const rs = Array.from(str);
  let pos = 0;
  const next = (): [W, string[]] => {
    const [wt, end] = nextWord(rs, pos);
    const w = rs.slice(pos, end);
    pos = end;
    return [wt, w];
  };
  let out = '';
  let [wt, word] = next();
  while (pos < rs.length) {
    if (wt !== W.connector) out += lowerWord(wt, word, connector);
    const prev = wt;
    const last = word;
    [wt, word] = next();
    switch (prev) {
      case W.number:
        while (wt === W.alphabet || wt === W.number) {
          out += lowerWord(wt, word, connector);
          [wt, word] = next();
        }
        if (wt !== W.invalid && wt !== W.punct && wt !== W.connector) out += connector;
        break;
      case W.connector:
        out += lowerWord(prev, last, connector);
        break;
      case W.punct:
        break;
      case W.invalid:
      case W.upper:
      case W.alphabet:
      case W.other: {
        if (wt !== W.number) {
          if (wt !== W.connector && wt !== W.punct) out += connector;
          break;
        }
        if (pos >= rs.length) break;
        const numWord = word;
        [wt, word] = next();
        if (wt !== W.alphabet) {
          out += lowerWord(W.number, numWord, connector);
          if (wt !== W.connector && wt !== W.punct) out += connector;
          break;
        }
        out += connector + lowerWord(W.number, numWord, connector);
        while (wt === W.alphabet || wt === W.number) {
          out += lowerWord(wt, word, connector);
          [wt, word] = next();
        }
        if (wt !== W.invalid && wt !== W.connector && wt !== W.punct) out += connector;
      }
    }
  }
  out += lowerWord(wt, word, connector);
  return out;
}

/** xstrings.ToPascalCase (sprig camelcase) */
function toCamelCase(str: string, isBig: boolean): string {
  if (str === '') return '';
  const rs = Array.from(str);
  let out = '';
  let i = 0;
  let r0 = '';
  let firstUpper = false;
  for (; i < rs.length;) {
    r0 = rs[i++];
    if (!isConnector(r0)) {
      firstUpper = upperRe.test(r0);
      r0 = isBig ? toUpper(r0) : toLower(r0);
      break;
    }
    out += r0;
  }
  if (i >= rs.length) return out + r0;
  while (i < rs.length) {
    const r1 = r0;
    r0 = rs[i++];
    if (isConnector(r0) && isConnector(r1)) {
      out += r1;
      continue;
    }
    if (isConnector(r1)) {
      firstUpper = upperRe.test(r0);
      r0 = toUpper(r0);
    } else {
      if (firstUpper) {
        if (upperRe.test(r0)) r0 = toLower(r0);
        else firstUpper = false;
      }
      out += r1;
    }
  }
  if (firstUpper && !isBig) r0 = toLower(r0);
  return out + r0;
}

function shuffle(s: string): string {
  const rs = Array.from(s);
  for (let i = rs.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [rs[i], rs[j]] = [rs[j], rs[i]];
  }
  return rs.join('');
}

function randFrom(chars: string, count: number, ctx: FuncContext): string {
  if (count < 0) return ''; // goutils returns an error, which sprig ignores
  ctx.checkSize(count);
  let out = '';
  for (let i = 0; i < count; i++) out += chars[randomInt(chars.length)];
  return out;
}

const ALPHA = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const NUM = '0123456789';
let ASCII = '';
for (let c = 32; c <= 126; c++) ASCII += String.fromCharCode(c);

/** strings.Trim with a cutset */
function trimCutset(s: string, cutset: string): string {
  const set = new Set(Array.from(cutset));
  const rs = Array.from(s);
  let a = 0;
  let b = rs.length;
  while (a < b && set.has(rs[a])) a++;
  while (b > a && set.has(rs[b - 1])) b--;
  return rs.slice(a, b).join('');
}

/** strings.TrimSpace */
export function trimSpace(s: string): string {
  const rs = Array.from(s);
  let a = 0;
  let b = rs.length;
  while (a < b && isSpace(rs[a])) a++;
  while (b > a && isSpace(rs[b - 1])) b--;
  return rs.slice(a, b).join('');
}

/** strings.SplitN */
export function splitN(s: string, sep: string, n: number): string[] {
  if (n === 0) return [];
  if (sep === '') {
    const rs = Array.from(s);
    if (n < 0 || n > rs.length) n = rs.length;
    const out = rs.slice(0, n - 1);
    out.push(rs.slice(n - 1).join(''));
    return rs.length === 0 ? [] : out;
  }
  const parts = s.split(sep);
  if (n < 0 || parts.length <= n) return parts;
  return [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

function splitToMap(parts: string[]): Record<string, unknown> {
  const m = newMap();
  parts.forEach((p, i) => (m['_' + i] = p));
  return typedMap(m, 'string');
}

export function addStringFuncs(m: FuncMap): void {
  def(m, 'abbrev', 'int,string', abbrev);
  def(m, 'abbrevboth', 'int,int,string', abbrevboth);
  def(m, 'trunc', 'int,string', (c: number, s: string) => {
    const b = toBin(s);
    if (c < 0 && b.length + c > 0) return fromBin(b.slice(b.length + c));
    if (c >= 0 && b.length > c) return fromBin(b.slice(0, c));
    return s;
  });
  def(m, 'trim', 'string', trimSpace);
  def(m, 'upper', 'string', (s: string) => s.toUpperCase());
  def(m, 'lower', 'string', (s: string) => s.toLowerCase());
  def(m, 'title', 'string', title);
  def(m, 'untitle', 'string', untitle);
  def(m, 'substr', 'int,int,string', (start: number, end: number, s: string) => {
    if (start < 0) return byteSlice(s, 0, end);
    if (end < 0 || end > Buffer.byteLength(s)) return byteSlice(s, start);
    return byteSlice(s, start, end);
  });
  def(m, 'repeat', 'int,string', function (this: FuncContext, count: number, str: string) {
    if (count < 0) fail('strings: negative Repeat count');
    this.checkSize(count * str.length);
    return str.repeat(count);
  });
  def(m, 'trimall', 'string,string', (a: string, b: string) => trimCutset(b, a));
  def(m, 'trimAll', 'string,string', (a: string, b: string) => trimCutset(b, a));
  def(m, 'trimSuffix', 'string,string', (a: string, b: string) =>
    a !== '' && b.endsWith(a) ? b.slice(0, b.length - a.length) : b,
  );
  def(m, 'trimPrefix', 'string,string', (a: string, b: string) =>
    b.startsWith(a) ? b.slice(a.length) : b,
  );
  def(m, 'nospace', 'string', nospace);
  def(m, 'initials', 'string', initials);
  def(m, 'randAlphaNum', 'int', function (this: FuncContext, n: number) {
    return randFrom(ALPHA + NUM, n, this);
  });
  def(m, 'randAlpha', 'int', function (this: FuncContext, n: number) {
    return randFrom(ALPHA, n, this);
  });
  def(m, 'randAscii', 'int', function (this: FuncContext, n: number) {
    return randFrom(ASCII, n, this);
  });
  def(m, 'randNumeric', 'int', function (this: FuncContext, n: number) {
    return randFrom(NUM, n, this);
  });
  def(m, 'swapcase', 'string', swapcase);
  def(m, 'shuffle', 'string', shuffle);
  def(m, 'snakecase', 'string', (s: string) => camelCaseToLowerCase(s, '_'));
  def(m, 'camelcase', 'string', (s: string) => toCamelCase(s, true));
  def(m, 'kebabcase', 'string', (s: string) => camelCaseToLowerCase(s, '-'));
  def(m, 'wrap', 'int,string', (l: number, s: string) => wrapCustom(s, l, '', false));
  def(m, 'wrapWith', 'int,string,string', (l: number, sep: string, str: string) =>
    wrapCustom(str, l, sep, true),
  );
  def(m, 'contains', 'string,string', (sub: string, s: string) => s.includes(sub));
  def(m, 'hasPrefix', 'string,string', (sub: string, s: string) => s.startsWith(sub));
  def(m, 'hasSuffix', 'string,string', (sub: string, s: string) => s.endsWith(sub));
  def(m, 'quote', '...any', (...args: unknown[]) =>
    args
      .filter((a) => a !== null && a !== undefined)
      .map((a) => sprintf('%q', [strval(a)]))
      .join(' '),
  );
  def(m, 'squote', '...any', (...args: unknown[]) =>
    args
      .filter((a) => a !== null && a !== undefined)
      .map((a) => `'${formatV(a)}'`)
      .join(' '),
  );
  def(m, 'cat', '...any', (...args: unknown[]) =>
    args
      .filter((a) => a !== null && a !== undefined)
      .map((a) => formatV(a))
      .join(' '),
  );
  def(m, 'indent', 'int,string', function (this: FuncContext, n: number, v: string) {
    if (n < 0) fail('strings: negative Repeat count');
    const pad = ' '.repeat(n);
    this.checkSize(v.length + pad.length * (1 + (v.match(/\n/g)?.length ?? 0)));
    return pad + v.replaceAll('\n', '\n' + pad);
  });
  def(m, 'nindent', 'int,string', function (this: FuncContext, n: number, v: string) {
    if (n < 0) fail('strings: negative Repeat count');
    const pad = ' '.repeat(n);
    this.checkSize(v.length + pad.length * (1 + (v.match(/\n/g)?.length ?? 0)));
    return '\n' + pad + v.replaceAll('\n', '\n' + pad);
  });
  def(
    m,
    'replace',
    'string,string,string',
    function (this: FuncContext, old: string, nw: string, src: string) {
      if (old === '') {
        const rs = Array.from(src);
        this.checkSize(src.length + nw.length * (rs.length + 1));
        return nw + rs.join(nw) + (rs.length > 0 ? nw : '');
      }
      return src.replaceAll(old, nw);
    },
  );
  def(m, 'plural', 'string,string,int', (one: string, many: string, count: number) =>
    count === 1 ? one : many,
  );
  def(m, 'toString', 'any', strval);
  def(m, 'split', 'string,string', (sep: string, orig: string) =>
    splitToMap(splitN(orig, sep, -1)),
  );
  def(m, 'splitList', 'string,string', (sep: string, orig: string) =>
    typedSlice(splitN(orig, sep, -1), 'string'),
  );
  def(m, 'splitn', 'string,int,string', (sep: string, n: number, orig: string) =>
    splitToMap(splitN(orig, sep, n)),
  );
  def(m, 'toStrings', 'any', strslice);
  def(m, 'join', 'string,any', (sep: string, v: unknown) => strslice(v).join(sep));
  def(m, 'sortAlpha', 'any', (v: unknown) => {
    if (Array.isArray(v)) return typedSlice(strslice(v).sort(byBytes), 'string');
    return typedSlice([strval(v)], 'string');
  });
}

export function byBytes(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
