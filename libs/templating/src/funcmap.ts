/** The Argo CD ApplicationSet function map: builtins + sprig (TxtFuncMap minus env/expandenv/getHostByName) + extras. */
import { addArgoFuncs } from './argo.js';
import { addBuiltins } from './go/builtins.js';
import type { FuncMap, GoFunc } from './go/funcs.js';
import { addCollectionFuncs } from './sprig/collections.js';
import { addMiscFuncs } from './sprig/misc.js';
import { addNumericFuncs } from './sprig/numeric.js';
import { addStringFuncs } from './sprig/strings.js';

/**
 * Functions whose result is not a function of their arguments: the clock (the date functions read
 * it for any argument that is not a time, as sprig's do) and chance.
 */
export const CLOCK_AND_CHANCE_FUNCTIONS: readonly string[] = [
  'now',
  'ago',
  'date',
  'dateInZone',
  'date_in_zone',
  'htmlDate',
  'htmlDateInZone',
  'durationRound',
  'uuidv4',
  'randBytes',
  'randInt',
  'randAlphaNum',
  'randAlpha',
  'randAscii',
  'randNumeric',
  'shuffle',
  'encryptAES',
  'genPrivateKey',
];

/**
 * {@link CLOCK_AND_CHANCE_FUNCTIONS}, and the functions that change the maps they are given
 * (sprig's set, unset, merge). A render that calls none of them gives the same text for the same
 * template and data, and leaves the data as it was.
 */
export const IMPURE_FUNCTIONS: readonly string[] = [
  ...CLOCK_AND_CHANCE_FUNCTIONS,
  'set',
  'unset',
  'merge',
  'mustMerge',
  'mergeOverwrite',
  'mustMergeOverwrite',
];

let impure = 0;

/**
 * How many calls of {@link IMPURE_FUNCTIONS} templates have made in this process so far: a
 * render during which it does not change may be remembered by its template and data.
 */
export function impureCalls(): number {
  return impure;
}

function countingCalls(f: GoFunc): GoFunc {
  const fn = f.fn;
  return {
    ...f,
    fn: function (...args) {
      impure++;
      return fn.apply(this, args);
    },
  };
}

function build(): ReadonlyMap<string, GoFunc> {
  const m: FuncMap = new Map();
  addBuiltins(m);
  // sprig functions override builtins of the same name (e.g. `slice`), as Funcs() does in Go.
  const sprig: FuncMap = new Map();
  addStringFuncs(sprig);
  addNumericFuncs(sprig);
  addCollectionFuncs(sprig);
  addMiscFuncs(sprig);
  addArgoFuncs(sprig);
  for (const name of ['env', 'expandenv', 'getHostByName']) sprig.delete(name);
  for (const [k, v] of sprig) m.set(k, v);
  for (const name of IMPURE_FUNCTIONS) {
    const f = m.get(name);
    if (!f) throw new Error(`IMPURE_FUNCTIONS names ${name}, which is not defined`);
    m.set(name, countingCalls(f));
  }
  return m;
}

export const argoFuncs: ReadonlyMap<string, GoFunc> = build();
