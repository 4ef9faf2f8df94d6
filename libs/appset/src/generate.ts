import {
  GeneratorError,
  GeneratorLimitError,
  Renderer,
  TemplateBudget,
  cloneJson,
  compileTree,
  errorMessage,
  generateWithTemplate,
  mergoMerge,
  renderTree,
  sharedConstant,
  validateSpec,
  type CompiledTree,
  type ParamSet,
} from '../../generators/src/index.js';
import { impureCalls } from '../../templating/src/index.js';
import { applicationSpecHash } from './plan.js';
import { applyTemplatePatch } from './patch.js';
import { templateOverrideSchema } from './schema.js';
import type {
  ApplicationSet,
  GenerateApplicationsContext,
  GenerateApplicationsResult,
  GeneratedApplication,
  GenerationError,
} from './types.js';
import { frozen, type RenderedEntry, type RenderMemo } from './render-memo.js';
import { ClusterIndex, placementOf, validateApplication } from './validate.js';

export const RESOURCES_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

/** Default of GenerateApplicationsContext.maxRenderMs. */
export const DEFAULT_MAX_RENDER_MS = 120_000;
/**
 * Longest one Application's templates may take to render (they run without handing the event
 * loop back): past it, that Application fails with a time limit error.
 */
export const MAX_APPLICATION_RENDER_MS = 2000;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Runs the generators of an ApplicationSet and renders one Application per parameter set, as Argo
 * CD's ApplicationSet controller does:
 *
 * - a generator's own `template` is merged over `spec.template` (mergo semantics: the generator's
 *   non-empty fields win);
 * - every string (and map key) of the template is rendered with the param set (goTemplate or
 *   fasttemplate); `spec.templatePatch` is then rendered, parsed and applied;
 * - `resources-finalizer.argocd.argoproj.io` is added unless the template sets finalizers or
 *   `syncPolicy.preserveResourcesOnDeletion` is true;
 * - each Application is validated on its own (name, project, source, destination cluster), and
 *   Applications sharing a name are all reported and skipped.
 *
 * Failures are isolated: a failing generator or param set is reported in `errors` and the rest is
 * still generated (Argo CD would stop at the first error). `complete` tells whether the result can
 * be trusted for deletions.
 */
export async function generateApplications(
  appset: ApplicationSet,
  ctx: GenerateApplicationsContext,
): Promise<GenerateApplicationsResult> {
  const memo = ctx.renders?.claim() ? ctx.renders : undefined;
  try {
    return await generateWith(appset, ctx, memo);
  } finally {
    memo?.release();
  }
}

async function generateWith(
  appset: ApplicationSet,
  ctx: GenerateApplicationsContext,
  memo: RenderMemo | undefined,
): Promise<GenerateApplicationsResult> {
  const spec = appset.spec;
  const errors: GenerationError[] = [];
  // The valid Applications, with their index and generator (parallel arrays: no object each).
  const candidates: GeneratedApplication[] = [];
  const candidateIndex: number[] = [];
  const candidateGenerator: number[] = [];
  let complete = true;
  const renderer = new Renderer({
    goTemplate: spec.goTemplate,
    goTemplateOptions: spec.goTemplateOptions,
  });
  const clusters = new ClusterIndex(ctx.clusters);
  const projects = ctx.projects ? new Set(ctx.projects) : undefined;
  const preserve = spec.syncPolicy.preserveResourcesOnDeletion;
  // The applications counted are what the generators produce in the end (after their selectors);
  // their intermediate results are bounded by limits.maxParamSets only.
  const maxApplications = ctx.maxApplications ?? Infinity;
  const overLimit = (
    g: number,
    message: string,
    limit: NonNullable<GenerationError['limit']>,
  ): GenerateApplicationsResult => ({
    applications: [],
    errors: [{ index: -1, generator: g, stage: 'limit', limit, message }],
    complete: false,
  });
  let index = 0;
  // Whether a template called an impure function (see GenerateApplicationsResult.impure).
  let impure = false;
  const maxRenderMs = ctx.maxRenderMs ?? DEFAULT_MAX_RENDER_MS;
  // Time spent rendering so far, generators' templates included (not the time yielded).
  const budget = new TemplateBudget(maxRenderMs, ctx.signal);

  // A template called an impure function: the memo remembers nothing of this round.
  const impurity = () => {
    impure = true;
    memo?.spoil();
  };

  for (let g = 0; g < spec.generators.length; g++) {
    const path = `spec.generators[${g}]`;
    const out = await paramsOf(appset, g, ctx, budget, impurity);
    // Too many parameter sets, or the render time used up by generators' templates: the
    // ApplicationSet is refused whole (what it would keep or drop is arbitrary), and nothing it
    // generated before is deleted (complete is false).
    if ('limit' in out) return overLimit(g, out.limit.message, out.limit.limit);
    if ('error' in out) {
      complete = false;
      errors.push({ index: -1, generator: g, stage: 'generator', message: out.error });
      continue;
    }
    const { params, override } = out;

    if (index + params.length > maxApplications)
      return overLimit(g, tooMany(path, index + params.length, maxApplications), 'applications');

    const template = effectiveTemplate(
      spec.template as unknown as Record<string, unknown>,
      override,
      `${path}`,
    );
    const compiled = compileTree(template, 'spec.template', { shareConstants: true });
    memo?.generator(g, renderKey(template, spec.templatePatch, spec, preserve));
    const run: RenderRun = {
      compiled,
      renderer,
      budget,
      spec,
      preserve,
      clusters,
      projects,
      memo,
      impurity,
    };
    for (let k = 0; k < params.length; k++) {
      // Every 20 ms the event loop is handed back; what others ran meanwhile is not counted.
      const yielding = budget.pace();
      if (yielding) await yielding;
      if (budget.left() <= 0) return overLimit(g, tooSlow(path, index, maxRenderMs), 'renderTime');
      const i = index++;
      const app = applicationAt(k, params[k], run);
      if ('stage' in app) {
        errors.push({ index: i, generator: g, ...app });
        if (!app.name) complete = false;
        continue;
      }
      candidates.push(app);
      candidateIndex.push(i);
      candidateGenerator.push(g);
    }
    if (budget.left() <= 0) return overLimit(g, tooSlow(path, index, maxRenderMs), 'renderTime');
  }

  // Every Application whose name is generated more than once is reported and skipped.
  const firstWithName = new Map<string, number>();
  let duplicates: Map<string, number[]> | undefined;
  for (let k = 0; k < candidates.length; k++) {
    const name = candidates[k].metadata.name;
    const first = firstWithName.get(name);
    if (first === undefined) {
      firstWithName.set(name, k);
      continue;
    }
    duplicates ??= new Map();
    const list = duplicates.get(name);
    if (list) list.push(k);
    else duplicates.set(name, [first, k]);
  }
  let applications = candidates;
  if (duplicates) {
    applications = [];
    for (let k = 0; k < candidates.length; k++) {
      const app = candidates[k];
      const dup = duplicates.get(app.metadata.name);
      if (!dup) {
        applications.push(app);
        continue;
      }
      errors.push({
        index: candidateIndex[k],
        name: app.metadata.name,
        generator: candidateGenerator[k],
        stage: 'duplicate',
        message: `ApplicationSet ${appset.metadata.name} contains applications with duplicate name: ${app.metadata.name} (generated ${dup.length} times, at indexes ${dup.map((d) => candidateIndex[d]).join(', ')})`,
      });
    }
  }
  errors.sort((a, b) => a.index - b.index);
  return { applications, errors, complete, ...(impure ? { impure } : {}) };
}

/**
 * The parameter sets of generator `g` (and its own template), or why it failed: `limit` refuses
 * the ApplicationSet whole. `impurity` is called when its templates called an impure function
 * (they may change maps of parameter sets remembered already).
 */
async function paramsOf(
  appset: ApplicationSet,
  g: number,
  ctx: GenerateApplicationsContext,
  budget: TemplateBudget,
  impurity: () => void,
): Promise<
  | { params: ParamSet[]; override: Record<string, unknown> | undefined }
  | { error: string }
  | { limit: GeneratorLimitError }
> {
  const { spec } = appset;
  const path = `spec.generators[${g}]`;
  const calls = impureCalls();
  try {
    const out = await generateWithTemplate(
      spec.generators[g],
      {
        clusters: ctx.clusters,
        git: ctx.git,
        goTemplate: spec.goTemplate,
        goTemplateOptions: spec.goTemplateOptions,
        limits: ctx.limits,
        newGitFileGlobbing: ctx.newGitFileGlobbing,
        plugins: ctx.plugins,
        scm: ctx.scm,
        duckTypes: ctx.duckTypes,
        appSetName: appset.metadata.name,
        templateBudget: budget,
      },
      path,
    );
    return { params: out.params, override: out.template };
  } catch (e) {
    if (e instanceof GeneratorLimitError) return { limit: e };
    // Abandoned (the caller's signal): as when rendering is.
    budget.checkAborted();
    return { error: e instanceof GeneratorError ? e.message : `${path}: ${errorMessage(e)}` };
  } finally {
    if (impureCalls() !== calls) impurity();
  }
}

/** What the Applications of one generator are rendered with and checked against. */
interface RenderRun {
  compiled: CompiledTree;
  renderer: Renderer;
  budget: TemplateBudget;
  spec: ApplicationSet['spec'];
  preserve: boolean;
  clusters: ClusterIndex;
  projects: ReadonlySet<string> | undefined;
  memo: RenderMemo | undefined;
  /** Called when a render called an impure function. */
  impurity: () => void;
}

/** Why the Application of a parameter set is not generated. */
interface Failure {
  stage: 'template' | 'validation';
  /** The Application's name, when rendering got that far. */
  name?: string;
  message: string;
}

function invalid(name: string, problems: string[]): Failure {
  return { stage: 'validation', ...(name ? { name } : {}), message: problems.join('; ') };
}

/**
 * The Application of the `k`th parameter set of a generator, checked: rendered, or taken over from
 * the memo when it was rendered from an equal parameter set (then only what depends on more than
 * that is checked again).
 */
function applicationAt(
  k: number,
  params: ParamSet,
  run: RenderRun,
): GeneratedApplication | Failure {
  const { memo } = run;
  const seen = memo?.find(k, params);
  if (!seen) return renderAt(k, params, run);
  const problems: string[] = [];
  const cluster = placementOf(seen.app.spec.project, seen, run.clusters, run.projects, problems);
  if (!cluster || problems.length > 0) return invalid(seen.app.metadata.name, problems);
  const app = placed(seen, cluster);
  if (!memo!.verifyNext()) return app;
  // (A render that fails now, out of time, is no difference.)
  const again = renderAt(-1, params, run);
  if ('stage' in again || sameApplication(again, app)) return app;
  memo!.mismatch();
  return again;
}

/** Renders and checks the Application of the `k`th parameter set (remembered unless k < 0). */
function renderAt(k: number, params: ParamSet, run: RenderRun): GeneratedApplication | Failure {
  const { memo } = run;
  const impure = impureCalls();
  const rendered = run.budget.run(run.renderer, MAX_APPLICATION_RENDER_MS, () =>
    renderOne(run.compiled, params, run.renderer, run.spec.templatePatch, run.preserve),
  );
  if (impureCalls() !== impure) run.impurity();
  if (typeof rendered === 'string') return { stage: 'template', message: rendered };
  const { name, server } = rendered.spec.destination;
  const problems = validateApplication(rendered, run.clusters, run.projects);
  if (problems.length > 0) return invalid(rendered.metadata.name, problems);
  if (k >= 0) memo?.remember(k, { params, app: rendered, name, server });
  return rendered;
}

function sameApplication(a: GeneratedApplication, b: GeneratedApplication): boolean {
  return a.metadata.name === b.metadata.name && applicationSpecHash(a) === applicationSpecHash(b);
}

/** What an Application is rendered from besides its parameter set (see RenderMemo). */
function renderKey(
  template: Record<string, unknown>,
  templatePatch: string | undefined,
  mode: { goTemplate: boolean; goTemplateOptions?: string[] },
  preserve: boolean,
): string {
  return JSON.stringify([
    template,
    templatePatch ?? null,
    mode.goTemplate,
    mode.goTemplateOptions ?? [],
    preserve,
  ]);
}

/**
 * A remembered Application with its destination resolved to `cluster`: the same object while the
 * cluster it resolves to is the same, a copy (remembered from then on) when it changed.
 */
function placed(
  entry: RenderedEntry,
  cluster: { name: string; server: string },
): GeneratedApplication {
  const { app } = entry;
  const dest = app.spec.destination;
  if (dest.name === cluster.name && dest.server === cluster.server) return app;
  entry.app = frozen({
    metadata: app.metadata,
    spec: {
      ...app.spec,
      destination: destinationOf(cluster.name, cluster.server, dest.namespace),
    },
  });
  return entry.app;
}

function tooSlow(path: string, rendered: number, maxMs: number): string {
  return `${path}: rendering the applications took longer than ${maxMs / 1000} s (${rendered} rendered), the most one ApplicationSet may take; simplify the template or raise the limit`;
}

function tooMany(path: string, count: number, max: number): string {
  return `${path}: the generators produce ${count} applications so far, more than ${max}, the most one ApplicationSet may generate; narrow the generators or raise the limit`;
}

/** Argo's `mergeGeneratorTemplate`: mergo.Merge(generatorTemplate, spec.template). */
function effectiveTemplate(
  base: Record<string, unknown>,
  override: Record<string, unknown> | undefined,
  path: string,
): Record<string, unknown> {
  if (!override) return base;
  // Templates coming straight from parseApplicationSet are already validated and stripped; a
  // generator spec built by hand is checked here.
  const checked = validateSpec<Record<string, unknown>>(
    templateOverrideSchema,
    override,
    `${path}.template`,
  );
  if (!checked.value) throw new GeneratorError(checked.errors[0].path, checked.errors[0].message);
  return mergoMerge(cloneJson(checked.value), base, false);
}

// Shared (and frozen) by every Application that gets it, like the constant parts of the template.
const DEFAULT_FINALIZERS = sharedConstant([RESOURCES_FINALIZER]);

function renderOne(
  compiled: CompiledTree,
  params: ParamSet,
  renderer: Renderer,
  templatePatch: string | undefined,
  preserve: boolean,
): GeneratedApplication | string {
  // Constant parts of the result are shared with the other Applications: nothing here mutates it.
  let tree: Record<string, unknown>;
  try {
    tree = renderTree(compiled, params, renderer) as Record<string, unknown>;
  } catch (e) {
    return `failed to render template: ${errorMessage(e)}`;
  }
  const meta = isPlainObject(tree.metadata) ? tree.metadata : {};
  const current = meta.finalizers as string[] | undefined;
  const finalizers = !preserve && (!current || current.length === 0) ? DEFAULT_FINALIZERS : current;
  if (templatePatch === undefined) return toApplication(tree, meta, finalizers);

  // The patch applies to the Application as rendered, finalizer included.
  const rendered = {
    ...tree,
    metadata: finalizers === current ? meta : { ...meta, finalizers },
  };
  try {
    const patchText = renderer.render(templatePatch, params);
    const patched = applyTemplatePatch(rendered as never, patchText) as Record<string, unknown>;
    const checked = validateSpec<Record<string, unknown>>(templateOverrideSchema, patched, '');
    if (!checked.value) {
      const e = checked.errors[0];
      return `invalid Application after templatePatch: ${e.path}: ${e.message}`;
    }
    tree = checked.value;
  } catch (e) {
    return `failed to apply templatePatch: ${errorMessage(e)}`;
  }
  const patchedMeta = (tree.metadata ?? {}) as Record<string, unknown>;
  return toApplication(tree, patchedMeta, patchedMeta.finalizers as string[] | undefined);
}

type Metadata = GeneratedApplication['metadata'];
type Spec = GeneratedApplication['spec'];
type Destination = Spec['destination'];

function toApplication(
  tree: Record<string, unknown>,
  meta: Record<string, unknown>,
  finalizers: string[] | undefined,
): GeneratedApplication {
  const spec = (tree.spec ?? {}) as Record<string, unknown>;
  const dest = (spec.destination ?? {}) as { name?: string; server?: string; namespace?: string };
  const generated: GeneratedApplication = {
    metadata: metadataOf(
      typeof meta.name === 'string' ? meta.name : '',
      meta.labels as Metadata['labels'],
      meta.annotations as Metadata['annotations'],
      finalizers,
    ),
    spec: specOf(
      typeof spec.project === 'string' ? spec.project : '',
      (spec.source ?? { repoURL: '' }) as Spec['source'],
      destinationOf(dest.name ?? '', dest.server ?? '', dest.namespace),
      spec.syncPolicy as Spec['syncPolicy'],
      spec.ignoreDifferences as Spec['ignoreDifferences'],
    ),
  };
  // Rare (Axle's dependsOn): added after, so the common shapes above stay as they are.
  if (spec.dependsOn !== undefined) generated.spec.dependsOn = spec.dependsOn as Spec['dependsOn'];
  return generated;
}

// The objects of an Application are made with one literal per combination of the fields present
// (absent ones are left out, not set to undefined): V8 then builds each in one step and puts those
// that outlive a generation run directly with the long-lived objects, instead of copying them
// there through the young generation.

function metadataOf(
  name: string,
  labels: Metadata['labels'],
  annotations: Metadata['annotations'],
  finalizers: Metadata['finalizers'],
): Metadata {
  const l = labels !== undefined;
  const a = annotations !== undefined;
  const f = finalizers !== undefined;
  if (l && a && f) return { name, labels, annotations, finalizers };
  if (l && a) return { name, labels, annotations };
  if (l && f) return { name, labels, finalizers };
  if (a && f) return { name, annotations, finalizers };
  if (l) return { name, labels };
  if (a) return { name, annotations };
  if (f) return { name, finalizers };
  return { name };
}

function destinationOf(name: string, server: string, namespace: string | undefined): Destination {
  return namespace !== undefined ? { name, server, namespace } : { name, server };
}

function specOf(
  project: string,
  source: Spec['source'],
  destination: Destination,
  syncPolicy: Spec['syncPolicy'],
  ignoreDifferences: Spec['ignoreDifferences'],
): Spec {
  if (syncPolicy !== undefined && ignoreDifferences !== undefined)
    return { project, source, destination, syncPolicy, ignoreDifferences };
  if (syncPolicy !== undefined) return { project, source, destination, syncPolicy };
  if (ignoreDifferences !== undefined) return { project, source, destination, ignoreDifferences };
  return { project, source, destination };
}
