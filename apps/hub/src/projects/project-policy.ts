import { z } from 'zod';
import { globMatch, repoMatch } from '../../../../libs/glob/src/index.js';
import { knownClusterScoped, type ObjectRef } from '../../../../libs/manifests/src/index.js';
import { SyncWindows, syncWindowSchema } from './sync-windows.js';

export { globMatch };

const groupKind = z
  .object({ group: z.string().max(253), kind: z.string().min(1).max(253) })
  .strict();

export const projectSpecSchema = z
  .object({
    description: z.string().max(1024).optional(),
    /** Repository URL globs applications may read ("*" = any). */
    sourceRepos: z.array(z.string().min(1).max(2048)).max(200).default([]),
    /** Where applications may deploy: clusters by label selector (none = any) and a namespace glob. */
    destinations: z
      .array(
        z
          .object({
            clusterSelector: z
              .object({ matchLabels: z.record(z.string(), z.string()) })
              .strict()
              .optional(),
            namespace: z.string().min(1).max(253),
          })
          .strict(),
      )
      .max(200)
      .default([]),
    /** Kinds that may be deployed (group/kind, "*" globs); absent = every kind. */
    allowedKinds: z.array(groupKind).max(500).optional(),
    /** Kinds never deployed, even if allowed (e.g. {group: rbac.authorization.k8s.io, kind: ClusterRole}). */
    deniedKinds: z.array(groupKind).max(500).default([]),
    /**
     * Kinds that may be deployed cluster-scoped (Argo CD's clusterResourceWhitelist): they reach
     * past the project's namespaces. Absent: every kind when the project allows every namespace
     * on every cluster, none otherwise. Namespace objects are checked by name as destinations.
     */
    clusterKinds: z.array(groupKind).max(500).optional(),
    /** Argo CD's AppProject syncWindows, as Argo writes them. */
    syncWindows: z.array(syncWindowSchema).max(100).default([]),
  })
  .strict();

export type ProjectSpec = z.output<typeof projectSpecSchema>;

/** An object of a bundle, as stored with it (`clusterScoped`: see objectRefs). */
export type ResourceRef = ObjectRef;

/** Checks against a project; each returns the reasons for refusal (empty = allowed). */
export class ProjectPolicy {
  readonly spec: ProjectSpec;

  /**
   * What a project allowing everything (like `default`) lets through without a look: any source,
   * any namespace on any cluster.
   */
  readonly allowsAll: { source: boolean; destination: boolean };

  /** The project's sync windows, compiled. */
  readonly windows: SyncWindows;

  /** Kinds that may be deployed cluster-scoped (see `clusterKinds`). */
  private readonly clusterKinds: { group: string; kind: string }[];

  /** `spec` may come straight from storage: defaults are filled in here. */
  constructor(
    readonly name: string,
    spec: unknown,
  ) {
    this.spec = projectSpecSchema.parse(spec);
    this.windows = new SyncWindows(this.spec.syncWindows);
    this.allowsAll = {
      source: this.spec.sourceRepos.includes('*'),
      destination: this.spec.destinations.some(
        (d) =>
          d.namespace === '*' && Object.keys(d.clusterSelector?.matchLabels ?? {}).length === 0,
      ),
    };
    // Sorted: the bound is part of stored policies, and reordering the list changes nothing.
    this.clusterKinds = (
      this.spec.clusterKinds ?? (this.allowsAll.destination ? [{ group: '*', kind: '*' }] : [])
    )
      .map(({ group, kind }) => ({ group, kind }))
      .sort((a, b) => {
        const [x, y] = [`${a.group}/${a.kind}`, `${b.group}/${b.kind}`];
        return x < y ? -1 : x > y ? 1 : 0;
      });
  }

  /**
   * The kinds applications may apply cluster-scoped, for the agent to enforce on the kinds the hub
   * cannot tell the scope of (`SyncPolicy.cluster_kinds`); undefined when every kind may.
   */
  get clusterKindsBound(): { group: string; kind: string }[] | undefined {
    return this.clusterKinds.some((k) => k.group === '*' && k.kind === '*')
      ? undefined
      : this.clusterKinds;
  }

  checkSource(repoURL: string): string[] {
    return this.spec.sourceRepos.some((p) => repoMatch(p, repoURL))
      ? []
      : [`project "${this.name}" does not allow source repository ${repoURL}`];
  }

  checkDestination(
    cluster: { name: string; labels: Record<string, string> },
    namespace: string,
  ): string[] {
    const ok = this.spec.destinations.some(
      (d) =>
        globMatch(d.namespace, namespace) &&
        Object.entries(d.clusterSelector?.matchLabels ?? {}).every(
          ([k, v]) => cluster.labels[k] === v,
        ),
    );
    return ok
      ? []
      : [
          `project "${this.name}" does not allow namespace "${namespace}" on cluster "${cluster.name}"`,
        ];
  }

  /** Kinds and the namespaces resources name explicitly (others land in the destination namespace). */
  checkResources(
    resources: ResourceRef[],
    destinationNamespace: string,
    cluster: { name: string; labels: Record<string, string> },
  ): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const r of resources) {
      const gk = `${r.group || 'core'}/${r.kind}`;
      const allowed =
        (this.spec.allowedKinds === undefined ||
          this.spec.allowedKinds.some(
            (a) => globMatch(a.group, r.group) && globMatch(a.kind, r.kind),
          )) &&
        !this.spec.deniedKinds.some(
          (d) => globMatch(d.group, r.group) && globMatch(d.kind, r.kind),
        );
      if (!allowed && !seen.has(gk)) {
        seen.add(gk);
        out.push(`project "${this.name}" does not allow kind ${gk} (${r.kind}/${r.name})`);
      }
      const isNamespace = r.group === '' && r.kind === 'Namespace';
      if (!isNamespace && (r.clusterScoped ?? knownClusterScoped(r.group, r.kind))) {
        // Applied without a namespace, whatever its manifest names.
        const ok = this.clusterKinds.some(
          (a) => globMatch(a.group, r.group) && globMatch(a.kind, r.kind),
        );
        if (allowed && !ok && !seen.has(`cluster:${gk}`)) {
          seen.add(`cluster:${gk}`);
          out.push(
            `project "${this.name}" does not allow kind ${gk} cluster-scoped (${r.kind}/${r.name}; spec.clusterKinds)`,
          );
        }
        continue;
      }
      // A Namespace object is a namespace the application takes over (and deletes with it), so
      // its name is checked as a destination namespace is.
      const namespace = isNamespace ? r.name : r.namespace;
      if (namespace && namespace !== destinationNamespace) {
        const why = this.checkDestination(cluster, namespace);
        if (why.length && !seen.has(`ns:${namespace}`)) {
          seen.add(`ns:${namespace}`);
          out.push(`${why[0]} (${r.kind}/${r.name})`);
        }
      }
    }
    return out;
  }
}
