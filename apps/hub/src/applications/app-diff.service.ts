import { Injectable } from '@nestjs/common';
import { deepEqual, removeAtPointer, setAtPointer } from '../../../../libs/diff/src/index.js';
import { isSyncedResource } from '../../../../libs/health/src/index.js';
import {
  decompressBundle,
  resourceId,
  resourceKey,
  type KubeObject,
} from '../../../../libs/manifests/src/index.js';
import { redactSecret } from '../common/redact-secrets.js';
import { ValidationFailed } from '../common/validation.js';
import { BundleStore } from '../render/bundle.store.js';
import type { AppTargetEntity, ResourceState } from './app-target.entity.js';
import { destinationClusters, targetNamespace } from './application.schemas.js';
import { AppSyncService } from './app-sync.service.js';
import { TargetsRepository } from './targets.repository.js';

/** One resource that differs between what runs on a cluster and the desired state. */
export interface ResourceDiff {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  /** As the cluster has it (null: not there). */
  live: KubeObject | null;
  /** As it would be deployed (null: it would be pruned). */
  desired: KubeObject | null;
}

export interface ClusterDiff {
  cluster: string;
  /**
   * False when the bundle the agent applied is no longer known (its history entry was trimmed):
   * nothing is compared on that cluster.
   */
  liveKnown: boolean;
  /** The commit and generation the agent last reported applied (null: nothing yet). */
  liveRevision: string | null;
  liveGeneration: number;
  resources: ResourceDiff[];
}

export interface AppDiff {
  application: string;
  revision: string;
  bundleHash: string;
  clusters: ClusterDiff[];
}

/**
 * Desired (the current render, or a render at another revision) against live, per cluster and
 * resource. Live is what the agent last reported: the bundle it applied, with the live value of
 * every field it reports drifted (values cut at 512 characters, Secret data redacted) and the
 * objects it reports missing taken out. Fields no one manages in git (defaults, status) are not
 * compared, as in Argo CD's diff. The values of core Secrets (data, stringData) are shown as
 * keyed-hash markers, equal for equal values (see redactSecret): readonly users may see the diff.
 */
@Injectable()
export class AppDiffService {
  constructor(
    private readonly syncs: AppSyncService,
    private readonly targets: TargetsRepository,
    private readonly bundles: BundleStore,
  ) {}

  async diff(name: string, opts: { clusters?: string[]; revision?: string }): Promise<AppDiff> {
    const app = await this.syncs.entity(name);
    const destinations = destinationClusters(app.spec);
    const bad = (opts.clusters ?? [])
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => !destinations.includes(c));
    if (bad.length) {
      throw new ValidationFailed(
        'invalid diff request',
        bad.map(({ c, i }) => ({
          field: `cluster[${i}]`,
          reason: `"${c}" is not a destination of application "${name}"`,
        })),
      );
    }
    const desired = await this.syncs.desired(app, opts.revision);
    const desiredObjects = await this.objects(desired.bundleHash);
    const rows = new Map(
      (await this.targets.statusRows(app.id)).map((r) => [r.cluster, r.target] as const),
    );
    const history = await this.targets.historyOf(app.id, 1000);
    const namespace = targetNamespace(app.spec);
    const clusters: ClusterDiff[] = [];
    for (const cluster of opts.clusters ?? destinations) {
      const t = rows.get(cluster);
      const appliedHash = t ? appliedBundle(t, history) : undefined;
      const liveKnown = !t?.appliedGeneration || appliedHash !== undefined;
      const live = appliedHash ? await this.objects(appliedHash) : [];
      const reports = t?.resources ?? [];
      const placed = (objs: KubeObject[]) => inNamespace(objs, reports, namespace);
      clusters.push({
        cluster,
        liveKnown,
        liveRevision: t?.appliedGeneration ? t.appliedRevision : null,
        liveGeneration: t?.appliedGeneration ?? 0,
        resources: liveKnown
          ? compare(withDrift(placed(live), reports), placed(desiredObjects)).map(redacted)
          : [],
      });
    }
    return { application: app.name, ...desired, clusters };
  }

  /**
   * The bundle's tracked resources: hooks (Argo CD's and Helm's) are run, not compared, and
   * `hook: Skip` objects are never applied.
   */
  private async objects(hash: string): Promise<KubeObject[]> {
    const { objects } = decompressBundle(await this.bundles.getCompressed(hash), hash);
    return objects.filter(isSyncedResource);
  }
}

/** The bundle of the generation the agent applied: the desired one, or one from history. */
function appliedBundle(
  t: AppTargetEntity,
  history: { bundleHash: string; targets: { clusterId: string; generation: number }[] }[],
): string | undefined {
  if (t.appliedGeneration === 0) return undefined;
  if (t.appliedGeneration >= t.desiredGeneration) return t.desiredBundleHash;
  return history.find((h) =>
    h.targets.some((x) => x.clusterId === t.clusterId && x.generation === t.appliedGeneration),
  )?.bundleHash;
}

/**
 * Objects that name no namespace, placed in the destination namespace where the agent reports
 * them there (it knows which kinds are namespaced; the hub does not).
 */
function inNamespace(
  objects: KubeObject[],
  reports: ResourceState[],
  namespace: string,
): KubeObject[] {
  const reported = new Set(reports.map((r) => resourceId(r)));
  return objects.map((o) => {
    const k = resourceKey(o);
    if (k.namespace || !reported.has(resourceId({ ...k, namespace }))) return o;
    return { ...o, metadata: { ...o.metadata, namespace } };
  });
}

/** The applied objects as the agent last saw them live: drifted fields set, missing ones gone. */
function withDrift(applied: KubeObject[], reports: ResourceState[]): KubeObject[] {
  const byId = new Map(reports.map((r) => [resourceId(r), r]));
  const out: KubeObject[] = [];
  for (const o of applied) {
    const r = byId.get(resourceId(resourceKey(o)));
    if (!r) {
      out.push(o);
      continue;
    }
    if (r.health === 'Missing' && r.sync === 'OutOfSync') continue; // deleted by someone
    if (!r.diffs?.length) {
      out.push(o);
      continue;
    }
    const copy = structuredClone(o);
    for (const d of r.diffs) {
      if (d.live === '') removeAtPointer(copy, d.path);
      else setAtPointer(copy, d.path, parseValue(d.live));
    }
    out.push(copy);
  }
  return out;
}

/** The diff as shown: Secret values replaced by markers (compared before, in clear). */
function redacted(r: ResourceDiff): ResourceDiff {
  return {
    ...r,
    live: r.live && redactSecret(r.live),
    desired: r.desired && redactSecret(r.desired),
  };
}

function parseValue(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v; // cut ("…") or redacted: shown as the agent reported it
  }
}

function compare(live: KubeObject[], desired: KubeObject[]): ResourceDiff[] {
  const key = (o: KubeObject) => resourceId(resourceKey(o));
  const liveBy = new Map(live.map((o) => [key(o), o]));
  const desiredBy = new Map(desired.map((o) => [key(o), o]));
  const out: ResourceDiff[] = [];
  for (const id of new Set([...desiredBy.keys(), ...liveBy.keys()])) {
    const l = liveBy.get(id) ?? null;
    const d = desiredBy.get(id) ?? null;
    if (l && d && deepEqual(l, d)) continue;
    const k = resourceKey((d ?? l)!);
    out.push({
      group: k.group,
      kind: k.kind,
      namespace: k.namespace,
      name: k.name,
      live: l,
      desired: d,
    });
  }
  return out;
}
