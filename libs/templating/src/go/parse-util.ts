/** Number constants (NumberNode) and small parse-tree helpers. */
import { T } from './lexer.js';
import type { Node, NumberNode, TreeRef } from './nodes.js';
import { parseGoBigInt, parseGoFloat, quote, unquote } from './strconv.js';
import { GoNum, byteLength, float64, isGoInt } from './values.js';

function quoteName(s: string): string {
  return quote(s);
}
// eslint-disable-next-line complexity -- a direct port of the Go original; kept in one piece for fidelity
export function newNumber(
  pos: number,
  text: string,
  typ: T,
  tree: TreeRef,
  errorf: (msg: string) => never,
): NumberNode {
  const n: NumberNode = {
    type: 'number',
    pos,
    tree,
    isInt: false,
    isUint: false,
    isFloat: false,
    isComplex: false,
    int: 0,
    uint: 0,
    float: 0,
    text,
  };
  if (typ === T.CharConstant) {
    let s: string;
    try {
      s = unquote(text);
    } catch {
      errorf(`malformed character constant: ${text}`);
    }
    const r = s.codePointAt(0)!;
    n.int = n.uint = n.float = r;
    n.isInt = n.isUint = n.isFloat = true;
    finishConstant(n);
    return n;
  }
  if (typ === T.Complex || text.endsWith('i')) {
    const m = /^([+-]?[^+-]*(?:[eEpP][+-][^+-]*)?)(?:([+-].*)i)?$/.exec(text);
    const imagOnly = typ !== T.Complex;
    const re = imagOnly ? 0 : parseGoFloat(m?.[1] ?? '');
    const im = imagOnly ? parseGoFloat(text.slice(0, -1)) : parseGoFloat(m?.[2] ?? '');
    if (re === undefined || im === undefined) errorf(`illegal number syntax: ${quoteName(text)}`);
    n.isComplex = true;
    if (im === 0) {
      n.isFloat = true;
      n.float = re;
      n.isInt = Number.isInteger(re);
      n.int = re;
      n.isUint = n.isInt && re >= 0;
      n.uint = re;
    }
    finishConstant(n);
    return n;
  }
  const u = parseGoBigInt(text, 0);
  if (u !== undefined && u >= 0n && u <= 18446744073709551615n) {
    n.isUint = true;
    n.uint = Number(u);
  }
  if (u !== undefined && u >= -9223372036854775808n && u <= 9223372036854775807n) {
    n.isInt = true;
    n.int = Number(u);
    n.bigInt = u;
  }
  if (n.isInt) {
    n.isFloat = true;
    n.float = n.int;
  } else if (n.isUint) {
    n.isFloat = true;
    n.float = n.uint;
  } else {
    const f = parseGoFloat(text);
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) errorf(`integer overflow: ${quoteName(text)}`);
      n.isFloat = true;
      n.float = f;
      if (Number.isInteger(f) && Math.abs(f) < 9223372036854775808) {
        n.isInt = true;
        n.int = f;
      }
      if (Number.isInteger(f) && f >= 0 && f < 18446744073709551616) {
        n.isUint = true;
        n.uint = f;
      }
    }
  }
  if (!n.isInt && !n.isUint && !n.isFloat) errorf(`illegal number syntax: ${quoteName(text)}`);
  finishConstant(n);
  return n;
}

/** Precompute idealConstant (exec.go) so execution does no number parsing. */
function finishConstant(n: NumberNode): void {
  const isHexInt =
    n.text.length > 2 &&
    n.text[0] === '0' &&
    (n.text[1] === 'x' || n.text[1] === 'X') &&
    !/[pP]/.test(n.text);
  const isRuneInt = n.text[0] === "'";
  if (n.isComplex && !n.isFloat) {
    n.constantError = `complex constant ${n.text} is not supported`;
  } else if (n.isFloat && !isHexInt && !isRuneInt && /[.eEpP]/.test(n.text)) {
    n.constant = float64(n.float);
  } else if (n.isInt) {
    n.constant = isGoInt(n.int) ? n.int : new GoNum('int', n.int);
  } else if (n.isUint) {
    n.constantError = `${n.text} overflows int`;
  }
}

export function isEmptyTree(n: Node | null): boolean {
  if (n === null || n.type === 'comment') return true;
  if (n.type === 'list') return n.nodes.every(isEmptyTree);
  if (n.type === 'text') return n.text.trim().length === 0;
  return false;
}

/** Column as Go's ErrorContext computes it: byte offset within the line. */
export function columnOf(text: string, pos: number): number {
  const nl = text.lastIndexOf('\n', pos - 1);
  return byteLength(text.slice(nl + 1, pos));
}

export function lineOf(text: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
