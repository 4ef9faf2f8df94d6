import type { GeneratedApplication } from '../../../../libs/appset/src/index.js';
import {
  applicationSpecSchema,
  explainUnsupported,
  type ApplicationSpec,
} from '../applications/application.schemas.js';
import { zodFieldErrors } from '../common/validation.js';
import { CLOCK_AND_CHANCE_FUNCTIONS } from '../../../../libs/templating/src/index.js';

/**
 * Maps a generated, Argo-shaped Application onto the hub's application spec, validating it with
 * the same schema as the API: a field the hub cannot honour fails that one application, by name.
 * Under a RollingSync strategy (`rolling`) automated sync is left out.
 */
export function toApplicationSpec(
  app: GeneratedApplication,
  rolling = false,
): { spec: ApplicationSpec } | { error: string } {
  const { source, destination, syncPolicy } = app.spec;
  if (source.ref !== undefined)
    return { error: 'spec.source.ref: multi-source references are not supported' };
  const { repoURL, targetRevision, path, chart, directory, kustomize, helm, plugin } = source;
  const automated = syncPolicy?.automated;
  const r = applicationSpecSchema.safeParse({
    project: app.spec.project || 'default',
    source: {
      repoURL,
      targetRevision: targetRevision || 'HEAD',
      path: path ?? '',
      ...(chart !== undefined ? { chart } : {}),
      ...(directory !== undefined ? { directory } : {}),
      ...(kustomize !== undefined ? { kustomize } : {}),
      ...(helm !== undefined ? { helm } : {}),
      ...(plugin !== undefined ? { plugin } : {}),
    },
    // "" (a template's empty value) is no namespace, as in Argo CD.
    destination: { cluster: destination.name, namespace: destination.namespace || undefined },
    syncPolicy: {
      // RollingSync syncs the generated applications itself: like Argo CD, it turns their
      // automated sync off.
      ...(automated && automated.enabled !== false && !rolling
        ? { automated: automatedOf(automated) }
        : {}),
      ...(syncPolicy?.syncOptions ? { syncOptions: syncPolicy.syncOptions } : {}),
      ...(syncPolicy?.retry ? { retry: syncPolicy.retry } : {}),
    },
    ...(app.spec.ignoreDifferences ? { ignoreDifferences: app.spec.ignoreDifferences } : {}),
    ...(app.spec.dependsOn ? { dependsOn: app.spec.dependsOn } : {}),
  });
  if (!r.success) {
    return {
      error: zodFieldErrors(r.error)
        .map(explainUnsupported)
        .map((f) => `spec.${f.field}: ${f.reason}`)
        .join('; '),
    };
  }
  return { spec: r.data };
}

/** Argo CD's automated options as the hub's spec takes them (defaults filled in). */
function automatedOf(
  a: NonNullable<NonNullable<GeneratedApplication['spec']['syncPolicy']>['automated']>,
) {
  return {
    prune: a.prune ?? false,
    selfHeal: a.selfHeal ?? false,
    ...(a.allowEmpty !== undefined ? { allowEmpty: a.allowEmpty } : {}),
  };
}

/** What an ApplicationSet's generators read, for event-driven re-evaluation. */
export function generatorInputs(generators: unknown): { repos: string[]; readsClusters: boolean } {
  const repos = new Set<string>();
  let readsClusters = false;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    if (o.clusters !== undefined && typeof o.clusters === 'object') readsClusters = true;
    const git = o.git as { repoURL?: unknown } | undefined;
    if (git && typeof git === 'object' && typeof git.repoURL === 'string') {
      repos.add(git.repoURL.includes('{{') ? '*' : git.repoURL);
    }
    Object.values(o).forEach(walk);
  };
  walk(generators);
  return { repos: [...repos].sort(), readsClusters };
}

/** Far deeper than any document the API takes (its depth limit): a guard, not a cut-off. */
const MAX_WALK_DEPTH = 1_000;

// Template functions whose output is not a function of their arguments, by name.
const UNSTABLE_FUNCTIONS = new RegExp(
  `(?<![\\w.$])(${CLOCK_AND_CHANCE_FUNCTIONS.join('|')})(?!\\w)`,
);

/**
 * Whether a template of the ApplicationSet (its template, templatePatch, or a generator's
 * template or values) calls a function whose output changes with nothing Axle sees: the clock
 * (`now | date "2006-01-02"` renders something new once a day) or chance. Such an ApplicationSet
 * is evaluated every time, as those with service generators are. Conservative: a name in a
 * templated string counts even where it is not a call.
 */
export function readsClockOrChance(document: unknown): boolean {
  const walk = (v: unknown, depth: number): boolean => {
    if (typeof v === 'string') return v.includes('{{') && UNSTABLE_FUNCTIONS.test(v);
    if (depth > MAX_WALK_DEPTH || !v || typeof v !== 'object') return false;
    if (Array.isArray(v)) return v.some((x) => walk(x, depth + 1));
    return Object.entries(v).some(([k, x]) => walk(k, depth + 1) || walk(x, depth + 1));
  };
  return walk((document as { spec?: unknown } | null)?.spec, 0);
}

/** Argo CD's default requeueAfterSeconds of the generators that ask a service. */
const SERVICE_REQUEUE_DEFAULTS: Record<string, number> = {
  plugin: 1800,
  pullRequest: 1800,
  scmProvider: 1800,
  clusterDecisionResource: 180,
};

/**
 * The generators (at any depth) that ask a service whose answers change without anything Axle
 * sees, with how often each wants to be asked again (its requeueAfterSeconds, or Argo CD's
 * default; 0: never by itself).
 */
export function serviceGenerators(document: unknown): { type: string; requeueSeconds: number }[] {
  const out: { type: string; requeueSeconds: number }[] = [];
  const walk = (v: unknown, depth: number): void => {
    // Generators nest to any depth the document has (bounded where it is read, see checkDepth).
    if (depth > MAX_WALK_DEPTH || !v || typeof v !== 'object') return;
    if (Array.isArray(v)) return v.forEach((x) => walk(x, depth + 1));
    const o = v as Record<string, unknown>;
    for (const [type, fallback] of Object.entries(SERVICE_REQUEUE_DEFAULTS)) {
      const g = o[type] as { requeueAfterSeconds?: unknown; configMapRef?: unknown } | undefined;
      if (!g || typeof g !== 'object') continue;
      if (type === 'plugin' && g.configMapRef === undefined) continue; // a source's plugin
      const r = g.requeueAfterSeconds;
      out.push({ type, requeueSeconds: typeof r === 'number' && r >= 0 ? r : fallback });
    }
    for (const k of ['matrix', 'merge']) {
      const nested = (o[k] as { generators?: unknown } | undefined)?.generators;
      if (nested) walk(nested, depth + 1);
    }
  };
  walk((document as { spec?: { generators?: unknown } } | null)?.spec?.generators, 0);
  return out;
}

/** How often an ApplicationSet is evaluated again by itself (null: only when its inputs change). */
export function requeueSeconds(document: unknown): number | null {
  const every = serviceGenerators(document)
    .map((g) => g.requeueSeconds)
    .filter((s) => s > 0);
  return every.length ? Math.min(...every) : null;
}
