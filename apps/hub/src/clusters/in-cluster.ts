/**
 * Argo CD's local cluster: `https://kubernetes.default.svc`, named `in-cluster`. In Axle it is a
 * registered cluster like the others (its agent applies), designated with AXLE_IN_CLUSTER; both
 * spellings address it, in generated and in stored applications.
 */
export const IN_CLUSTER_NAME = 'in-cluster';
export const IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';

/** A registered cluster as destinations see it (server: as registered, or `axle://<name>`). */
export interface KnownCluster {
  name: string;
  server: string;
}

/**
 * The registered cluster an Argo destination (`name` or `server`) addresses, or why none does.
 * A name wins over a server (ApplicationSet generation fills in the name of a server it knows).
 */
export function resolveDestination(
  dest: { name?: string; server?: string },
  clusters: readonly KnownCluster[],
  inCluster: string | undefined,
): { name: string } | { error: string } {
  const name = dest.name ?? '';
  const server = dest.server ?? '';
  if (name) return { name: name === IN_CLUSTER_NAME && inCluster ? inCluster : name };
  if (!server) return { error: 'spec.destination: name or server is required' };
  if (isInClusterServer(server)) {
    if (inCluster) return { name: inCluster };
    return {
      error: `spec.destination.server: ${IN_CLUSTER_SERVER} is the hub's own cluster; set AXLE_IN_CLUSTER to the registered cluster that runs the hub`,
    };
  }
  const match = clusters.find((c) => c.server === server);
  if (match) return { name: match.name };
  return { error: `spec.destination.server: no registered cluster has server "${server}"` };
}

/** Argo CD's local cluster by its server, with or without a trailing `/`. */
export function isInClusterServer(server: string): boolean {
  return server === IN_CLUSTER_SERVER || server === `${IN_CLUSTER_SERVER}/`;
}

/**
 * The registered clusters `names` address (those that exist), looked up with `byNames`: the name
 * `in-cluster` is the cluster AXLE_IN_CLUSTER designates (`inCluster`), answered under the name
 * the destination wrote, before one registered by that name.
 */
export async function destinationRefs<T extends { name: string }>(
  names: readonly string[],
  inCluster: string | undefined,
  byNames: (names: string[]) => Promise<T[]>,
): Promise<T[]> {
  const aliased = inCluster !== undefined && names.includes(IN_CLUSTER_NAME);
  const refs = aliased
    ? await byNames([...names.filter((n) => n !== IN_CLUSTER_NAME), inCluster])
    : await byNames([...names]);
  const byName = new Map(refs.map((c) => [c.name, c]));
  // In the order of `names` (not as the rows came), each once.
  const out: T[] = [];
  for (const name of new Set(names)) {
    const ref = aliased && name === IN_CLUSTER_NAME ? byName.get(inCluster) : byName.get(name);
    if (ref) out.push(ref.name === name ? ref : { ...ref, name });
  }
  return out;
}
