import type { RenderSource, RenderTool } from './types.js';

/** File names that make a directory a Kustomization (Argo CD's list). */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/**
 * The tool for a directory, from its entries (paths relative to the repository root, as
 * `GitCache.listTree` returns them, or relative to the directory with `dir` = `''`): a
 * Kustomization file directly in it → `kustomize` (it wins over a chart, as in Argo CD); else a
 * `Chart.yaml` → `helm`; else `directory`. Files in sub-directories do not count.
 */
export function detectTool(
  entries: readonly { path: string }[],
  dir = '',
): 'kustomize' | 'helm' | 'directory' {
  const prefix = dir ? `${dir}/` : '';
  const names = new Set<string>();
  for (const e of entries) {
    if (!e.path.startsWith(prefix)) continue;
    const rel = e.path.slice(prefix.length);
    if (rel && !rel.includes('/')) names.add(rel);
  }
  if (KUSTOMIZATION_FILES.some((n) => names.has(n))) return 'kustomize';
  if (names.has('Chart.yaml')) return 'helm';
  return 'directory';
}

/**
 * The tool a source names without looking at files: `tool`, else `helm` for a chart repository
 * source, else the one tool whose options are given (Argo CD's explicit type); undefined when
 * none or several are given.
 */
export function explicitTool(src: RenderSource): RenderTool | undefined {
  if (src.tool) return src.tool;
  if (src.chart) return 'helm';
  const given: RenderTool[] = [];
  if (src.directory) given.push('directory');
  if (src.kustomize) given.push('kustomize');
  if (src.helm) given.push('helm');
  if (src.plugin) given.push('plugin');
  return given.length === 1 ? given[0] : undefined;
}
