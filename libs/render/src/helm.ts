import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { RenderError } from './errors.js';
import type { HelmOptions, RenderContext } from './types.js';

/** A chart dependency (Chart.yaml `dependencies`, or requirements.yaml for apiVersion v1). */
export interface ChartDependency {
  name: string;
  version?: string;
  repository?: string;
}

/**
 * `helm template` arguments as Argo CD builds them (chart `.` in the chart directory,
 * `--name-template`, `--namespace`, `--kube-version`, `--set`/`--set-string` parameters, value
 * files then the inline values file, `--api-versions`, `--include-crds` unless skipCrds), with
 * every value in `--flag=value` form so no value can be read as a flag.
 */
export function helmTemplateArgs(
  helm: HelmOptions | undefined,
  ctx: RenderContext,
  valueFiles: string[],
  inlineValuesFile: string | undefined,
): string[] {
  const args = ['template', '.', `--name-template=${helmReleaseName(helm, ctx)}`];
  const ns = helmNamespace(helm, ctx);
  if (ns) args.push(`--namespace=${ns}`);
  if (ctx.kubeVersion) args.push(`--kube-version=${ctx.kubeVersion}`);
  for (const p of helm?.parameters ?? []) {
    args.push(`${p.forceString ? '--set-string' : '--set'}=${p.name}=${escapeSetValue(p.value)}`);
  }
  for (const f of valueFiles) args.push(`--values=${f}`);
  if (inlineValuesFile) args.push(`--values=${inlineValuesFile}`);
  for (const v of ctx.apiVersions ?? []) args.push(`--api-versions=${v}`);
  if (!helm?.skipCrds) args.push('--include-crds');
  if (helm?.skipSchemaValidation) args.push('--skip-schema-validation');
  if (helm?.skipTests) args.push('--skip-tests');
  return args;
}

export function helmReleaseName(helm: HelmOptions | undefined, ctx: RenderContext): string {
  return helm?.releaseName || ctx.appName;
}

export function helmNamespace(helm: HelmOptions | undefined, ctx: RenderContext): string {
  return helm?.namespace || ctx.namespace;
}

/** A comma in a `--set` value separates assignments unless escaped (Argo CD escapes them). */
export function escapeSetValue(value: string): string {
  return value.replace(/(?<!\\),/g, '\\,');
}

/** The inline values to write to a file: valuesObject wins over values (Argo CD). */
export function inlineValues(helm: HelmOptions | undefined): string | undefined {
  if (helm?.valuesObject && Object.keys(helm.valuesObject).length > 0) {
    return JSON.stringify(helm.valuesObject);
  }
  return helm?.values?.trim() ? helm.values : undefined;
}

/** The `dependencies` field of a chart's file, whatever it holds; undefined: no such file. */
async function dependenciesIn(
  chartDir: string,
  file: string,
): Promise<{ value: unknown } | undefined> {
  const text = await readFile(join(chartDir, file), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new RenderError(`${file}: invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return { value: (doc as { dependencies?: unknown } | null)?.dependencies };
}

/** Dependencies a chart declares. */
export async function readChartDependencies(chartDir: string): Promise<ChartDependency[]> {
  const out: ChartDependency[] = [];
  for (const file of ['Chart.yaml', 'requirements.yaml']) {
    const deps = (await dependenciesIn(chartDir, file))?.value;
    if (!Array.isArray(deps)) continue;
    for (const d of deps as Record<string, unknown>[]) {
      if (!d || typeof d.name !== 'string') continue;
      out.push({
        name: d.name,
        version: typeof d.version === 'string' ? d.version : undefined,
        repository: typeof d.repository === 'string' ? d.repository : undefined,
      });
    }
  }
  return out;
}

/** The dependencies a lock file pins, by file (`Chart.lock`, `requirements.lock`) when present. */
export interface LockedDependencies {
  file: string;
  dependencies: ChartDependency[];
}

/**
 * What the chart's lock files name. `helm dependency build` fetches what the lock names, not what
 * Chart.yaml declares, as long as the lock's digest matches; and the digest is a sha256 of both
 * lists that anyone writing to the repository can compute. So the lock is checked as Chart.yaml
 * is. Both files are read: which one helm takes depends on the chart's apiVersion and file order.
 */
export async function readLockedDependencies(chartDir: string): Promise<LockedDependencies[]> {
  const out: LockedDependencies[] = [];
  for (const file of ['Chart.lock', 'requirements.lock']) {
    const found = await dependenciesIn(chartDir, file);
    if (!found) continue;
    const deps = found.value;
    if (deps === undefined || deps === null) {
      out.push({ file, dependencies: [] });
      continue;
    }
    if (!Array.isArray(deps)) throw new RenderError(`${file}: dependencies is not a list`);
    const dependencies = (deps as unknown[]).map((d, i) => {
      const e = d as Record<string, unknown> | null;
      if (!e || typeof e !== 'object' || typeof e.name !== 'string') {
        throw new RenderError(`${file}: dependency ${i + 1} has no name`);
      }
      if (e.repository !== undefined && typeof e.repository !== 'string') {
        throw new RenderError(`${file}: dependency ${e.name}: repository is not a string`);
      }
      return {
        name: e.name,
        version: typeof e.version === 'string' ? e.version : undefined,
        repository: e.repository,
      };
    });
    out.push({ file, dependencies });
  }
  return out;
}

/** Dependencies not already vendored in `charts/` (as a directory or a `<name>-*.tgz`). */
export async function missingDependencies(
  chartDir: string,
  deps: ChartDependency[],
): Promise<ChartDependency[]> {
  const present = await readdir(join(chartDir, 'charts')).catch(() => [] as string[]);
  return deps.filter(
    (d) => !present.some((f) => f === d.name || (f.startsWith(`${d.name}-`) && f.endsWith('.tgz'))),
  );
}

const EXACT_VERSION = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Whether a chart version names one release (not a range, not "latest"). */
export function isExactChartVersion(v: string | undefined): boolean {
  return !!v && EXACT_VERSION.test(v);
}
