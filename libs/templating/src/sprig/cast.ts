/** spf13/cast conversions as sprig uses them, plus sprig's strval/strslice. */
import { formatV } from '../go/fmt.js';
import { parseGoFloat, parseGoInt } from '../go/strconv.js';
import { GoNum, GoStruct, typedSlice, isGoInt } from '../go/values.js';

function trimZeroDecimal(s: string): string {
  let foundZero = false;
  for (let i = s.length; i > 0; i--) {
    switch (s[i - 1]) {
      case '.':
        if (foundZero) return s.slice(0, i - 1);
        break;
      case '0':
        foundZero = true;
        break;
      default:
        return s;
    }
  }
  return s;
}

/** Go's int64(float) truncation, saturating like amd64 does for out-of-range values. */
function truncInt(f: number): number {
  if (Number.isNaN(f) || f >= 2 ** 63 || f < -(2 ** 63)) return -(2 ** 63);
  return Math.trunc(f);
}

/** cast.ToInt64 (errors become 0). */
export function toInt64(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return isGoInt(v) ? v : truncInt(v);
    case 'boolean':
      return v ? 1 : 0;
    case 'string': {
      const n = parseGoInt(trimZeroDecimal(v), 0);
      return n ?? 0;
    }
    case 'bigint':
    case 'symbol':
    case 'undefined':
    case 'object':
    case 'function':
    default:
  }
  if (v instanceof GoNum) return v.t.startsWith('float') ? truncInt(v.v) : v.v;
  return 0;
}

export const toInt = toInt64;

/** cast.ToFloat64 (errors become 0). */
export function toFloat64(v: unknown): number {
  switch (typeof v) {
    case 'number':
      return v;
    case 'boolean':
      return v ? 1 : 0;
    case 'string':
      return parseGoFloat(v) ?? 0;
    case 'bigint':
    case 'symbol':
    case 'undefined':
    case 'object':
    case 'function':
    default:
  }
  if (v instanceof GoNum) return v.v;
  return 0;
}

/** sprig strval: strings as is, Stringers via String(), everything else via %v. */
export function strval(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof GoStruct && v.goString) return v.goString();
  return formatV(v);
}

/** sprig strslice */
export function strslice(v: unknown): string[] {
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const s of v) if (s !== null && s !== undefined) out.push(strval(s));
    return typedSlice(out, 'string');
  }
  if (v === null || v === undefined) return typedSlice([], 'string');
  return typedSlice([strval(v)], 'string');
}
