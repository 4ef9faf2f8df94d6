/** Sprig numeric functions (numeric.go). */
import { randomInt } from 'node:crypto';
import { formatV } from '../go/fmt.js';
import { def, fail, type FuncContext, type FuncMap } from '../go/funcs.js';
import { parseGoBigInt, parseGoInt } from '../go/strconv.js';
import { float64, int64, typedSlice } from '../go/values.js';
import { toFloat64, toInt, toInt64 } from './cast.js';

/** Wrap to signed 64-bit like Go's int64 arithmetic (exact while |v| < 2^53). */
function wrap64(v: number): number {
  if (Number.isSafeInteger(v)) return v;
  return Number(BigInt.asIntN(64, BigInt(Math.trunc(v))));
}

function untilStep(ctx: FuncContext, start: number, stop: number, step: number): number[] {
  const v: number[] = [];
  if (stop < start) {
    if (step >= 0) return typedSlice(v, 'int');
    ctx.checkCount(Math.ceil((start - stop) / -step));
    for (let i = start; i > stop; i += step) v.push(i);
    return typedSlice(v, 'int');
  }
  if (step <= 0) return typedSlice(v, 'int');
  ctx.checkCount(Math.ceil((stop - start) / step));
  for (let i = start; i < stop; i += step) v.push(i);
  return typedSlice(v, 'int');
}

function seq(ctx: FuncContext, params: number[]): string {
  let increment = 1;
  switch (params.length) {
    case 0:
      return '';
    case 1: {
      const start = 1;
      const end = params[0];
      if (end < start) increment = -1;
      return untilStep(ctx, start, end + increment, increment).join(' ');
    }
    case 3: {
      const [start, step, end] = params;
      if (end < start) {
        increment = -1;
        if (step > 0) return '';
      }
      return untilStep(ctx, start, end + increment, step).join(' ');
    }
    case 2: {
      const [start, end] = params;
      const step = end < start ? -1 : 1;
      return untilStep(ctx, start, end + step, step).join(' ');
    }
    default:
      return '';
  }
}

// ---- shopspring/decimal-like exact arithmetic on the shortest decimal form of float64s ----
interface Dec {
  v: bigint;
  exp: number; // value = v * 10^exp
}

function decFromFloat(f: number): Dec {
  if (!Number.isFinite(f)) fail(`Cannot create a Decimal from ${formatV(f)}`);
  if (f === 0) return { v: 0n, exp: 0 };
  const s = f.toExponential();
  const [mant, e] = s.split('e');
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const fracLen = digits.length - 1;
  const v = BigInt(digits) * (neg ? -1n : 1n);
  return { v, exp: Number(e) - fracLen };
}

function align(a: Dec, b: Dec): [bigint, bigint, number] {
  const exp = Math.min(a.exp, b.exp);
  return [a.v * 10n ** BigInt(a.exp - exp), b.v * 10n ** BigInt(b.exp - exp), exp];
}

function decToFloat(d: Dec): number {
  return Number(`${d.v}e${d.exp}`);
}

const divisionPrecision = 16;

function decOp(op: string, a: Dec, b: Dec): Dec {
  switch (op) {
    case '+': {
      const [x, y, exp] = align(a, b);
      return { v: x + y, exp };
    }
    case '-': {
      const [x, y, exp] = align(a, b);
      return { v: x - y, exp };
    }
    case '*':
      return { v: a.v * b.v, exp: a.exp + b.exp };
    default: {
      if (b.v === 0n) fail('decimal division by 0');
      // quotient rounded (half away from zero) to divisionPrecision places
      const [x, y] = align(a, b);
      const scale = 10n ** BigInt(divisionPrecision + 1);
      let q = (x * scale) / y; // truncated, one extra digit
      const neg = q < 0n;
      if (neg) q = -q;
      const last = q % 10n;
      q = q / 10n + (last >= 5n ? 1n : 0n);
      return { v: neg ? -q : q, exp: -divisionPrecision };
    }
  }
}

function execDecimalOp(
  a: unknown,
  rest: unknown[],
  op: string,
): number | ReturnType<typeof float64> {
  let prt = decFromFloat(toFloat64(a));
  for (const x of rest) prt = decOp(op, prt, decFromFloat(toFloat64(x)));
  return float64(decToFloat(prt));
}

function goRound(a: unknown, p: number, ...rOpt: number[]): number | ReturnType<typeof float64> {
  const roundOn = rOpt.length > 0 ? rOpt[0] : 0.5;
  const val = toFloat64(a);
  const pow = Math.pow(10, p);
  const digit = pow * val;
  const div = digit - Math.trunc(digit);
  const r = div >= roundOn ? Math.ceil(digit) : Math.floor(digit);
  return float64(r / pow);
}

function goMax(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return Math.max(a, b);
}
function goMin(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return NaN;
  return Math.min(a, b);
}

export function addNumericFuncs(m: FuncMap): void {
  def(m, 'atoi', 'string', (a: string) => {
    // strconv.Atoi: syntax errors give 0, out-of-range values are clamped
    if (!/^[+-]?\d+$/.test(a)) return 0;
    const v = parseGoBigInt(a, 10)!;
    if (v > 9223372036854775807n) return 2 ** 63 - 1; // not exact above 2^53 (JS numbers)
    if (v < -9223372036854775808n) return -(2 ** 63);
    return Number(v);
  });
  def(m, 'int64', 'any', (v: unknown) => int64(toInt64(v)));
  def(m, 'int', 'any', (v: unknown) => toInt(v));
  def(m, 'float64', 'any', (v: unknown) => float64(toFloat64(v)));
  def(m, 'seq', '...int', function (this: FuncContext, ...p: number[]) {
    return seq(this, p);
  });
  def(m, 'toDecimal', 'any', (v: unknown) => int64(parseGoInt(formatV(v), 8) ?? 0));
  def(m, 'until', 'int', function (this: FuncContext, count: number) {
    return untilStep(this, 0, count, count < 0 ? -1 : 1);
  });
  def(
    m,
    'untilStep',
    'int,int,int',
    function (this: FuncContext, start: number, stop: number, step: number) {
      return untilStep(this, start, stop, step);
    },
  );
  def(m, 'add1', 'any', (i: unknown) => int64(wrap64(toInt64(i) + 1)));
  def(m, 'add', '...any', (...xs: unknown[]) =>
    int64(wrap64(xs.reduce<number>((a, b) => a + toInt64(b), 0))),
  );
  def(m, 'sub', 'any,any', (a: unknown, b: unknown) => int64(wrap64(toInt64(a) - toInt64(b))));
  def(m, 'div', 'any,any', (a: unknown, b: unknown) => {
    const d = toInt64(b);
    if (d === 0) fail('runtime error: integer divide by zero');
    return int64(Math.trunc(toInt64(a) / d));
  });
  def(m, 'mod', 'any,any', (a: unknown, b: unknown) => {
    const d = toInt64(b);
    if (d === 0) fail('runtime error: integer divide by zero');
    return int64(toInt64(a) % d);
  });
  def(m, 'mul', 'any,...any', (a: unknown, ...v: unknown[]) =>
    int64(v.reduce<number>((acc, b) => wrap64(acc * toInt64(b)), toInt64(a))),
  );
  def(m, 'randInt', 'int,int', (min: number, max: number) => {
    if (max - min <= 0) fail('invalid argument to Intn');
    return min + randomInt(max - min);
  });
  def(m, 'add1f', 'any', (i: unknown) => execDecimalOp(i, [1], '+'));
  def(m, 'addf', '...any', (...i: unknown[]) => execDecimalOp(0, i, '+'));
  def(m, 'subf', 'any,...any', (a: unknown, ...v: unknown[]) => execDecimalOp(a, v, '-'));
  def(m, 'divf', 'any,...any', (a: unknown, ...v: unknown[]) => execDecimalOp(a, v, '/'));
  def(m, 'mulf', 'any,...any', (a: unknown, ...v: unknown[]) => execDecimalOp(a, v, '*'));
  const maxFn = (a: unknown, ...i: unknown[]): unknown =>
    int64(i.reduce<number>((acc, b) => Math.max(acc, toInt64(b)), toInt64(a)));
  const minFn = (a: unknown, ...i: unknown[]): unknown =>
    int64(i.reduce<number>((acc, b) => Math.min(acc, toInt64(b)), toInt64(a)));
  def(m, 'biggest', 'any,...any', maxFn);
  def(m, 'max', 'any,...any', maxFn);
  def(m, 'min', 'any,...any', minFn);
  def(m, 'maxf', 'any,...any', (a: unknown, ...i: unknown[]) =>
    float64(i.reduce<number>((acc, b) => goMax(acc, toFloat64(b)), toFloat64(a))),
  );
  def(m, 'minf', 'any,...any', (a: unknown, ...i: unknown[]) =>
    float64(i.reduce<number>((acc, b) => goMin(acc, toFloat64(b)), toFloat64(a))),
  );
  def(m, 'ceil', 'any', (a: unknown) => float64(Math.ceil(toFloat64(a))));
  def(m, 'floor', 'any', (a: unknown) => float64(Math.floor(toFloat64(a))));
  def(m, 'round', 'any,int,...float64', goRound);
}
