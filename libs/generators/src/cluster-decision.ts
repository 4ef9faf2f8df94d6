import { GeneratorError, errorMessage } from './errors.js';
import { appendValues, type Runtime } from './runtime.js';
import type { ClusterDecisionResourceGeneratorSpec, ParamSet } from './types.js';

/**
 * Cluster decision resource generator, as Argo CD's (duck typing, e.g. Open Cluster Management's
 * PlacementDecision): each entry of the selected resources' status list whose `matchKey` names a
 * registered cluster gives `name` and `server` of that cluster, the entry's own string fields,
 * and the generator's `values`.
 */
export async function clusterDecisionParams(
  spec: ClusterDecisionResourceGeneratorSpec,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const reader = rt.ctx.duckTypes;
  if (!reader)
    throw new GeneratorError(
      path,
      'cluster decision resources are not readable here (AXLE_HUB_KUBECONFIG)',
    );
  let found: { matchKey: string; decisions: Record<string, unknown>[] };
  try {
    found = await reader.decisions(spec.configMapRef, {
      ...(spec.name ? { name: spec.name } : {}),
      ...(spec.labelSelector ? { labelSelector: spec.labelSelector } : {}),
    });
  } catch (e) {
    throw new GeneratorError(path, errorMessage(e));
  }
  const byName = new Map(rt.ctx.clusters.map((c) => [c.name, c]));
  const out: ParamSet[] = [];
  for (const decision of found.decisions) {
    const match = decision[found.matchKey];
    if (typeof match !== 'string' || match === '') continue;
    const cluster = byName.get(match);
    if (!cluster) continue;
    const params: ParamSet = { name: cluster.name, server: cluster.server };
    for (const [k, v] of Object.entries(decision)) if (typeof v === 'string') params[k] = v;
    out.push(params);
  }
  return appendValues(spec.values, out, rt, path);
}
