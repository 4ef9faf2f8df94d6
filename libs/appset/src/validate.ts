import { qualifiedNameErrors, type ClusterInfo } from '../../generators/src/index.js';
import type { GeneratedApplication } from './types.js';

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Application names are Kubernetes object names: RFC 1123 subdomains of at most 253 characters. */
export function applicationNameError(name: string): string | undefined {
  if (name === '') return 'application name is empty';
  if (name.length > 253)
    return `invalid application name ${JSON.stringify(name)}: must be no more than 253 characters`;
  if (!DNS1123_SUBDOMAIN.test(name))
    return `invalid application name ${JSON.stringify(name)}: must be a lowercase RFC 1123 subdomain (lowercase alphanumeric characters, '-' or '.', starting and ending with an alphanumeric character)`;
  return undefined;
}

/** Argo CD's name for its local cluster. */
const IN_CLUSTER = 'in-cluster';

/** Lookup of the hub's clusters by name and by server URL. */
export class ClusterIndex {
  private readonly byName = new Map<string, ClusterInfo>();
  /** How many clusters share a name, for the names that more than one has. */
  private readonly sharedNames = new Map<string, number>();
  private readonly byServer = new Map<string, ClusterInfo>();

  constructor(clusters: readonly ClusterInfo[]) {
    for (const c of clusters) {
      if (!this.byName.has(c.name)) this.byName.set(c.name, c);
      else this.sharedNames.set(c.name, (this.sharedNames.get(c.name) ?? 1) + 1);
      if (!this.byServer.has(c.server)) this.byServer.set(c.server, c);
    }
    // Argo CD's local cluster answers to `in-cluster` too (the name the clusters generator gives
    // it), before a cluster registered by that name, as the hub resolves destinations.
    const local = clusters.find((c) => c.inCluster);
    if (local) {
      this.byName.set(IN_CLUSTER, local);
      this.sharedNames.delete(IN_CLUSTER);
    }
  }

  /** Resolves a destination (exactly one of name/server) to a cluster, or explains why not. */
  resolve(dest: { name?: string; server?: string }): ClusterInfo | string {
    const name = dest.name ?? '';
    const server = dest.server ?? '';
    if (name !== '' && server !== '')
      return `application destination can't have both name and server defined: ${name} ${server}`;
    if (name !== '') {
      const found = this.byName.get(name);
      if (!found) return `application references destination cluster ${name} which does not exist`;
      const count = this.sharedNames.get(name);
      if (count !== undefined)
        return `unable to find destination server: there are ${count} clusters with the same name: ${name}`;
      return found;
    }
    if (server !== '')
      return this.byServer.get(server) ?? `cluster '${server}' has not been configured`;
    return 'application destination spec is invalid: neither server nor name is set';
  }
}

const VALID_KEYS_MAX = 4096;
const validKeys = new Set<string>();

/**
 * `qualifiedNameErrors`, remembering the keys found valid: label and annotation keys mostly come
 * from the template, so every Application of an ApplicationSet repeats the same few.
 */
export function keyErrors(key: string): readonly string[] {
  if (validKeys.has(key)) return [];
  const errs = qualifiedNameErrors(key);
  if (errs.length === 0) {
    if (validKeys.size >= VALID_KEYS_MAX) validKeys.clear();
    validKeys.add(key);
  }
  return errs;
}

function mapErrors(
  kind: 'label' | 'annotation',
  map: Record<string, string> | undefined,
  out: string[],
): void {
  if (!map) return;
  for (const k of Object.keys(map)) {
    const errs = keyErrors(k);
    if (errs.length > 0) out.push(`invalid ${kind} key ${JSON.stringify(k)}: ${errs.join('; ')}`);
    if (kind !== 'label') continue;
    const v = map[k];
    if (v.length > 63 || !LABEL_VALUE.test(v))
      out.push(
        `invalid label value ${JSON.stringify(v)} for ${k}: must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character`,
      );
  }
}

/**
 * Checks one generated Application on its own; returns the problems (empty when valid). The
 * destination is resolved in place (`name` and `server` both set).
 */
export function validateApplication(
  app: GeneratedApplication,
  clusters: ClusterIndex,
  projects: ReadonlySet<string> | undefined,
): string[] {
  const problems: string[] = [];
  const nameErr = applicationNameError(app.metadata.name);
  if (nameErr) problems.push(nameErr);
  mapErrors('label', app.metadata.labels, problems);
  mapErrors('annotation', app.metadata.annotations, problems);
  if (!app.spec.project) problems.push('spec.project is required');
  if (!app.spec.source?.repoURL) problems.push('spec.source.repoURL is required');
  const dest = app.spec.destination;
  const cluster = placementOf(app.spec.project, dest, clusters, projects, problems);
  if (cluster) {
    dest.name = cluster.name;
    dest.server = cluster.server;
  }
  return problems;
}

/**
 * The checks of {@link validateApplication} that depend on more than the Application: its project
 * is one of `projects`, its destination one of `clusters`. Adds what is wrong to `problems`;
 * returns the destination cluster when there is one.
 */
export function placementOf(
  project: string,
  dest: { name?: string; server?: string },
  clusters: ClusterIndex,
  projects: ReadonlySet<string> | undefined,
  problems: string[],
): ClusterInfo | undefined {
  if (project && projects && !projects.has(project))
    problems.push(`application references project ${project} which does not exist`);
  const cluster = clusters.resolve(dest);
  if (typeof cluster !== 'string') return cluster;
  problems.push(cluster);
  return undefined;
}
