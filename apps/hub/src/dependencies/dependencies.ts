import type { HealthState, SyncState } from '../applications/app-target.entity.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';

export type Dependency = NonNullable<ApplicationSpec['dependsOn']>[number];

/** A dependency as readiness sees it: its current render and its targets, by cluster. */
export interface DependencyState {
  name: string;
  /** The desired bundle now (render of the current spec); null: not rendered. */
  bundleHash: string | null;
  destinations: string[];
  targets: {
    cluster: string;
    labels: Record<string, string>;
    bundleHash: string;
    applied: boolean;
    sync: SyncState;
    health: HealthState;
  }[];
  /** Labels of the dependency's destination clusters (registered ones). */
  clusterLabels: Map<string, Record<string, string>>;
}

/**
 * The first cycle through `start` in the dependency graph (names), e.g. [a, b, a]; undefined when
 * there is none. `edges` gives each application's dependencies.
 */
export function findCycle(start: string, edges: (name: string) => string[]): string[] | undefined {
  const path: string[] = [];
  const onPath = new Set<string>();
  const done = new Set<string>();
  const visit = (n: string): string[] | undefined => {
    if (onPath.has(n)) return [...path.slice(path.indexOf(n)), n];
    if (done.has(n)) return undefined;
    path.push(n);
    onPath.add(n);
    for (const d of edges(n)) {
      const c = visit(d);
      if (c) return c;
    }
    path.pop();
    onPath.delete(n);
    done.add(n);
    return undefined;
  };
  return visit(start);
}

/**
 * Why a target of an application on `cluster` may not sync yet: each dependency must be Synced
 * and Healthy at its current desired bundle on the clusters named (a name, or a label selector);
 * with none named, on this cluster when the dependency targets it, else on all its clusters.
 * Undefined when every dependency is ready.
 */
export function waitingFor(
  deps: Dependency[],
  cluster: string,
  state: (name: string) => DependencyState | undefined,
): string | undefined {
  const reasons: string[] = [];
  for (const dep of deps) {
    const d = state(dep.application);
    if (!d) {
      reasons.push(`waiting for ${dep.application} (no such application)`);
      continue;
    }
    if (d.bundleHash === null) {
      reasons.push(`waiting for ${d.name} (not rendered)`);
      continue;
    }
    const where =
      dep.cluster === undefined
        ? d.destinations.includes(cluster)
          ? [cluster]
          : d.destinations
        : typeof dep.cluster === 'string'
          ? [dep.cluster]
          : d.destinations.filter((c) =>
              Object.entries(
                (dep.cluster as { matchLabels: Record<string, string> }).matchLabels,
              ).every(([k, v]) => d.clusterLabels.get(c)?.[k] === v),
            );
    if (where.length === 0) {
      reasons.push(`waiting for ${d.name} (no cluster matches)`);
      continue;
    }
    const notReady = where.filter((c) => {
      const t = d.targets.find((x) => x.cluster === c);
      return !(
        t &&
        t.bundleHash === d.bundleHash &&
        t.applied &&
        t.sync === 'Synced' &&
        t.health === 'Healthy'
      );
    });
    if (notReady.length) reasons.push(`waiting for ${d.name} on ${notReady.join(', ')}`);
  }
  return reasons.length ? reasons.join('; ') : undefined;
}
