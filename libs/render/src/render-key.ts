import { canonicalJson, sha256 } from '../../manifests/src/index.js';
import { explicitTool } from './detect.js';
import { helmNamespace, helmReleaseName } from './helm.js';
import type { PluginConfig, RenderContext, RenderSource, RenderTool } from './types.js';

export interface KeyInputs {
  directoryRecurseDefault: boolean;
  /** Identifies the binaries (paths, versions): a different binary is a different render. */
  toolIdentity: Record<string, string | undefined>;
  plugins: readonly PluginConfig[];
  salt: string;
}

const sortedMap = (m: Record<string, string> | undefined) =>
  m && Object.keys(m).length > 0 ? m : undefined; // canonicalJson sorts the keys

/**
 * The cache key of a render: everything its output depends on, and nothing else. Git sources:
 * repository, commit, path; chart sources: repository, chart, version. Then the tool's options:
 * directory (recurse with the default applied, include, exclude); kustomize (overrides, binary);
 * helm (all options, release name and namespace after defaulting to the application's, kube
 * version and API versions, binary); plugin (its configuration, env, parameters, and the
 * application name, namespace, revision and destination it is told about). When the tool is not
 * known yet (auto-detection), the key includes every tool's inputs, so it is safe but shared less.
 */
export function computeRenderKey(
  src: RenderSource,
  ctx: RenderContext,
  inputs: KeyInputs,
  tool: RenderTool | undefined = explicitTool(src),
): string {
  const base: Record<string, unknown> = {
    v: 1,
    salt: inputs.salt,
    tool: tool ?? 'auto',
    repoURL: src.repoURL,
  };
  if (src.chart) {
    base.chart = src.chart;
    base.chartVersion = src.chartVersion ?? '';
  } else {
    base.commit = src.commit;
    base.path = src.path;
  }
  const parts: Record<string, unknown> = {};
  const want = (t: RenderTool) => tool === undefined || tool === t;
  if (want('directory')) {
    parts.directory = {
      recurse: src.directory?.recurse ?? inputs.directoryRecurseDefault,
      include: src.directory?.include ?? '',
      exclude: src.directory?.exclude ?? '',
    };
  }
  if (want('kustomize')) {
    const k = src.kustomize ?? {};
    parts.kustomize = {
      ...k,
      commonLabels: sortedMap(k.commonLabels),
      commonAnnotations: sortedMap(k.commonAnnotations),
      binary: inputs.toolIdentity.kustomize ?? `kubectl:${inputs.toolIdentity.kubectl ?? ''}`,
    };
  }
  const destination = { kubeVersion: ctx.kubeVersion ?? '', apiVersions: ctx.apiVersions ?? [] };
  if (want('helm')) {
    parts.helm = {
      ...src.helm,
      releaseName: helmReleaseName(src.helm, ctx),
      namespace: helmNamespace(src.helm, ctx),
      ...destination,
      binary: inputs.toolIdentity.helm ?? '',
    };
  }
  if (want('plugin')) {
    const name = src.plugin?.name ?? '';
    parts.plugin = {
      ...src.plugin,
      config: inputs.plugins.find((p) => p.name === name) ?? null,
      appName: ctx.appName,
      namespace: ctx.namespace,
      revision: ctx.revision ?? src.commit,
      ...destination,
    };
  }
  return `render:v1:${sha256(canonicalJson({ ...base, ...parts })).slice('sha256:'.length)}`;
}
