import { clusterParams } from './cluster.js';
import { GeneratorError, errorMessage } from './errors.js';
import { gitParams } from './git.js';
import { flattenDotStyle, goSprintV } from './go.js';
import { listParams } from './list.js';
import { pluginParams } from './plugin.js';
import { pullRequestParams } from './pull-request.js';
import { scmProviderParams } from './scm-provider.js';
import { clusterDecisionParams } from './cluster-decision.js';
import { mergoMerge } from './mergo.js';
import { compileTree, isTemplated, renderTree, toStringMap, type CompiledTree } from './render.js';
import { checkParamLimit, createRuntime, overBudget, type Runtime } from './runtime.js';
import { checkGeneratorSpec } from './schema.js';
import { compileSelector, type LabelMatcher } from './selector.js';
import {
  GENERATOR_TYPES,
  type GeneratorContext,
  type GeneratorOutput,
  type GeneratorSpec,
  type GeneratorType,
  type ParamSet,
} from './types.js';

/**
 * Runs one generator entry (as found in `spec.generators`) and returns its parameter sets.
 *
 * The entry is validated first; any problem, as well as any runtime failure, throws a
 * {@link GeneratorError} whose message starts with the path of the failing generator, e.g.
 * `spec.generators[0].matrix.generators[1].git: …`. `path` is the path of this entry.
 */
export async function generate(
  gen: GeneratorSpec,
  ctx: GeneratorContext,
  path = 'generators[0]',
): Promise<ParamSet[]> {
  return (await generateWithTemplate(gen, ctx, path)).params;
}

/**
 * Like {@link generate}, and also returns the generator's own `template` (Argo's per-generator
 * template override, e.g. `generators[0].list.template`). Only top-level generators carry one;
 * templates of generators nested in a matrix or merge are ignored, as in Argo.
 */
export async function generateWithTemplate(
  gen: GeneratorSpec,
  ctx: GeneratorContext,
  path = 'generators[0]',
): Promise<GeneratorOutput> {
  const check = checkGeneratorSpec(gen, path);
  if (!check.spec) {
    const first = check.errors[0];
    const more = check.errors.length > 1 ? ` (and ${check.errors.length - 1} more problem(s))` : '';
    throw new GeneratorError(first.path, `${first.message}${more}`);
  }
  const rt = createRuntime(ctx, path);
  const params = await runEntry(check.spec, rt, path);
  const type = generatorType(check.spec);
  const template = check.spec[type]?.template;
  return template ? { params, template } : { params };
}

export function generatorType(entry: GeneratorSpec): GeneratorType {
  for (const t of GENERATOR_TYPES) if (entry[t] !== undefined) return t;
  throw new Error('generator entry without a generator');
}

const selectorCache = new WeakMap<object, LabelMatcher>();

/**
 * Argo's post-selector: matched against the flattened parameters (`flatten.DotStyle` and `%v`), so
 * nested goTemplate values are selectable as `path.basename`, `metadata.labels.env`, …
 */
function applySelector(entry: GeneratorSpec, params: ParamSet[], path: string): ParamSet[] {
  if (!entry.selector) return params;
  let matches = selectorCache.get(entry.selector);
  if (!matches) {
    try {
      matches = compileSelector(entry.selector, { validateValues: false });
    } catch (e) {
      throw new GeneratorError(`${path}.selector`, errorMessage(e));
    }
    selectorCache.set(entry.selector, matches);
  }
  const m = matches;
  return params.filter((p) => {
    const flat: Record<string, string> = {};
    for (const [k, v] of flattenDotStyle(p)) flat[k] = goSprintV(v);
    return m(flat);
  });
}

async function runEntry(entry: GeneratorSpec, rt: Runtime, path: string): Promise<ParamSet[]> {
  const type = generatorType(entry);
  const genPath = `${path}.${type}`;
  let params: ParamSet[];
  switch (type) {
    case 'list':
      params = listParams(entry.list!, rt, genPath);
      break;
    case 'clusters':
      params = await clusterParams(entry.clusters!, rt, genPath);
      break;
    case 'git':
      params = await gitParams(entry.git!, rt, genPath);
      break;
    case 'plugin':
      params = await pluginParams(entry.plugin!, rt, genPath);
      break;
    case 'pullRequest':
      params = await pullRequestParams(entry.pullRequest!, rt, genPath);
      break;
    case 'scmProvider':
      params = await scmProviderParams(entry.scmProvider!, rt, genPath);
      break;
    case 'clusterDecisionResource':
      params = await clusterDecisionParams(entry.clusterDecisionResource!, rt, genPath);
      break;
    case 'matrix':
      params = await matrixParams(entry, rt, genPath);
      break;
    case 'merge':
      params = await mergeParams(entry, rt, genPath);
      break;
  }
  checkParamLimit(rt, params.length, genPath);
  return applySelector(entry, params, path);
}

/** Longest one interpolation of a matrix child may render, as one application's templates. */
const MAX_INTERPOLATION_MS = 2000;

const compiledEntries = new WeakMap<object, CompiledTree>();

function compiledEntry(entry: GeneratorSpec): CompiledTree {
  let c = compiledEntries.get(entry);
  if (!c) {
    c = compileTree(entry);
    compiledEntries.set(entry, c);
  }
  return c;
}

/**
 * Argo's `InterpolateGenerator`: the child entry (every string of it, map keys included) is
 * rendered with one param set of the previous children before running it. Identical interpolated
 * specs are run once.
 */
class InterpolatedChild {
  private readonly compiled: CompiledTree;
  private readonly memo = new Map<string, Promise<ParamSet[]>>();
  private plain?: Promise<ParamSet[]>;

  constructor(
    private readonly entry: GeneratorSpec,
    private readonly rt: Runtime,
    private readonly path: string,
  ) {
    this.compiled = compiledEntry(entry);
  }

  params(prev: ParamSet | undefined): Promise<ParamSet[]> {
    if (!prev || !isTemplated(this.compiled) || Object.keys(prev).length === 0) {
      this.plain ??= runEntry(this.entry, this.rt, this.path);
      return this.plain;
    }
    let spec: GeneratorSpec;
    const { budget, renderer } = this.rt;
    if (budget.left() <= 0) throw overBudget(this.rt, this.path);
    try {
      spec = budget.run(
        renderer,
        MAX_INTERPOLATION_MS,
        () => renderTree(this.compiled, prev, renderer) as GeneratorSpec,
      );
    } catch (e) {
      if (budget.left() <= 0) throw overBudget(this.rt, this.path);
      throw new GeneratorError(
        this.path,
        `failed to interpolate the generator with the parameters of the previous generators: ${errorMessage(e)}`,
      );
    }
    const key = JSON.stringify(spec);
    let p = this.memo.get(key);
    if (!p) {
      p = runEntry(spec, this.rt, this.path);
      this.memo.set(key, p);
    }
    return p;
  }
}

/**
 * Matrix: the cartesian product of the children, left to right. Each child after the first is
 * interpolated with every combined param set produced so far (Argo does this for its second
 * child; Axle allows any number of children at any depth).
 */
async function matrixParams(entry: GeneratorSpec, rt: Runtime, path: string): Promise<ParamSet[]> {
  const children = entry.matrix!.generators;
  const childPath = (i: number) => `${path}.generators[${i}]`;
  let res = await runEntry(children[0], rt, childPath(0));
  for (let i = 1; i < children.length; i++) {
    const where = childPath(i);
    const child = new InterpolatedChild(children[i], rt, where);
    const next: ParamSet[] = [];
    for (const prev of res) {
      await rt.budget.pace();
      const curr = await child.params(prev);
      checkParamLimit(rt, next.length + curr.length, path);
      for (const c of curr) next.push(combineMatrix(prev, c, rt, where));
    }
    res = next;
  }
  return res;
}

function combineMatrix(a: ParamSet, b: ParamSet, rt: Runtime, path: string): ParamSet {
  if (rt.renderer.goTemplate) {
    // mergo.Merge(&tmp, b, WithOverride); mergo.Merge(&tmp, a, WithOverride): nested maps are merged,
    // the earlier child wins every conflict.
    const tmp: ParamSet = {};
    mergoMerge(tmp, b, true);
    mergoMerge(tmp, a, true);
    return tmp;
  }
  // utils.CombineStringMaps: everything becomes a string; a key may only repeat with the same value.
  const as = toStringMap(a);
  const bs = toStringMap(b);
  const out: Record<string, string> = {};
  for (const k in as) out[k] = as[k];
  for (const k in bs) {
    const v = bs[k];
    const current = out[k];
    if (current !== undefined && current !== v)
      throw new GeneratorError(
        path,
        `failed to combine parameters with the previous generators: found duplicate key ${k} with different value, a: ${current} ,b: ${v} (use pathParamPrefix or distinct keys)`,
      );
    out[k] = v;
  }
  return out;
}

function mergeKeyOf(params: ParamSet, keys: string[]): string {
  const o: Record<string, unknown> = {};
  for (const k of keys) o[k] = params[k] ?? null;
  return JSON.stringify(o);
}

/**
 * Merge: the param sets of the first child, each overridden by the param sets of later children
 * with the same values for `mergeKeys` (later children win). The param sets of every child must be
 * unique per merge key; unmatched ones are dropped. Order follows the first child (Argo: random).
 */
async function mergeParams(entry: GeneratorSpec, rt: Runtime, path: string): Promise<ParamSet[]> {
  const spec = entry.merge!;
  const keys = [...new Set(spec.mergeKeys)].sort();
  const sets: ParamSet[][] = [];
  for (let i = 0; i < spec.generators.length; i++)
    sets.push(await runEntry(spec.generators[i], rt, `${path}.generators[${i}]`));
  const indexByKey = (g: number): Map<string, ParamSet> => {
    const byKey = new Map<string, ParamSet>();
    for (const p of sets[g]) {
      const k = mergeKeyOf(p, keys);
      if (byKey.has(k))
        throw new GeneratorError(
          `${path}.generators[${g}]`,
          `the parameters from a generator were not unique by the given mergeKeys, Merge requires all param sets to be unique. Duplicate key was ${k}`,
        );
      byKey.set(k, p);
    }
    return byKey;
  };
  indexByKey(0);
  const base = sets[0].slice();
  const baseKeys = base.map((p) => mergeKeyOf(p, keys));
  for (let g = 1; g < sets.length; g++) {
    const byKey = indexByKey(g);
    for (let i = 0; i < base.length; i++) {
      const override = byKey.get(baseKeys[i]);
      if (!override) continue;
      if (rt.renderer.goTemplate) base[i] = mergoMerge({ ...base[i] }, override, true);
      else base[i] = { ...toStringMap(base[i]), ...toStringMap(override) };
    }
  }
  return base;
}
