/** A port of Go's fmt printing (Sprint, Sprintln, Sprintf) over the Go value model in values.ts. */
import { Formatter, ldigits, udigits } from './fmt-format.js';
import {
  GoNum,
  GoObject,
  GoStruct,
  goTypeOf,
  isGoMap,
  numValue,
  sliceElemType,
  sortedKeys,
  toBytes,
  type GoMap,
  isGoInt,
} from './values.js';

class Printer extends Formatter {
  // ---- pp level ----

  badVerb(verb: string, value?: unknown, valueSet = false): void {
    this.erroring = true;
    this.buf += '%!' + verb + '(';
    if (this.hasArg && this.arg !== null && this.arg !== undefined) {
      this.buf += goTypeOf(this.arg) + '=';
      this.printArg(this.arg, 'v');
    } else if (valueSet && value !== undefined && value !== null) {
      this.buf += goTypeOf(value) + '=';
      this.printValue(value, 'v', 0);
    } else {
      this.buf += '<nil>';
    }
    this.buf += ')';
    this.erroring = false;
  }

  fmtBool(v: boolean, verb: string): void {
    if (verb === 't' || verb === 'v') this.fmtBoolean(v);
    else this.badVerb(verb);
  }

  fmtIntegerVerb(v: bigint, signed: boolean, verb: string): void {
    switch (verb) {
      case 'v':
        if (this.sharpV && !signed) {
          const oldSharp = this.sharp;
          this.sharp = true;
          this.fmtInteger(v, 16, 'v', ldigits);
          this.sharp = oldSharp;
        } else this.fmtInteger(v, 10, verb, ldigits);
        return;
      case 'd':
        return this.fmtInteger(v, 10, verb, ldigits);
      case 'b':
        return this.fmtInteger(v, 2, verb, ldigits);
      case 'o':
      case 'O':
        return this.fmtInteger(v, 8, verb, ldigits);
      case 'x':
        return this.fmtInteger(v, 16, verb, ldigits);
      case 'X':
        return this.fmtInteger(v, 16, verb, udigits);
      case 'c':
        return this.fmtC(BigInt.asUintN(64, v));
      case 'q':
        return this.fmtQc(BigInt.asUintN(64, v));
      case 'U':
        return this.fmtUnicode(BigInt.asUintN(64, v));
      default:
        this.badVerb(verb);
    }
  }

  fmtFloat(v: number, verb: string): void {
    switch (verb) {
      case 'v':
        return this.fmtFloatRaw(v, 'g', -1);
      case 'b':
      case 'g':
      case 'G':
      case 'x':
      case 'X':
        return this.fmtFloatRaw(v, verb, -1);
      case 'f':
      case 'e':
      case 'E':
        return this.fmtFloatRaw(v, verb, 6);
      case 'F':
        return this.fmtFloatRaw(v, 'f', 6);
      default:
        this.badVerb(verb);
    }
  }

  fmtString(v: string, verb: string): void {
    switch (verb) {
      case 'v':
        if (this.sharpV) this.fmtQ(v);
        else this.fmtS(v);
        return;
      case 's':
        return this.fmtS(v);
      case 'x':
        return this.fmtSbx(toBytes(v), ldigits);
      case 'X':
        return this.fmtSbx(toBytes(v), udigits);
      case 'q':
        return this.fmtQ(v);
      default:
        this.badVerb(verb);
    }
  }

  handleMethods(arg: unknown, verb: string): boolean {
    if (this.erroring) return false;
    if (!(arg instanceof GoStruct) || !arg.goString) return false;
    if (this.sharpV) return false;
    switch (verb) {
      case 'v':
      case 's':
      case 'x':
      case 'X':
      case 'q':
        this.fmtString(arg.goString(), verb);
        return true;
    }
    return false;
  }

  printArg(arg: unknown, verb: string): void {
    this.arg = arg;
    this.hasArg = true;
    if (arg === null || arg === undefined) {
      if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb);
      return;
    }
    if (verb === 'T') {
      this.fmtS(goTypeOf(arg));
      return;
    }
    if (verb === 'p') {
      this.badVerb(verb);
      return;
    }
    if (typeof arg === 'string') return this.fmtString(arg, verb);
    if (typeof arg === 'number') {
      if (isGoInt(arg)) return this.fmtIntegerVerb(BigInt(arg), true, verb);
      return this.fmtFloat(arg, verb);
    }
    if (typeof arg === 'boolean') return this.fmtBool(arg, verb);
    if (arg instanceof GoNum) {
      if (arg.t.startsWith('float')) return this.fmtFloat(arg.v, verb);
      return this.fmtIntegerVerb(BigInt(Math.trunc(arg.v)), !arg.t.startsWith('uint'), verb);
    }
    if (this.handleMethods(arg, verb)) return;
    this.printValue(arg, verb, 0);
  }

  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  printValue(value: unknown, verb: string, depth: number): void {
    if (depth > 0 && value !== undefined && value !== null) {
      this.arg = value;
      this.hasArg = true;
      if (this.handleMethods(value, verb)) return;
    }
    this.arg = undefined;
    this.hasArg = false;
    if (value === undefined || value === null) {
      if (depth === 0 && value === undefined) this.buf += '<invalid reflect.Value>';
      else if (value === null) this.buf += this.sharpV ? 'interface {}(nil)' : '<nil>';
      else if (verb === 'v') this.buf += '<nil>';
      else this.badVerb(verb, value, true);
      return;
    }
    if (typeof value === 'string') {
      this.hasArg = false;
      if (verb === 'v' || verb === 's' || verb === 'q' || verb === 'x' || verb === 'X')
        return this.fmtString(value, verb);
      return this.badVerb(verb, value, true);
    }
    if (typeof value === 'boolean') {
      if (verb === 't' || verb === 'v') return this.fmtBoolean(value);
      return this.badVerb(verb, value, true);
    }
    if (typeof value !== 'number' && typeof value !== 'object') {
      this.buf += '?';
      return;
    }
    if (typeof value === 'number' || value instanceof GoNum) {
      this.printNumberElem(value, verb);
      return;
    }
    if (Array.isArray(value)) return this.printSlice(value, verb, depth);
    if (value instanceof Uint8Array) return this.printSlice(Array.from(value), verb, depth);
    if (value instanceof GoStruct) {
      if (this.sharpV) this.buf += value.goType();
      this.buf += '{' + (value.goString ? value.goString() : '') + '}';
      return;
    }
    if (value instanceof GoObject) {
      this.buf += '?';
      return;
    }
    if (isGoMap(value)) this.printMap(value, verb, depth);
  }

  private printNumberElem(value: number | GoNum, verb: string): void {
    const n = numValue(value);
    const isFloat = typeof value === 'number' ? !isGoInt(value) : value.t.startsWith('float');
    this.arg = value;
    this.hasArg = true;
    if (isFloat) this.fmtFloat(n, verb);
    else
      this.fmtIntegerVerb(
        BigInt(Math.trunc(n)),
        !(value instanceof GoNum && value.t.startsWith('uint')),
        verb,
      );
  }

  printSlice(arr: unknown[], verb: string, depth: number): void {
    const elem = sliceElemType(arr);
    if (elem === 'uint8' && (verb === 's' || verb === 'q' || verb === 'x' || verb === 'X')) {
      const bytes = Uint8Array.from(arr.map((x) => numValue(x)));
      const s = new TextDecoder().decode(bytes);
      if (verb === 's') this.fmtS(s);
      else if (verb === 'q') this.fmtQ(s);
      else this.fmtSbx(bytes, verb === 'x' ? ldigits : udigits);
      return;
    }
    if (this.sharpV) {
      this.buf += goTypeOf(arr) + '{';
      for (let i = 0; i < arr.length; i++) {
        if (i > 0) this.buf += ', ';
        this.printValue(arr[i], verb, depth + 1);
      }
      this.buf += '}';
      return;
    }
    this.buf += '[';
    for (let i = 0; i < arr.length; i++) {
      if (i > 0) this.buf += ' ';
      this.printValue(arr[i], verb, depth + 1);
    }
    this.buf += ']';
  }

  printMap(m: GoMap, verb: string, depth: number): void {
    if (this.sharpV) this.buf += goTypeOf(m) + '{';
    else this.buf += 'map[';
    const keys = sortedKeys(m);
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) this.buf += this.sharpV ? ', ' : ' ';
      this.printValue(keys[i], verb, depth + 1);
      this.buf += ':';
      this.printValue(m[keys[i]], verb, depth + 1);
    }
    this.buf += this.sharpV ? '}' : ']';
  }

  argNumber(argNum: number, format: string, i: number, numArgs: number): [number, number, boolean] {
    if (format.length <= i || format[i] !== '[') return [argNum, i, false];
    this.reordered = true;
    const [index, wid, ok] = parseArgNumber(format.slice(i));
    if (ok && index >= 0 && index < numArgs) return [index, i + wid, true];
    this.goodArgNum = false;
    return [argNum, i + wid, ok];
  }

  // eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
  doPrintf(format: string, a: unknown[]): void {
    const end = format.length;
    let argNum = 0;
    let afterIndex: boolean;
    this.reordered = false;
    let i = 0;
    formatLoop: while (i < end) {
      this.goodArgNum = true;
      const lasti = i;
      while (i < end && format[i] !== '%') i++;
      if (i > lasti) this.buf += format.slice(lasti, i);
      if (i >= end) break;
      i++;
      this.clearflags();
      simpleFormat: for (; i < end; i++) {
        const c = format[i];
        switch (c) {
          case '#':
            this.sharp = true;
            break;
          case '0':
            this.zero = true;
            break;
          case '+':
            this.plus = true;
            break;
          case '-':
            this.minus = true;
            break;
          case ' ':
            this.space = true;
            break;
          default:
            if (c >= 'a' && c <= 'z' && argNum < a.length) {
              if (c === 'v' || c === 'w') {
                this.sharpV = this.sharp;
                this.sharp = false;
                this.plusV = this.plus;
                this.plus = false;
              }
              this.printArg(a[argNum], c === 'w' ? 'v' : c);
              argNum++;
              i++;
              continue formatLoop;
            }
            break simpleFormat;
        }
      }
      [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
      if (i < end && format[i] === '*') {
        i++;
        [this.wid, this.widPresent, argNum] = intFromArg(a, argNum);
        if (!this.widPresent) this.buf += '%!(BADWIDTH)';
        if (this.wid < 0) {
          this.wid = -this.wid;
          this.minus = true;
          this.zero = false;
        }
        afterIndex = false;
      } else {
        [this.wid, this.widPresent, i] = parsenum(format, i, end);
        if (afterIndex && this.widPresent) this.goodArgNum = false;
      }
      if (i + 1 < end && format[i] === '.') {
        i++;
        if (afterIndex) this.goodArgNum = false;
        [argNum, i, afterIndex] = this.argNumber(argNum, format, i, a.length);
        if (i < end && format[i] === '*') {
          i++;
          [this.prec, this.precPresent, argNum] = intFromArg(a, argNum);
          if (this.prec < 0) {
            this.prec = 0;
            this.precPresent = false;
          }
          if (!this.precPresent) this.buf += '%!(BADPREC)';
          afterIndex = false;
        } else {
          [this.prec, this.precPresent, i] = parsenum(format, i, end);
          if (!this.precPresent) {
            this.prec = 0;
            this.precPresent = true;
          }
        }
      }
      if (!afterIndex) [argNum, i] = this.argNumber(argNum, format, i, a.length);
      if (i >= end) {
        this.buf += '%!(NOVERB)';
        break;
      }
      const verb = String.fromCodePoint(format.codePointAt(i)!);
      i += verb.length;
      if (verb === '%') this.buf += '%';
      else if (!this.goodArgNum) this.buf += '%!' + verb + '(BADINDEX)';
      else if (argNum >= a.length) this.buf += '%!' + verb + '(MISSING)';
      else {
        let v = verb;
        if (verb === 'v' || verb === 'w') {
          this.sharpV = this.sharp;
          this.sharp = false;
          this.plusV = this.plus;
          this.plus = false;
          v = 'v';
        }
        this.printArg(a[argNum], v);
        argNum++;
      }
    }
    if (!this.reordered && argNum < a.length) {
      this.clearflags();
      this.buf += '%!(EXTRA ';
      for (let k = argNum; k < a.length; k++) {
        if (k > argNum) this.buf += ', ';
        const arg = a[k];
        if (arg === null || arg === undefined) this.buf += '<nil>';
        else {
          this.buf += goTypeOf(arg) + '=';
          this.printArg(arg, 'v');
        }
      }
      this.buf += ')';
    }
  }
}

function tooLarge(x: number): boolean {
  return x > 1e6 || x < -1e6;
}

function parsenum(s: string, start: number, end: number): [number, boolean, number] {
  if (start >= end) return [0, false, end];
  let num = 0;
  let isnum = false;
  let i = start;
  for (; i < end && s[i] >= '0' && s[i] <= '9'; i++) {
    if (tooLarge(num)) return [0, false, end];
    num = num * 10 + (s.charCodeAt(i) - 48);
    isnum = true;
  }
  return [num, isnum, i];
}

function parseArgNumber(format: string): [number, number, boolean] {
  if (format.length < 3) return [0, 1, false];
  for (let i = 1; i < format.length; i++) {
    if (format[i] === ']') {
      const [width, ok, newi] = parsenum(format, 1, i);
      if (!ok || newi !== i) return [0, i + 1, false];
      return [width - 1, i + 1, true];
    }
  }
  return [0, 1, false];
}

function intFromArg(a: unknown[], argNum: number): [number, boolean, number] {
  let num = 0;
  let isInt = false;
  let newArgNum = argNum;
  if (argNum < a.length) {
    const v = a[argNum];
    if (typeof v === 'number' && isGoInt(v)) {
      num = v;
      isInt = true;
    } else if (v instanceof GoNum && !v.t.startsWith('float')) {
      num = v.v;
      isInt = true;
    }
    newArgNum = argNum + 1;
    if (tooLarge(num)) {
      num = 0;
      isInt = false;
    }
  }
  return [num, isInt, newArgNum];
}

/** fmt.Sprintf */
export function sprintf(format: string, args: unknown[]): string {
  const p = new Printer();
  p.doPrintf(format, args);
  return p.buf;
}

function isStringArg(v: unknown): boolean {
  return typeof v === 'string';
}

/** fmt.Sprint: spaces between operands when neither is a string. */
export function sprint(args: unknown[]): string {
  if (args.length === 1) return formatV(args[0]);
  let out = '';
  let prevString = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const isString = isStringArg(arg);
    if (i > 0 && !isString && !prevString) out += ' ';
    out += formatV(arg);
    prevString = isString;
  }
  return out;
}

/** fmt.Sprintln */
export function sprintln(args: unknown[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) out += ' ';
    out += formatV(args[i]);
  }
  return out + '\n';
}

/** fmt.Sprint of one value (%v). */
export function formatV(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && isGoInt(v)) return Object.is(v, -0) ? '0' : String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v === null || v === undefined) return '<nil>';
  const p = new Printer();
  p.printArg(v, 'v');
  return p.buf;
}
