import { GeneratorError } from './errors.js';
import { sanitizeName } from './go.js';
import { appendValues, type Runtime } from './runtime.js';
import { compileSelector } from './selector.js';
import type { ClusterGeneratorSpec, ClusterInfo, ParamSet } from './types.js';

/** The label Argo CD puts on every cluster Secret (and adds to every cluster generator selector). */
export const SECRET_TYPE_LABEL = 'argocd.argoproj.io/secret-type';

function effectiveLabels(c: ClusterInfo): Record<string, string> {
  return c.labels[SECRET_TYPE_LABEL] === 'cluster'
    ? c.labels
    : { ...c.labels, [SECRET_TYPE_LABEL]: 'cluster' };
}

function isEmpty(o: Record<string, string>): boolean {
  for (const _ in o) return false;
  return true;
}

/**
 * Cluster generator. Clusters are taken in the order the hub lists them (Argo iterates a Go map).
 * Every cluster is treated like an Argo cluster Secret, so its labels include
 * `argocd.argoproj.io/secret-type: cluster` for selection and in the parameters.
 */
export async function clusterParams(
  spec: ClusterGeneratorSpec,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  let matches;
  try {
    matches = compileSelector(spec.selector, { validateValues: true });
  } catch (e) {
    throw new GeneratorError(`${path}.selector`, e instanceof Error ? e.message : String(e));
  }
  const goTemplate = rt.renderer.goTemplate;
  const out: ParamSet[] = [];
  for (const cluster of rt.ctx.clusters) {
    const labels = effectiveLabels(cluster);
    if (!matches(labels)) continue;
    const name = cluster.inCluster ? 'in-cluster' : cluster.name;
    const params: ParamSet = {
      name,
      nameNormalized: sanitizeName(name),
      server: cluster.server,
      project: cluster.project ?? '',
    };
    const annotations = cluster.annotations ?? {};
    if (goTemplate) {
      const meta: Record<string, unknown> = {};
      if (!isEmpty(annotations)) meta.annotations = annotations;
      if (!isEmpty(labels)) meta.labels = labels;
      params.metadata = meta;
    } else {
      for (const [k, v] of Object.entries(annotations)) params[`metadata.annotations.${k}`] = v;
      for (const [k, v] of Object.entries(labels)) params[`metadata.labels.${k}`] = v;
    }
    out.push(params);
  }
  await appendValues(spec.values, out, rt, path);
  if (spec.flatList) return [{ clusters: out }];
  return out;
}
