import { parseAllDocuments } from 'yaml';
import {
  GENERATOR_TYPES,
  joinPath,
  validateSpec,
  yamlOptions,
  type GeneratorSpec,
  type SpecIssue,
} from '../../generators/src/index.js';
import { parseGoTemplate } from '../../templating/src/index.js';
import { applicationSetDocumentSchema, templateOverrideSchema } from './schema.js';
import type {
  ApplicationSet,
  ApplicationTemplate,
  ApplicationsSyncPolicy,
  RollingSyncStrategy,
} from './types.js';

export interface ParseResult {
  /** Present when there are no errors. */
  appset?: ApplicationSet;
  /** Invalid fields, with path and reason; the ApplicationSet cannot be used. */
  errors: SpecIssue[];
  /** Fields Axle ignores (unknown, or known to Argo CD but not supported), by path. */
  warnings: SpecIssue[];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const AXLE_TOP_LEVEL = new Set(['name', 'namespace', 'labels', 'annotations', 'spec']);

/**
 * Parses an ApplicationSet, in either form:
 *
 * - Argo CD's resource, as YAML or JSON text or an already parsed object:
 *   `{ apiVersion: argoproj.io/v1alpha1, kind: ApplicationSet, metadata: { name }, spec }`
 *   (server-managed metadata and `status` are accepted and ignored, so `kubectl get -o yaml`
 *   output parses too);
 * - Axle's JSON form, the same without apiVersion/kind and with metadata flattened:
 *   `{ name, namespace?, labels?, annotations?, spec }`.
 *
 * Never throws for bad input: problems are returned as errors/warnings with their field path.
 */
/**
 * A document that says it is something else (a ConfigMap, an Argo CD Application) gets one clear
 * error instead of a page of field errors.
 */
function notAnApplicationSet(doc: Record<string, unknown>): SpecIssue | undefined {
  const { apiVersion, kind } = doc;
  if (kind === undefined && apiVersion === undefined) return undefined;
  if (kind === 'ApplicationSet' && (apiVersion === undefined || apiVersion === APPSET_API_VERSION))
    return undefined;
  const what = [
    typeof kind === 'string' ? `kind ${kind}` : undefined,
    typeof apiVersion === 'string' ? `apiVersion ${apiVersion}` : undefined,
  ]
    .filter(Boolean)
    .join(', ');
  return {
    path: kind === 'ApplicationSet' ? 'apiVersion' : 'kind',
    message: `not an ApplicationSet (${what || 'kind and apiVersion are not strings'}): expected kind ApplicationSet, apiVersion ${APPSET_API_VERSION}`,
  };
}

const APPSET_API_VERSION = 'argoproj.io/v1alpha1';

export function parseApplicationSet(input: unknown): ParseResult {
  const errors: SpecIssue[] = [];
  const warnings: SpecIssue[] = [];
  let raw: unknown = input;
  if (typeof input === 'string') {
    const loaded = loadText(input);
    if ('error' in loaded) return { errors: [loaded.error], warnings };
    raw = loaded.value;
  }
  if (!isPlainObject(raw))
    return { errors: [{ path: '(root)', message: 'expected an ApplicationSet object' }], warnings };

  let doc: Record<string, unknown> = raw;
  if (!('apiVersion' in raw) && !('kind' in raw) && !('metadata' in raw) && 'name' in raw) {
    const { name, namespace, labels, annotations, spec } = raw;
    doc = { metadata: { name, namespace, labels, annotations }, spec };
    for (const k of Object.keys(raw))
      if (!AXLE_TOP_LEVEL.has(k)) errors.push({ path: k, message: 'unknown field' });
  } else {
    const other = notAnApplicationSet(raw);
    if (other) return { errors: [other], warnings };
  }

  const checked = validateSpec<Record<string, unknown>>(applicationSetDocumentSchema, doc, '');
  errors.push(...checked.errors);
  warnings.push(...checked.warnings);
  if (!checked.value) return { errors, warnings };

  const value = checked.value as {
    metadata: ApplicationSet['metadata'];
    spec: Record<string, unknown> & {
      generators: GeneratorSpec[];
      template: Record<string, unknown>;
      goTemplate?: boolean;
      goTemplateOptions?: string[];
      templatePatch?: string;
      syncPolicy?: {
        applicationsSync?: ApplicationsSyncPolicy;
        preserveResourcesOnDeletion?: boolean;
      };
      ignoreApplicationDifferences?: unknown[];
      strategy?: {
        type?: 'AllAtOnce' | 'RollingSync';
        rollingSync?: RawRollingSync;
      };
    };
  };
  const spec = value.spec;

  const template = normalizeTemplate(spec.template, 'spec.template', errors, warnings);
  spec.generators.forEach((entry, i) =>
    processTopLevelTemplate(entry, `spec.generators[${i}]`, errors, warnings),
  );

  if (spec.ignoreApplicationDifferences && spec.ignoreApplicationDifferences.length > 0)
    warnings.push({
      path: 'spec.ignoreApplicationDifferences',
      message:
        'not supported by Axle (ignored): generated Applications always overwrite changes made to them',
    });
  if (spec.templatePatch !== undefined && !spec.goTemplate)
    warnings.push({
      path: 'spec.templatePatch',
      message:
        'Argo CD documents templatePatch for goTemplate: true only; it is rendered with fasttemplate here',
    });

  // A Go template that does not parse could never render: refused now, by path, not at every
  // evaluation.
  if (spec.goTemplate && errors.length === 0) {
    goTemplateErrors(template, 'spec.template', errors);
    if (spec.templatePatch !== undefined)
      goTemplateErrors(spec.templatePatch, 'spec.templatePatch', errors);
  }

  if (errors.length > 0) return { errors, warnings };
  return {
    appset: buildAppSet(value.metadata, spec, template as unknown as ApplicationTemplate),
    errors,
    warnings,
  };
}

const MAX_TEMPLATE_ERRORS = 20;

/** Every templated string (and key) of `tree` that does not parse as a Go template. */
function goTemplateErrors(tree: unknown, path: string, out: SpecIssue[]): void {
  if (out.length >= MAX_TEMPLATE_ERRORS) return;
  if (typeof tree === 'string') {
    if (!tree.includes('{{')) return;
    try {
      parseGoTemplate(tree);
    } catch (e) {
      out.push({ path, message: `template does not parse: ${(e as Error).message}` });
    }
    return;
  }
  if (Array.isArray(tree)) {
    tree.forEach((v, i) => goTemplateErrors(v, joinPath(path, i), out));
    return;
  }
  if (typeof tree === 'object' && tree !== null) {
    for (const [k, v] of Object.entries(tree)) {
      const at = joinPath(path, k);
      goTemplateErrors(k, at, out);
      goTemplateErrors(v, at, out);
    }
  }
}

interface CheckedSpec {
  strategy?: { type?: string; rollingSync?: RawRollingSync };
  generators: GeneratorSpec[];
  goTemplate?: boolean;
  goTemplateOptions?: string[];
  templatePatch?: string;
  syncPolicy?: { applicationsSync?: ApplicationsSyncPolicy; preserveResourcesOnDeletion?: boolean };
}

function buildAppSet(
  meta: ApplicationSet['metadata'],
  spec: CheckedSpec,
  template: ApplicationTemplate,
): ApplicationSet {
  const metadata: ApplicationSet['metadata'] = { name: meta.name };
  if (meta.namespace !== undefined) metadata.namespace = meta.namespace;
  if (meta.labels !== undefined) metadata.labels = meta.labels;
  if (meta.annotations !== undefined) metadata.annotations = meta.annotations;
  return {
    metadata,
    spec: {
      goTemplate: spec.goTemplate ?? false,
      goTemplateOptions: spec.goTemplateOptions ?? [],
      generators: spec.generators,
      template,
      ...(spec.templatePatch !== undefined ? { templatePatch: spec.templatePatch } : {}),
      syncPolicy: {
        applicationsSync: spec.syncPolicy?.applicationsSync ?? 'sync',
        preserveResourcesOnDeletion: spec.syncPolicy?.preserveResourcesOnDeletion ?? false,
      },
      ...(spec.strategy?.type === 'RollingSync' && spec.strategy.rollingSync
        ? { rollingSync: rollingSyncOf(spec.strategy.rollingSync) }
        : {}),
    },
  };
}

function loadText(text: string): { value: unknown } | { error: SpecIssue } {
  const docs = parseAllDocuments(text, yamlOptions);
  const list = Array.isArray(docs) ? docs : [];
  for (const d of list) {
    if (d.errors.length > 0) {
      const e = d.errors[0];
      const line = e.linePos?.[0]?.line;
      return {
        error: {
          path: '(document)',
          message: `invalid YAML${line ? ` at line ${line}` : ''}: ${e.message.split('\n')[0]}`,
        },
      };
    }
  }
  const values = list
    .map((d) => d.toJS(yamlOptions) as unknown)
    .filter((v) => v !== null && v !== undefined);
  if (values.length === 0) return { error: { path: '(document)', message: 'empty document' } };
  if (values.length > 1)
    return {
      error: {
        path: '(document)',
        message: `expected a single ApplicationSet, found ${values.length} documents`,
      },
    };
  return { value: values[0] };
}

/** `sources` with a single entry is treated as `source`; several sources are not supported. */
function normalizeTemplate(
  template: Record<string, unknown>,
  path: string,
  errors: SpecIssue[],
  warnings: SpecIssue[],
): Record<string, unknown> {
  const spec = template.spec as Record<string, unknown> | undefined;
  if (!spec || spec.sources === undefined) return template;
  const sources = spec.sources as unknown[];
  const p = `${path}.spec.sources`;
  if (sources.length > 1) {
    errors.push({
      path: p,
      message: 'multi-source Applications are not supported by Axle (use a single source)',
    });
  } else if (sources.length === 1) {
    if (spec.source !== undefined)
      warnings.push({
        path: `${path}.spec.source`,
        message: 'ignored: sources takes precedence over source (as in Argo CD)',
      });
    spec.source = sources[0];
  }
  delete spec.sources;
  return template;
}

function generatorTypeOf(entry: GeneratorSpec): (typeof GENERATOR_TYPES)[number] | undefined {
  return GENERATOR_TYPES.find((t) => entry[t] !== undefined);
}

function processTopLevelTemplate(
  entry: GeneratorSpec,
  path: string,
  errors: SpecIssue[],
  warnings: SpecIssue[],
): void {
  const type = generatorTypeOf(entry);
  if (!type) return;
  const gen = entry[type] as { template?: unknown; generators?: GeneratorSpec[] };
  const tplPath = joinPath(joinPath(path, type), 'template');
  if (gen.template !== undefined) {
    const r = validateSpec<Record<string, unknown>>(templateOverrideSchema, gen.template, tplPath);
    errors.push(...r.errors);
    warnings.push(...r.warnings);
    if (r.value) gen.template = normalizeTemplate(r.value, tplPath, errors, warnings);
  }
  gen.generators?.forEach((child, i) =>
    dropNestedTemplates(child, joinPath(joinPath(joinPath(path, type), 'generators'), i), warnings),
  );
}

function dropNestedTemplates(entry: GeneratorSpec, path: string, warnings: SpecIssue[]): void {
  const type = generatorTypeOf(entry);
  if (!type) return;
  const gen = entry[type] as { template?: unknown; generators?: GeneratorSpec[] };
  if (gen.template !== undefined) {
    warnings.push({
      path: joinPath(joinPath(path, type), 'template'),
      message:
        'ignored: templates of generators nested in a matrix or merge are not processed (as in Argo CD)',
    });
    delete gen.template;
  }
  gen.generators?.forEach((child, i) =>
    dropNestedTemplates(child, joinPath(joinPath(joinPath(path, type), 'generators'), i), warnings),
  );
}

/** `spec.strategy.rollingSync` as validated, before defaults. */
interface RawRollingSync {
  steps: {
    matchExpressions?: {
      key: string;
      operator: RollingSyncStrategy['steps'][number]['matchExpressions'][number]['operator'];
      values?: string[];
    }[];
    maxUpdate?: number | string;
  }[];
  defaultPrune?: boolean;
  onFailure?: 'pause' | 'rollback';
  progressDeadlineSeconds?: number;
}

/** The RollingSync strategy with Argo's defaults (maxUpdate 100%) and Axle's (pause, 10 min). */
function rollingSyncOf(r: RawRollingSync): RollingSyncStrategy {
  return {
    steps: r.steps.map((s) => ({
      matchExpressions: (s.matchExpressions ?? []).map((e) => ({
        key: e.key,
        operator: e.operator,
        values: e.values ?? [],
      })),
      maxUpdate: s.maxUpdate ?? '100%',
    })),
    defaultPrune: r.defaultPrune ?? false,
    onFailure: r.onFailure ?? 'pause',
    progressDeadlineSeconds: r.progressDeadlineSeconds ?? 600,
  };
}
