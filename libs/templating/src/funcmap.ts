/** The Argo CD ApplicationSet function map: builtins + sprig (TxtFuncMap minus env/expandenv/getHostByName) + extras. */
import { addArgoFuncs } from './argo.js';
import { addBuiltins } from './go/builtins.js';
import type { FuncMap, GoFunc } from './go/funcs.js';
import { addCollectionFuncs } from './sprig/collections.js';
import { addMiscFuncs } from './sprig/misc.js';
import { addNumericFuncs } from './sprig/numeric.js';
import { addStringFuncs } from './sprig/strings.js';

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
  return m;
}

export const argoFuncs: ReadonlyMap<string, GoFunc> = build();
