import type { ProjectPolicy, ResourceRef } from './project-policy.js';
import type { WindowBlock, WindowSubject } from './sync-windows.js';

/** What an application wants to do, as far as its project is concerned. */
export interface GateRequest {
  project: string;
  /** Checked when given. */
  repoURL?: string;
  /** Checked when given: the destination cluster and namespace. */
  cluster?: { name: string; labels: Record<string, string> };
  namespace: string;
  /** Checked when given (with a cluster): the kinds and namespaces of a rendered bundle. */
  bundle?: { hash: string; resources: ResourceRef[] };
}

/**
 * The one project check of the hub, at every checkpoint: admission, generation, after rendering
 * and before dispatch. Answers are the reasons for refusal (empty: allowed) and are remembered per
 * distinct (project, repository, cluster, namespace, bundle), so a batch of 100,000 applications
 * over a few bundles and clusters checks each combination once.
 */
export class ProjectGate {
  /** project → repository → namespace → bundle → cluster (by object) → reasons. */
  private readonly memo = new Map<
    string,
    Map<string, Map<string, Map<string, Map<object, readonly string[]>>>>
  >();

  constructor(private readonly policies: ReadonlyMap<string, ProjectPolicy>) {}

  /**
   * Everything a deployment of a rendered bundle must pass, once per distinct reason: the
   * source repository, and each destination cluster with the bundle's kinds and namespaces.
   */
  checkDeployment(
    d: { project: string; repoURL: string; namespace: string; bundle: GateRequest['bundle'] },
    clusters: { name: string; labels: Record<string, string> }[],
  ): string[] {
    const { project, repoURL, namespace, bundle } = d;
    return [
      ...new Set([
        ...this.check({ project, repoURL, namespace }),
        ...clusters.flatMap((cluster) => this.check({ project, cluster, namespace, bundle })),
      ]),
    ];
  }

  /** What a project bounds its applications' cluster-scoped kinds to (see clusterKindsBound). */
  clusterKinds(project: string): { group: string; kind: string }[] | undefined {
    return this.policies.get(project)?.clusterKindsBound;
  }

  /** The clusters (by id) whose sync windows keep a sync of an application out at `now`. */
  windowBlocks(
    a: { project: string; app: string; namespace: string },
    clusters: { id: string; name: string }[],
    now: Date,
    manual: boolean,
  ): Map<string, WindowBlock> {
    const out = new Map<string, WindowBlock>();
    for (const c of clusters) {
      const b = this.windowBlock(
        a.project,
        { app: a.app, namespace: a.namespace, cluster: c.name },
        now,
        manual,
      );
      if (b) out.set(c.id, b);
    }
    return out;
  }

  /**
   * Whether the project's sync windows keep a sync of an application on a cluster from running
   * at `now` (undefined: it may run), and until when.
   */
  windowBlock(
    project: string,
    subject: WindowSubject,
    now: Date,
    manual: boolean,
  ): WindowBlock | undefined {
    const windows = this.policies.get(project)?.windows;
    return windows && !windows.empty ? windows.block(subject, now, manual) : undefined;
  }

  /**
   * The reasons for refusal (empty: allowed). Remembered per distinct request; clusters are told
   * apart by object (callers pass the objects of one inventory read), so no key is built.
   */
  check(r: GateRequest): readonly string[] {
    if (this.allowedOutright(r)) return ALLOWED;
    const byRepo = level(this.memo, r.project);
    const byNamespace = level(byRepo, r.repoURL ?? '');
    const byBundle = level(byNamespace, r.namespace);
    let byCluster = byBundle.get(r.bundle?.hash ?? '');
    if (!byCluster)
      byBundle.set(r.bundle?.hash ?? '', (byCluster = new Map<object, readonly string[]>()));
    const clusterKey = r.cluster ?? NO_CLUSTER;
    let out = byCluster.get(clusterKey);
    if (!out) {
      out = this.evaluate(r);
      byCluster.set(clusterKey, out);
    }
    return out;
  }

  /** A project that allows everything this request asks for (the common case, `default`). */
  private allowedOutright(r: GateRequest): boolean {
    const all = this.policies.get(r.project)?.allowsAll;
    if (!all) return false;
    // `*` matches any run of characters but a line terminator (globMatch's `.*`).
    if (r.repoURL !== undefined && (!all.source || LINE_BREAK.test(r.repoURL))) return false;
    if (!r.cluster) return true;
    // A bundle's resources are looked at once per (bundle, cluster) in the memo instead.
    return !r.bundle && all.destination && !LINE_BREAK.test(r.namespace);
  }

  private evaluate(r: GateRequest): string[] {
    const policy = this.policies.get(r.project);
    if (!policy) return [`project "${r.project}" does not exist`];
    const out: string[] = [];
    if (r.repoURL !== undefined) out.push(...policy.checkSource(r.repoURL));
    if (r.cluster) {
      out.push(...policy.checkDestination(r.cluster, r.namespace));
      if (r.bundle) out.push(...policy.checkResources(r.bundle.resources, r.namespace, r.cluster));
    }
    return [...new Set(out)];
  }
}

const NO_CLUSTER = {};
const ALLOWED: readonly string[] = Object.freeze([]);
const LINE_BREAK = /[\n\r\u2028\u2029]/;

function level<V>(m: Map<string, Map<string, V>>, k: string): Map<string, V> {
  let next = m.get(k);
  if (!next) m.set(k, (next = new Map<string, V>()));
  return next;
}
