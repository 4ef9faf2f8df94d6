import { createHash } from 'node:crypto';

/**
 * What a cluster's API server serves, as Helm's `.Capabilities` sees it: its version and every
 * "group/version" and "group/version/Kind" (the core group as "v1"). Reported by the cluster's
 * agent (ClusterInfo), stored once per distinct set by `hash`.
 */
export interface Capabilities {
  kubeVersion: string;
  apiVersions: string[];
  /** sha256 of the set (see capabilitiesHash). */
  hash: string;
}

/** API versions a cluster may report (a large cluster with many CRDs serves a few thousand). */
export const MAX_API_VERSIONS = 20_000;
/**
 * Characters of API versions in all: each becomes a `helm template --api-versions` argument, and
 * a process's arguments are bounded (2 MiB on Linux).
 */
export const MAX_API_VERSION_CHARS = 1_000_000;

const KUBE_VERSION_RE = /^v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,6}))?(?:[-+][0-9A-Za-z.+-]{0,40})?$/;
// group (DNS subdomain) / version (DNS label) / Kind, or version / Kind for the core group.
const API_VERSION_RE =
  /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\/[A-Za-z][A-Za-z0-9_-]{0,99})?$/;

/**
 * A Kubernetes version as Helm takes it: vMAJOR.MINOR.PATCH, a provider's suffix dropped
 * (`v1.30.4-eks-a737599` is v1.30.4: Helm compares it so, and a platform's rebuild of the same
 * release renders nothing new). Throws an Error naming the field when it is none.
 */
export function normalizeKubeVersion(raw: string): string {
  const m = KUBE_VERSION_RE.exec(raw.trim());
  if (!m)
    throw new Error(
      `kubeVersion: "${raw.slice(0, 64)}" is not a Kubernetes version (like v1.34.2)`,
    );
  return `v${Number(m[1])}.${Number(m[2])}.${Number(m[3] ?? 0)}`;
}

/**
 * Checks and normalises what an agent reported (sorted, without duplicates). A report past the
 * bounds, or without a Kubernetes version, is refused with an Error naming the field and the
 * reason; an entry that is no API version is left out (and counted in `dropped`), so one odd CRD
 * does not hold back the rest.
 */
export function parseCapabilities(info: {
  kubeVersion: string;
  apiVersions: readonly string[];
}): Capabilities & { dropped: string[] } {
  const kubeVersion = normalizeKubeVersion(info.kubeVersion);
  if (info.apiVersions.length > MAX_API_VERSIONS)
    throw new Error(
      `apiVersions: ${info.apiVersions.length} entries, more than ${MAX_API_VERSIONS}`,
    );
  const chars = info.apiVersions.reduce((n, v) => n + v.length, 0);
  if (chars > MAX_API_VERSION_CHARS)
    throw new Error(`apiVersions: ${chars} characters in all, more than ${MAX_API_VERSION_CHARS}`);
  const dropped = info.apiVersions.filter((v) => !API_VERSION_RE.test(v));
  const apiVersions = [...new Set(info.apiVersions.filter((v) => API_VERSION_RE.test(v)))].sort();
  return { kubeVersion, apiVersions, hash: capabilitiesHash(kubeVersion, apiVersions), dropped };
}

/**
 * The hash a report has if the agent sent it as stored (normalised, sorted, without duplicates,
 * as agents send it): equal to the stored hash, the report changes nothing and need not be
 * checked entry by entry. Throws as normalizeKubeVersion.
 */
export function reportedHash(info: {
  kubeVersion: string;
  apiVersions: readonly string[];
}): string {
  return capabilitiesHash(normalizeKubeVersion(info.kubeVersion), info.apiVersions);
}

export function capabilitiesHash(
  kubeVersion: string,
  sortedApiVersions: readonly string[],
): string {
  return createHash('sha256')
    .update(kubeVersion)
    .update('\n')
    .update(sortedApiVersions.join('\n'))
    .digest('hex');
}

/**
 * What an application's render may rely on when it goes to all these clusters (those whose agent
 * has reported; undefined when none has): one cluster's set as it is; for several, the lowest
 * version and the API versions every one of them serves, so that a chart renders nothing one of
 * its clusters cannot take.
 */
export function commonCapabilities(sets: readonly Capabilities[]): Capabilities | undefined {
  if (sets.length === 0) return undefined;
  const first = sets[0];
  if (sets.every((s) => s.hash === first.hash)) return first;
  const kubeVersion = sets
    .map((s) => s.kubeVersion)
    .reduce((a, b) => (compareKubeVersions(b, a) < 0 ? b : a));
  const others = sets.slice(1).map((s) => new Set(s.apiVersions));
  const apiVersions = first.apiVersions.filter((v) => others.every((o) => o.has(v)));
  return { kubeVersion, apiVersions, hash: capabilitiesHash(kubeVersion, apiVersions) };
}

/** Orders Kubernetes versions by major, minor and patch (pre-release and build suffixes aside). */
export function compareKubeVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

function versionParts(v: string): number[] {
  const m = KUBE_VERSION_RE.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0, 0, 0];
}

/**
 * Which capability sets an application going to the clusters `names` renders for: the distinct
 * sets its clusters' agents reported (`hashes`), and a `key` naming that combination ('' for
 * none, a single cluster's hash as it is), stored with the render to tell when it must render
 * again. Clusters that are not registered, or whose agent has not reported yet, count for
 * nothing: rendering the others' application with Helm's defaults instead would drop what they
 * serve (ServiceMonitors, say) from every cluster, and prune it, each time a cluster joins.
 */
export function capabilitiesKey(
  names: readonly string[],
  clusters: ReadonlyMap<string, { capabilities?: string | null }>,
): { key: string; hashes: string[] } {
  const hashes = [...new Set(names.flatMap((n) => clusters.get(n)?.capabilities ?? []))].sort();
  if (hashes.length <= 1) return { key: hashes[0] ?? '', hashes };
  return { key: createHash('sha256').update(hashes.join('\n')).digest('hex'), hashes };
}

/**
 * The render for each combination (see capabilitiesKey), from the sets read by hash: each
 * distinct combination's common set computed once.
 */
export function capabilitiesForEach(
  keys: readonly { key: string; hashes: readonly string[] }[],
  sets: ReadonlyMap<string, Capabilities>,
): (Capabilities | undefined)[] {
  const common = new Map<string, Capabilities | undefined>();
  return keys.map(({ key, hashes }) => {
    if (!common.has(key))
      common.set(key, commonCapabilities(hashes.flatMap((h) => sets.get(h) ?? [])));
    return common.get(key);
  });
}

/** Render tools whose output never depends on the clusters' capabilities. */
export const TOOLS_WITHOUT_CAPABILITIES: readonly string[] = ['directory', 'kustomize'];

/**
 * Whether an application's render may depend on its clusters' capabilities: Helm charts and
 * plugins (a tool not known yet may be either), unless the source names both the version and the
 * API versions itself.
 */
export function readsCapabilities(app: {
  renderedTool: string | null;
  spec: { source: { helm?: { kubeVersion?: string; apiVersions?: string[] } } };
}): boolean {
  if (app.renderedTool !== null && TOOLS_WITHOUT_CAPABILITIES.includes(app.renderedTool))
    return false;
  const helm = app.spec.source.helm;
  return !(helm?.kubeVersion && helm.apiVersions?.length);
}
