/**
 * libs/render — turns an application source at a commit into a manifest bundle.
 *
 * ```ts
 * const renderer = new Renderer({
 *   git,                                   // GitCache (bare clones)
 *   workDir: '.axle/render',               // scratch + materialized trees (owned, emptied at start)
 *   tools: { helm: '/usr/local/bin/helm', kustomize: undefined, kubectl: '/usr/bin/kubectl' },
 *   plugins: [{ name: 'cdk8s', command: ['cdk8s', 'synth', '--stdout'], timeoutSeconds: 60 }],
 *   directoryRecurseDefault: false,        // Argo CD's default (the hub's too)
 * });
 * const bundle = await renderer.render(
 *   { repoURL, commit, path: 'apps/guestbook', helm: { valueFiles: ['values-prod.yaml'] } },
 *   { appName: 'guestbook-east', namespace: 'guestbook', revision: 'main' },
 * );
 * bundle.hash; bundle.objects; bundle.tool; bundle.key; // key === renderer.renderKey({...src, tool}, ctx)
 * ```
 *
 * See docs/rendering.md for the tools' exact invocations, the limits and the refusals.
 */
export { detectTool, explicitTool, KUSTOMIZATION_FILES } from './detect.js';
export { boundDetail, MAX_ERROR_DETAIL, RenderError } from './errors.js';
export { compileGlob, matchGlob, type Glob } from './glob.js';
export { escapeSetValue, helmTemplateArgs, isExactChartVersion } from './helm.js';
export { applyKustomizeEdits, kustomizeEditCommands, splitImageName } from './kustomize-edit.js';
export { normalizeRepoPath, PathEscapeError, resolveInside } from './paths.js';
export { paramEnvName, pluginEnv } from './plugin.js';
export { ProcessError, runProcess, Semaphore } from './process.js';
export { computeRenderKey } from './render-key.js';
export { Renderer } from './renderer.js';
export { DEFAULT_TREE_LIMITS, TreeCache, type TreeLease } from './tree-cache.js';
export type * from './types.js';
