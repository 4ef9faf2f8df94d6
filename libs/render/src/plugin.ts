import { RenderError } from './errors.js';
import type { PluginParameter, PluginSourceOptions, RenderContext, RenderSource } from './types.js';

/** The longest KUBE_API_VERSIONS passed (a little under Linux's 128 KiB per variable). */
const MAX_ENV_VALUE_CHARS = 120 * 1024;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `PARAM_<NAME>`: upper case, every character other than A-Z, 0-9 and `_` becomes `_`. */
export function paramEnvName(name: string): string {
  return `PARAM_${name.toUpperCase().replace(/[^A-Z0-9_]/g, '_')}`;
}

/**
 * The variables a plugin sees besides PATH/HOME/TMPDIR, with Argo CD's names (and `AXLE_*`
 * aliases): the application (`ARGOCD_APP_NAME`, `ARGOCD_APP_NAMESPACE`), the revision
 * (`ARGOCD_APP_REVISION` = the commit, `_SHORT`, `_SHORT_8`, `ARGOCD_APP_SOURCE_TARGET_REVISION`),
 * the source (`ARGOCD_APP_SOURCE_PATH`, `ARGOCD_APP_SOURCE_REPO_URL`), the destination
 * (`KUBE_VERSION`, `KUBE_API_VERSIONS` when known), the application's plugin env as
 * `ARGOCD_ENV_<name>`, and its parameters as `PARAM_<NAME>` plus `ARGOCD_APP_PARAMETERS` (JSON).
 */
export function pluginEnv(
  src: RenderSource,
  ctx: RenderContext,
  plugin: PluginSourceOptions,
): Record<string, string> {
  const env: Record<string, string> = {};
  const app: Record<string, string> = {
    APP_NAME: ctx.appName,
    APP_NAMESPACE: ctx.namespace,
    APP_REVISION: src.commit,
    APP_REVISION_SHORT: src.commit.slice(0, 7),
    APP_REVISION_SHORT_8: src.commit.slice(0, 8),
    APP_SOURCE_PATH: src.path,
    APP_SOURCE_REPO_URL: src.repoURL,
    APP_SOURCE_TARGET_REVISION: ctx.revision ?? src.commit,
  };
  for (const [k, v] of Object.entries(app)) {
    env[`ARGOCD_${k}`] = v;
    env[`AXLE_${k}`] = v;
  }
  if (ctx.kubeVersion) env.KUBE_VERSION = ctx.kubeVersion;
  // One variable holds at most 128 KiB on Linux (MAX_ARG_STRLEN): a cluster serving more API
  // versions than that gives the plugin none, rather than failing every render.
  const apiVersions = ctx.apiVersions?.join(',') ?? '';
  if (apiVersions && apiVersions.length <= MAX_ENV_VALUE_CHARS) env.KUBE_API_VERSIONS = apiVersions;
  for (const { name, value } of plugin.env ?? []) {
    if (!ENV_NAME.test(name)) {
      throw new RenderError(`plugin env name "${name}" is not a valid variable name`, 'plugin');
    }
    env[`ARGOCD_ENV_${name}`] = value;
    env[`AXLE_ENV_${name}`] = value;
  }
  const params = pluginParameters(plugin.parameters);
  // As Argo CD's plugin server names them: PARAM_<NAME>, PARAM_<NAME>_<index> for an array's
  // items, PARAM_<NAME>_<KEY> for a map's entries.
  for (const p of params) {
    const base = paramEnvName(p.name);
    if (p.string !== undefined) env[base] = p.string;
    p.array?.forEach((v, i) => (env[`${base}_${i}`] = v));
    for (const [k, v] of Object.entries(p.map ?? {})) env[paramEnvName(`${p.name}_${k}`)] = v;
  }
  if (params.length > 0) env.ARGOCD_APP_PARAMETERS = JSON.stringify(params);
  return env;
}

/** The parameters as Argo CD's list: given by name (sorted), or as the list itself. */
function pluginParameters(p: PluginSourceOptions['parameters']): PluginParameter[] {
  if (p === undefined) return [];
  if (Array.isArray(p)) return p;
  return Object.keys(p)
    .sort()
    .map((name) => ({ name, string: p[name] }));
}
