/** Ports of the parts of Go's strconv that fmt and the templates need. */

interface Decimal {
  d: string; // digits, no leading zeros ("" for zero)
  dp: number; // decimal point position
}

/** Shortest decimal that round-trips (what Go's FormatFloat(f, _, -1, 64) uses). */
function shortestDecimal(abs: number): Decimal {
  if (abs === 0) return { d: '', dp: 0 };
  const s = abs.toExponential();
  const e = s.indexOf('e');
  const mant = s.slice(0, e).replace('.', '');
  const exp = Number(s.slice(e + 1));
  return { d: mant.replace(/0+$/, ''), dp: exp + 1 };
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Exact decimal expansion of a finite, positive double. */
function exactDecimal(abs: number): Decimal {
  if (abs === 0) return { d: '', dp: 0 };
  f64[0] = abs;
  const hi = u32[1];
  const lo = u32[0];
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (bexp === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = bexp - 1075;
  }
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  const trimmed = digits.replace(/0+$/, '');
  return { d: trimmed, dp };
}

/** Round decimal to nd digits, half to even on the exact value (as Go does). */
function roundDecimal(dec: Decimal, nd: number): Decimal {
  if (nd < 0) return { d: '', dp: dec.dp };
  if (nd >= dec.d.length) return dec;
  const next = dec.d.charCodeAt(nd) - 48;
  let up: boolean;
  if (next > 5) up = true;
  else if (next < 5) up = false;
  else if (nd + 1 < dec.d.length) up = true;
  else up = nd > 0 && (dec.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  let d = dec.d.slice(0, nd);
  let dp = dec.dp;
  if (up) {
    let i = d.length - 1;
    while (i >= 0 && d[i] === '9') i--;
    if (i < 0) {
      d = '1';
      dp++;
    } else {
      d = d.slice(0, i) + String.fromCharCode(d.charCodeAt(i) + 1);
    }
  }
  return { d: d.replace(/0+$/, ''), dp };
}

function digitAt(dec: Decimal, i: number): string {
  return i < dec.d.length ? dec.d[i] : '0';
}

function fmtE(neg: boolean, dec: Decimal, prec: number, fmt: string): string {
  let s = neg ? '-' : '';
  s += dec.d.length === 0 ? '0' : dec.d[0];
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) s += digitAt(dec, i);
  }
  s += fmt;
  let exp = dec.dp - 1;
  if (dec.d.length === 0) exp = 0;
  if (exp < 0) {
    s += '-';
    exp = -exp;
  } else s += '+';
  s += exp < 10 ? '0' + exp : String(exp);
  return s;
}

function fmtF(neg: boolean, dec: Decimal, prec: number): string {
  let s = neg ? '-' : '';
  if (dec.dp > 0) {
    let m = Math.min(dec.d.length, dec.dp);
    s += dec.d.slice(0, m);
    for (; m < dec.dp; m++) s += '0';
  } else s += '0';
  if (prec > 0) {
    s += '.';
    for (let i = 1; i <= prec; i++) {
      const j = dec.dp + i - 1;
      s += j < 0 || j >= dec.d.length ? '0' : dec.d[j];
    }
  }
  return s;
}

/** strconv.FormatFloat(f, fmt, prec, 64) for fmt in e E f g G (and x X b delegated). */
// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function formatFloat(f: number, fmt: string, prec: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  const neg = f < 0 || Object.is(f, -0);
  const abs = Math.abs(f);
  if (fmt === 'x' || fmt === 'X') return formatHexFloat(f, prec, fmt);
  if (fmt === 'b') return formatBinaryFloat(f);
  const shortest = prec < 0;
  let dec: Decimal;
  if (shortest) {
    dec = shortestDecimal(abs);
    switch (fmt) {
      case 'e':
      case 'E':
        prec = Math.max(dec.d.length - 1, 0);
        break;
      case 'f':
        prec = Math.max(dec.d.length - dec.dp, 0);
        break;
      case 'g':
      case 'G':
        prec = dec.d.length;
        break;
    }
  } else {
    const exact = exactDecimal(abs);
    switch (fmt) {
      case 'e':
      case 'E':
        dec = roundDecimal(exact, prec + 1);
        break;
      case 'f':
        dec = roundDecimal(exact, exact.dp + prec);
        break;
      default:
        if (prec === 0) prec = 1;
        dec = roundDecimal(exact, prec);
    }
  }
  switch (fmt) {
    case 'e':
    case 'E':
      return fmtE(neg, dec, prec, fmt);
    case 'f':
      return fmtF(neg, dec, prec);
    default: {
      let eprec = prec;
      if (eprec > dec.d.length && dec.d.length >= dec.dp) eprec = dec.d.length;
      if (shortest) eprec = 6;
      const exp = dec.dp - 1;
      if (dec.d.length !== 0 && (exp < -4 || exp >= eprec)) {
        if (prec > dec.d.length) prec = dec.d.length;
        return fmtE(neg, dec, prec - 1, fmt === 'g' ? 'e' : 'E');
      }
      if (prec > dec.dp) prec = dec.d.length;
      return fmtF(neg, dec, Math.max(prec - dec.dp, 0));
    }
  }
}

/** strconv's fmtX: %x / %X of a float64 (hexadecimal mantissa, binary exponent). */
function formatHexFloat(f: number, prec: number, fmt: string): string {
  const M64 = (1n << 64n) - 1n;
  f64[0] = f;
  const hi = u32[1];
  const lo = u32[0];
  const neg = hi >>> 31 === 1;
  let exp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (exp === 0) exp++;
  else mant |= 1n << 52n;
  exp -= 1023;
  if (mant === 0n) exp = 0;
  mant = (mant << 8n) & M64;
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant = (mant << 1n) & M64;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant = (mant << (60n - shift)) & M64;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hex = fmt === 'X' ? '0123456789ABCDEF' : '0123456789abcdef';
  let out = (neg ? '-' : '') + '0' + fmt + String((mant >> 60n) & 1n);
  mant = (mant << 4n) & M64;
  if (prec < 0 && mant !== 0n) {
    out += '.';
    while (mant !== 0n) {
      out += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & M64;
    }
  } else if (prec > 0) {
    out += '.';
    for (let i = 0; i < prec; i++) {
      out += hex[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & M64;
    }
  }
  out += fmt === 'X' ? 'P' : 'p';
  out += exp < 0 ? '-' : '+';
  const e = Math.abs(exp);
  out += e < 10 ? '0' + e : String(e);
  return out;
}

function formatBinaryFloat(f: number): string {
  f64[0] = f;
  const hi = u32[1];
  const lo = u32[0];
  const neg = hi >>> 31 === 1;
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp = bexp - 1075;
  if (bexp === 0) exp = -1074;
  else mant |= 1n << 52n;
  return (neg ? '-' : '') + mant.toString() + 'p' + (exp >= 0 ? '+' : '') + String(exp);
}

/** unicode.IsPrint as Go defines it (letters, marks, numbers, punctuation, symbols, ASCII space). */
const printRe = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
export function isPrint(cp: number): boolean {
  if (cp < 0x80) return cp >= 0x20 && cp < 0x7f;
  if (cp >= 0xd800 && cp <= 0xdfff) return false;
  return printRe.test(String.fromCodePoint(cp));
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function escapeRune(cp: number, quote: number, asciiOnly: boolean): string {
  if (cp === quote || cp === 0x5c) return '\\' + String.fromCharCode(cp);
  if (asciiOnly ? cp < 0x80 && isPrint(cp) : isPrint(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return '\\x' + hex2(cp);
  if (cp >= 0xd800 && cp <= 0xdfff) return '\\ufffd';
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/** strconv.Quote / QuoteToASCII. */
export function quote(s: string, asciiOnly = false): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) {
      out += s[i];
      continue;
    }
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    out += escapeRune(cp, 0x22, asciiOnly);
  }
  return out + '"';
}

/** strconv.QuoteRune / QuoteRuneToASCII. */
export function quoteRune(cp: number, asciiOnly = false): string {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  return "'" + escapeRune(cp, 0x27, asciiOnly) + "'";
}

/** strconv.CanBackquote. */
export function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0xfeff || cp === 0x60) return false;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    if ((cp < 0x20 && cp !== 9) || cp === 0x7f) return false;
  }
  return true;
}

export class SyntaxError_ extends Error {}

/** strconv.Unquote for "…", `…` and '…' literals as the template lexer produces them. */
export function unquote(s: string): string {
  const n = s.length;
  if (n < 2) throw new SyntaxError_('invalid syntax');
  const q = s[0];
  if (q !== s[n - 1]) throw new SyntaxError_('invalid syntax');
  const body = s.slice(1, n - 1);
  if (q === '`') {
    if (body.includes('`')) throw new SyntaxError_('invalid syntax');
    return body.replace(/\r/g, '');
  }
  if (q !== '"' && q !== "'") throw new SyntaxError_('invalid syntax');
  let out = '';
  let i = 0;
  let count = 0;
  while (i < body.length) {
    const c = body[i];
    if (c === q && q === "'") throw new SyntaxError_('invalid syntax');
    if (c === '\n') throw new SyntaxError_('invalid syntax');
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out += ch;
      i += ch.length;
      count++;
      continue;
    }
    const [str, next] = unquoteEscape(body, i + 1, q);
    out += str;
    i = next;
    count++;
  }
  if (q === "'" && count !== 1) throw new SyntaxError_('invalid syntax');
  return out;
}

function unquoteEscape(s: string, i: number, q: string): [string, number] {
  if (i >= s.length) throw new SyntaxError_('invalid syntax');
  const c = s[i];
  const simple: Record<string, string> = {
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
  };
  if (c in simple) return [simple[c], i + 1];
  if (c === q) return [c, i + 1];
  if (c === 'x' || c === 'u' || c === 'U') {
    const len = c === 'x' ? 2 : c === 'u' ? 4 : 8;
    const hex = s.slice(i + 1, i + 1 + len);
    if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex)) throw new SyntaxError_('invalid syntax');
    const v = parseInt(hex, 16);
    if (c === 'x') {
      // A single byte; we can only represent it when it forms valid UTF-8 on its own.
      return [v < 0x80 ? String.fromCharCode(v) : '\ufffd', i + 1 + len];
    }
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new SyntaxError_('invalid syntax');
    return [String.fromCodePoint(v), i + 1 + len];
  }
  if (c >= '0' && c <= '7') {
    const oct = s.slice(i, i + 3);
    if (!/^[0-7]{3}$/.test(oct)) throw new SyntaxError_('invalid syntax');
    const v = parseInt(oct, 8);
    if (v > 255) throw new SyntaxError_('invalid syntax');
    return [v < 0x80 ? String.fromCharCode(v) : '\ufffd', i + 3];
  }
  throw new SyntaxError_('invalid syntax');
}

/** strconv.ParseInt(s, base, 64) – returns undefined on failure (range or syntax). */
export function parseGoInt(text: string, base: number): number | undefined {
  const r = parseGoBigInt(text, base);
  if (r === undefined) return undefined;
  if (r > 9223372036854775807n || r < -9223372036854775808n) return undefined;
  return Number(r);
}

// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function parseGoBigInt(text: string, base: number): bigint | undefined {
  let s = text;
  let neg = false;
  if (s.startsWith('+') || s.startsWith('-')) {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  let b = base;
  let underscoresOk = false;
  if (base === 0) {
    b = 10;
    if (s[0] === '0') {
      if (s.length >= 3 && (s[1] === 'x' || s[1] === 'X')) {
        b = 16;
        s = s.slice(2);
      } else if (s.length >= 3 && (s[1] === 'o' || s[1] === 'O')) {
        b = 8;
        s = s.slice(2);
      } else if (s.length >= 3 && (s[1] === 'b' || s[1] === 'B')) {
        b = 2;
        s = s.slice(2);
      } else {
        b = 8;
        s = s.slice(1);
        if (s === '') return 0n;
      }
    }
    underscoresOk = true;
  }
  if (s === '') return undefined;
  if (underscoresOk) {
    if (s.startsWith('_') || s.endsWith('_') || s.includes('__')) {
      if (!(
        b !== 10 &&
        text.replace(/^[+-]/, '').length > 2 &&
        s.startsWith('_') &&
        !s.includes('__') &&
        !s.endsWith('_')
      ))
        return undefined;
    }
    s = s.replace(/_/g, '');
  }
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, b);
  let v = 0n;
  const B = BigInt(b);
  for (const ch of s.toLowerCase()) {
    const d = digits.indexOf(ch);
    if (d < 0) return undefined;
    v = v * B + BigInt(d);
  }
  return neg ? -v : v;
}

/** strconv.ParseFloat(s, 64) – returns undefined for syntax errors. */
export function parseGoFloat(text: string): number | undefined {
  let s = text;
  if (/^[+-]?(inf|infinity)$/i.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  if (/^nan$/i.test(s)) return NaN;
  const hasUnderscore = s.includes('_');
  if (hasUnderscore) s = s.replace(/_/g, '');
  if (/^[+-]?0[xX]/.test(s)) {
    const m = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?\d+)$/.exec(s);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) return undefined;
    const mant = parseInt((m[2] || '0') + (m[3] ?? ''), 16);
    const e = Number(m[4]) - 4 * (m[3] ?? '').length;
    const v = mant * 2 ** e;
    return m[1] === '-' ? -v : v;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}
