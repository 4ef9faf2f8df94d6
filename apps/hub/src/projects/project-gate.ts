import type { ProjectPolicy, ResourceRef } from './project-policy.js';

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
  private readonly memo = new Map<string, string[]>();
  /** Each labels object serialised once (a cluster's labels are one object per inventory read). */
  private readonly labelKeys = new WeakMap<object, string>();

  constructor(private readonly policies: ReadonlyMap<string, ProjectPolicy>) {}

  check(r: GateRequest): string[] {
    const key = [
      r.project,
      r.repoURL ?? '',
      r.cluster?.name ?? '',
      r.cluster ? this.labelsKey(r.cluster.labels) : '',
      r.namespace,
      r.bundle?.hash ?? '',
    ].join('\u0000');
    let out = this.memo.get(key);
    if (!out) {
      out = this.evaluate(r);
      this.memo.set(key, out);
    }
    return out;
  }

  private labelsKey(labels: Record<string, string>): string {
    let k = this.labelKeys.get(labels);
    if (k === undefined) {
      k = JSON.stringify(labels);
      this.labelKeys.set(labels, k);
    }
    return k;
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
