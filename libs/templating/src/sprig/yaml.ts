/**
 * A YAML emitter reproducing sigs.k8s.io/yaml Marshal output (JSON round trip, then go-yaml v2's
 * encoder/libyaml emitter): sorted keys, indentless sequences in mappings, plain/single/double/literal
 * scalar style selection and folding of long scalars at column 80.
 */
import { formatFloat, parseGoBigInt, parseGoFloat } from '../go/strconv.js';

const bestWidth = 80;
const bestIndent = 2;

type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | { [k: string]: JsonValue };
/** A number as Go's encoding/json wrote it (its literal decides int vs float in yaml.v2). */
export class JsonNumber {
  constructor(readonly literal: string) {}
}

// ---- yaml.v2 resolve() ----
const resolveMap = new Set([
  '',
  '~',
  'null',
  'Null',
  'NULL',
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'on',
  'On',
  'ON',
  'true',
  'True',
  'TRUE',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'off',
  'Off',
  'OFF',
  'false',
  'False',
  'FALSE',
  '.nan',
  '.NaN',
  '.NAN',
  '.inf',
  '.Inf',
  '.INF',
  '+.inf',
  '+.Inf',
  '+.INF',
  '-.inf',
  '-.Inf',
  '-.INF',
]);
const yamlStyleFloat = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const base60Float = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const timestampRe =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]|[ ])(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

function isTimestamp(s: string): boolean {
  const m = timestampRe.exec(s);
  if (!m) return false;
  if (m[4] !== undefined && / /.test(s) && /(Z|[+-]\d{2}:\d{2})$/.test(s)) return false;
  const mo = Number(m[2]);
  const d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = new Date(Date.UTC(Number(m[1]), mo, 0)).getUTCDate();
  if (d > days) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59))
    return false;
  return true;
}

/** True when a plain scalar `s` would be read back as a string by yaml.v2. */
function resolvesToString(s: string): boolean {
  if (resolveMap.has(s)) return false;
  const c = s[0];
  if (c === '.') {
    const f = parseGoFloat(s);
    return f === undefined || !Number.isFinite(f) || s.includes('_');
  }
  if ((c >= '0' && c <= '9') || c === '+' || c === '-') {
    if (isTimestamp(s)) return false;
    const plain = s.replaceAll('_', '');
    const v = parseGoBigInt(plain, 0);
    if (v !== undefined && v >= -(2n ** 63n) && v < 2n ** 64n) return false;
    if (yamlStyleFloat.test(plain) && Number.isFinite(Number(plain))) return false; // ParseFloat range errors stay strings
    if (/^-?0b[01]+$/.test(plain)) return false;
  }
  return true;
}

// ---- scalar analysis (yaml_emitter_analyze_scalar) ----
interface Analysis {
  multiline: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

function isPrintable(cp: number): boolean {
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    cp === 0x85 ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}
const isBreakCp = (cp: number): boolean =>
  cp === 0x0a || cp === 0x0d || cp === 0x85 || cp === 0x2028 || cp === 0x2029;

// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
function analyze(value: string): Analysis {
  if (value.length === 0)
    return {
      multiline: false,
      blockPlainAllowed: true,
      singleQuotedAllowed: true,
      blockAllowed: false,
    };
  let blockIndicators = value.startsWith('---') || value.startsWith('...');
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let precededByWs = true;
  let prevSpace = false;
  let prevBreak = false;
  const cps = Array.from(value, (ch) => ch.codePointAt(0)!);
  for (let i = 0; i < cps.length; i++) {
    const c = cps[i];
    const next = cps[i + 1];
    const followedByWs = next === undefined || next === 0x20 || next === 0x09 || isBreakCp(next);
    const ch = String.fromCodePoint(c);
    if (i === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) blockIndicators = true;
      else if ((ch === '?' || ch === ':' || ch === '-') && followedByWs) blockIndicators = true;
    } else if (ch === ':' && followedByWs) blockIndicators = true;
    else if (ch === '#' && precededByWs) blockIndicators = true;
    if (!isPrintable(c)) special = true;
    if (c === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === cps.length - 1) trailingSpace = true;
      if (prevBreak) breakSpace = true;
      prevSpace = true;
      prevBreak = false;
    } else if (isBreakCp(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === cps.length - 1) trailingBreak = true;
      if (prevSpace) spaceBreak = true;
      prevSpace = false;
      prevBreak = true;
    } else {
      prevSpace = false;
      prevBreak = false;
    }
    precededByWs = c === 0x20 || c === 0x09 || isBreakCp(c);
  }
  let blockPlainAllowed = true;
  let singleQuotedAllowed = true;
  let blockAllowed = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlainAllowed = false;
  if (trailingSpace) blockAllowed = false;
  if (breakSpace) {
    blockPlainAllowed = false;
    singleQuotedAllowed = false;
  }
  if (spaceBreak || special) {
    blockPlainAllowed = false;
    singleQuotedAllowed = false;
    blockAllowed = false;
  }
  if (lineBreaks) blockPlainAllowed = false;
  if (blockIndicators) blockPlainAllowed = false;
  return { multiline: lineBreaks, blockPlainAllowed, singleQuotedAllowed, blockAllowed };
}

// ---- emitter ----
class Emitter {
  out = '';
  column = 0;
  indent = -1;
  whitespace = true;
  indention = true;

  put(s: string): void {
    this.out += s;
    this.column += Array.from(s).length;
  }
  putBreak(): void {
    this.out += '\n';
    this.column = 0;
  }
  writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace))
      this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }
  indicator(s: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    this.put(s);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  scalar(value: string, plainOk: boolean, simpleKey: boolean): void {
    const a = analyze(value);
    let style: 'plain' | 'single' | 'double' | 'literal';
    if (!plainOk) style = 'double';
    else if (value.includes('\n')) style = 'literal';
    else style = 'plain';
    if (simpleKey && a.multiline) style = 'double';
    if (style === 'plain') {
      if (!a.blockPlainAllowed) style = 'single';
      if (value.length === 0 && simpleKey) style = 'single';
    }
    if (style === 'single' && !a.singleQuotedAllowed) style = 'double';
    if (style === 'literal' && (!a.blockAllowed || simpleKey)) style = 'double';
    const saved = this.indent;
    this.indent = this.indent < 0 ? bestIndent : this.indent + bestIndent;
    switch (style) {
      case 'plain':
        this.writePlain(value, !simpleKey);
        break;
      case 'single':
        this.writeSingle(value, !simpleKey);
        break;
      case 'double':
        this.writeDouble(value, !simpleKey);
        break;
      case 'literal':
        this.writeLiteral(value);
        break;
    }
    this.indent = saved;
  }

  writePlain(value: string, allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    const chars = Array.from(value);
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (ch === ' ') {
        if (allowBreaks && !spaces && this.column > bestWidth && chars[i + 1] !== ' ')
          this.writeIndent();
        else this.put(ch);
        spaces = true;
      } else {
        this.put(ch);
        this.indention = false;
        spaces = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  writeSingle(value: string, allowBreaks: boolean): void {
    this.indicator("'", true, false, false);
    const chars = Array.from(value);
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      if (ch === ' ') {
        if (
          allowBreaks &&
          !spaces &&
          this.column > bestWidth &&
          i > 0 &&
          i < chars.length - 1 &&
          chars[i + 1] !== ' '
        ) {
          this.writeIndent();
        } else this.put(ch);
        spaces = true;
      } else {
        if (ch === "'") this.put("'");
        this.put(ch);
        this.indention = false;
        spaces = false;
      }
    }
    this.indicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  writeDouble(value: string, allowBreaks: boolean): void {
    this.indicator('"', true, false, false);
    const chars = Array.from(value);
    let spaces = false;
    for (let i = 0; i < chars.length; i++) {
      const ch = chars[i];
      const c = ch.codePointAt(0)!;
      if (!isPrintable(c) || c === 0xfeff || isBreakCp(c) || ch === '"' || ch === '\\') {
        this.put('\\' + doubleEscape(c));
        spaces = false;
      } else if (ch === ' ') {
        if (allowBreaks && !spaces && this.column > bestWidth && i > 0 && i < chars.length - 1) {
          this.writeIndent();
          if (chars[i + 1] === ' ') this.put('\\');
        } else this.put(ch);
        spaces = true;
      } else {
        this.put(ch);
        spaces = false;
      }
    }
    this.indicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  writeLiteral(value: string): void {
    this.indicator('|', true, false, false);
    const chars = Array.from(value);
    if (chars[0] === ' ' || isBreakCp(chars[0].codePointAt(0)!))
      this.indicator(String(bestIndent), false, false, false);
    const last = chars.length - 1;
    let chomp = '';
    if (!isBreakCp(chars[last].codePointAt(0)!)) chomp = '-';
    else if (last === 0 || isBreakCp(chars[last - 1].codePointAt(0)!)) chomp = '+';
    if (chomp) this.indicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const ch of chars) {
      if (isBreakCp(ch.codePointAt(0)!)) {
        this.putBreak();
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.put(ch);
        this.indention = false;
        breaks = false;
      }
    }
  }

  node(v: JsonValue, ctx: 'root' | 'mapvalue' | 'complexvalue' | 'seqitem'): void {
    if (Array.isArray(v)) {
      if (v.length === 0) return this.flowEmpty('[]');
      const saved = this.indent;
      if (ctx !== 'mapvalue') this.indent = this.indent < 0 ? 0 : this.indent + bestIndent;
      else this.indent = Math.max(this.indent, 0);
      for (const item of v) {
        this.writeIndent();
        this.indicator('-', true, false, true);
        this.node(item, 'seqitem');
      }
      this.indent = saved;
      return;
    }
    if (v !== null && typeof v === 'object' && !(v instanceof JsonNumber)) {
      const keys = Object.keys(v).sort(naturalLess);
      if (keys.length === 0) return this.flowEmpty('{}');
      const saved = this.indent;
      this.indent = this.indent < 0 ? 0 : this.indent + bestIndent;
      for (const k of keys) {
        this.writeIndent();
        const plainOk = resolvesToString(k) && !base60Float.test(k);
        if (!analyze(k).multiline && Buffer.byteLength(k) <= 128) {
          this.scalar(k, plainOk, true);
          this.indicator(':', false, false, false);
          this.node(v[k], 'mapvalue');
        } else {
          // not a simple key: "? key" on its own, then ": value"
          this.indicator('?', true, false, true);
          this.scalar(k, plainOk, false);
          this.writeIndent();
          this.indicator(':', true, false, true);
          this.node(v[k], 'complexvalue');
        }
      }
      this.indent = saved;
      return;
    }
    if (typeof v === 'string')
      return this.scalar(v, resolvesToString(v) && !base60Float.test(v), false);
    let s: string;
    if (v === null) s = 'null';
    else if (typeof v === 'boolean') s = v ? 'true' : 'false';
    else s = yamlNumber(v.literal);
    this.scalar(s, true, false);
  }

  flowEmpty(s: string): void {
    this.indicator(s, true, false, false);
    this.whitespace = false;
    this.indention = false;
  }
}

function doubleEscape(c: number): string {
  const simple: Record<number, string> = {
    0: '0',
    7: 'a',
    8: 'b',
    9: 't',
    10: 'n',
    11: 'v',
    12: 'f',
    13: 'r',
    0x1b: 'e',
    0x22: '"',
    0x5c: '\\',
    0x85: 'N',
    0xa0: '_',
    0x2028: 'L',
    0x2029: 'P',
  };
  if (simple[c] !== undefined) return simple[c];
  const hex = c.toString(16).toUpperCase();
  if (c <= 0xff) return 'x' + hex.padStart(2, '0');
  if (c <= 0xffff) return 'u' + hex.padStart(4, '0');
  return 'U' + hex.padStart(8, '0');
}

function yamlNumber(lit: string): string {
  if (/^-?\d+$/.test(lit)) {
    const v = BigInt(lit);
    if (v >= -(2n ** 63n) && v < 2n ** 64n) return v.toString();
  }
  const f = Number(lit);
  if (Number.isNaN(f)) return '.nan';
  if (f === Infinity) return '.inf';
  if (f === -Infinity) return '-.inf';
  return formatFloat(f, 'g', -1);
}

/** yaml.v2 keyList ordering: digit runs compare numerically, letters after non-letters. */
export function naturalLess(a: string, b: string): number {
  const ar = Array.from(a);
  const br = Array.from(b);
  const isLetter = (c: string): boolean => /\p{L}/u.test(c);
  const isDigit = (c: string | undefined): boolean => c !== undefined && /\p{Nd}/u.test(c);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]);
    const bl = isLetter(br[i]);
    if (al && bl) return ar[i] < br[i] ? -1 : 1;
    if (al || bl) return bl ? -1 : 1;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++)
      an = an * 10n + BigInt(ar[ai].charCodeAt(0) - 48);
    for (; bi < br.length && isDigit(br[bi]); bi++)
      bn = bn * 10n + BigInt(br[bi].charCodeAt(0) - 48);
    if (an !== bn) return an < bn ? -1 : 1;
    if (ai !== bi) return ai < bi ? -1 : 1;
    return ar[i] < br[i] ? -1 : 1;
  }
  return ar.length - br.length;
}

/** Marshal a JSON-shaped value the way sigs.k8s.io/yaml does (result ends with "\n"). */
export function emitYAML(v: JsonValue): string {
  const e = new Emitter();
  e.node(v, 'root');
  // document end: yaml_emitter_write_indent at indent 0
  if (!e.indention || e.column > 0 || !e.whitespace) e.putBreak();
  return e.out;
}

export type { JsonValue };
