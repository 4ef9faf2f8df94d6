import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { AppCondition } from '../applications/application.entity.js';
import {
  ApplicationsRepository,
  type AppForReconcile,
} from '../applications/applications.repository.js';
import { TargetsRepository, type DesiredTarget } from '../applications/targets.repository.js';
import { ClustersRepository, type ClusterRef } from '../clusters/clusters.repository.js';
import type { Capabilities } from '../clusters/capabilities.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { GitService } from '../git/git.service.js';
import type { Stopwatch } from '../common/stopwatch.js';
import type { ProjectGate } from '../projects/project-gate.js';
import type { ResourceRef } from '../projects/project-policy.js';
import { ProjectsService } from '../projects/projects.service.js';
import { BundleStore } from '../render/bundle.store.js';
import { ChildAppsService } from '../applications/child-apps.service.js';
import type { ChildrenPlan, ChildrenWrite } from '../applications/child-apps.js';
import { RenderService, type Rendered, type RenderRequest } from '../render/render.service.js';
import type { Lease } from '../work/work-loop.js';
import { WorkRepository } from '../work/work.repository.js';
import { groupBy } from '../common/group-by.js';
import type { BatchOutcome, CommitResult, ReconcilePorts } from './batch-reconciler.js';

/** How long after a failed write of a parent's children the parent runs again. */
const CHILD_RETRY_SECONDS = 30;

/** The batch reconciler's view of the world: repositories, git, the renderer and projects. */
@Injectable()
export class ReconcileStore implements ReconcilePorts {
  private readonly log = new Logger('Reconcile');

  constructor(
    private readonly ds: DataSource,
    private readonly apps: ApplicationsRepository,
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly work: WorkRepository,
    private readonly git: GitService,
    private readonly renderer: RenderService,
    private readonly projects: ProjectsService,
    private readonly bundles: BundleStore,
    private readonly dispatch: DispatchNotifier,
    private readonly children: ChildAppsService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  loadApps(ids: string[]): Promise<AppForReconcile[]> {
    return this.apps.forReconcile(ids);
  }

  resolve(pairs: { url: string; revision: string }[]): Promise<(string | Error)[]> {
    return this.git.resolveMany(pairs);
  }

  render(reqs: RenderRequest[]): Promise<(Rendered | Error)[]> {
    return this.renderer.renderMany(reqs);
  }

  /** Registered clusters by name; `in-cluster` is the one AXLE_IN_CLUSTER designates. */
  clustersByName(names: string[]): Promise<ClusterRef[]> {
    return this.clusters.destinations(names);
  }

  capabilities(hashes: string[]): Promise<Map<string, Capabilities>> {
    return this.clusters.capabilities(hashes);
  }

  gate(): Promise<ProjectGate> {
    return this.projects.gate();
  }

  bundleResources(hashes: string[]): Promise<Map<string, ResourceRef[]>> {
    return this.bundles.resourcesOf(hashes);
  }

  planChildren(
    parent: { id: string; spec: { project: string } },
    bundleHash: string,
    gate: ProjectGate,
  ): Promise<ChildrenPlan> {
    return this.children.plan(parent, bundleHash, gate);
  }

  /** On failure, the parent runs again in CHILD_RETRY_SECONDS (its children written then). */
  async writeChildren(
    w: ChildrenWrite,
    expect: { specVersion: number; bundleHash: string },
  ): Promise<void> {
    try {
      await this.children.write(w, expect);
    } catch (e) {
      await this.work.markLater(
        'app',
        [w.parent.id],
        `child applications not written: ${(e as Error).message}`,
        CHILD_RETRY_SECONDS,
      );
      throw e;
    }
  }

  currentTargets(appIds: string[]): Promise<DesiredTarget[]> {
    return this.targets.desiredOf(appIds);
  }

  warn(app: string, type: AppCondition['type'], message: string): void {
    this.log.warn(`${app}: ${type}: ${message}`);
  }

  /**
   * One transaction: lock the items this replica still holds (anything else was taken over and
   * is left alone), store conditions and renders, write the desired state set-based, record the
   * history, finish the items and notify the clusters' replicas (delivered on commit).
   */
  async commit(o: BatchOutcome, lease: Lease, watch?: Stopwatch): Promise<CommitResult> {
    return this.ds.transaction(async (tx) => {
      const keys = [...o.done.map((i) => i.key), ...o.retry.map((r) => r.item.key)];
      const held = await this.work.fence(tx, 'app', lease.owner, keys);
      const mine = <T>(xs: T[], id: (x: T) => string) => xs.filter((x) => held.has(id(x)));
      watch?.lap('fence');
      await this.apps.lockForBatch(tx, [
        ...mine(o.apps, (a) => a.id).map((a) => a.id),
        ...o.history.filter((h) => held.has(h.appId)).map((h) => h.appId),
      ]);
      await this.apps.saveReconciled(
        tx,
        mine(o.apps, (a) => a.id),
      );
      await this.apps.moveRenderedRevisions(
        tx,
        mine(o.appRevisions, (a) => a.id),
      );
      watch?.lap('apps');
      // An application changed or rolled back since the batch read it keeps what it has (its
      // item was marked again and runs next).
      const dispatching = new Set(
        o.history.length
          ? await this.apps.stillDispatching(
              tx,
              o.history
                .filter((h) => held.has(h.appId))
                .map((h) => ({
                  id: h.appId,
                  specVersion: h.specVersion,
                })),
            )
          : [],
      );
      const upserts = mine(o.upserts, (t) => t.appId).filter((t) => dispatching.has(t.appId));
      const removals = mine(o.removals, (t) => t.appId).filter((t) => dispatching.has(t.appId));
      // Written in two passes (upserts, then removals), each in target order; together they are
      // not, and a status write (one pass over both) could close a lock cycle: take them all first.
      if (upserts.length && removals.length)
        await this.targets.lockTargets(tx, [...upserts, ...removals]);
      const changed = await this.targets.upsertDesired(tx, upserts);
      watch?.lap('upserts');

      await this.targets.clearRemovalNotes(tx, changed);
      const removedFrom = await this.targets.removeTargets(tx, removals);
      const perApp = new Map<string, number>();
      for (const t of [...changed, ...removals])
        perApp.set(t.appId, (perApp.get(t.appId) ?? 0) + 1);
      const generations = groupBy(changed, (c) => c.appId);
      await this.targets.insertHistory(
        tx,
        o.history
          .filter((h) => perApp.has(h.appId))
          .map((h) => ({
            ...h,
            clusters: perApp.get(h.appId)!,
            targets: generations.get(h.appId) ?? [],
          })),
      );
      watch?.lap('removals');
      const clusters = new Set([...changed.map((c) => c.clusterId), ...removedFrom]);
      await this.dispatch.notify(clusters, tx);
      await this.work.complete(
        tx,
        'app',
        lease.owner,
        mine(o.done, (i) => i.key),
      );
      await this.work.retryLater(
        tx,
        'app',
        lease.owner,
        mine(o.retry, (r) => r.item.key).map((r) => ({
          key: r.item.key,
          dirty: r.item.dirty,
          delaySeconds: r.delaySeconds,
          error: r.error,
        })),
      );
      watch?.lap('finish');
      return { changed: changed.length, clusters: clusters.size, lost: keys.length - held.size };
    });
  }
}
