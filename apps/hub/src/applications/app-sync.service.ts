import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { currentActor } from '../auth/request-context.js';
import { ClustersRepository, type ClusterRef } from '../clusters/clusters.repository.js';
import { Conflict, NotFound, ValidationFailed, type FieldError } from '../common/validation.js';
import { DependenciesService } from '../dependencies/dependencies.service.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { GitService } from '../git/git.service.js';
import type { ProjectGate } from '../projects/project-gate.js';
import { ProjectsService } from '../projects/projects.service.js';
import { ReplicaService } from '../replicas/replica.service.js';
import { syncsAutomatically } from '../reconcile/sync-policy.js';
import { blockedMessage } from '../projects/sync-windows.js';
import { toSyncPolicy } from '../reconcile/sync-policy.js';
import { BundleStore } from '../render/bundle.store.js';
import { RenderService } from '../render/render.service.js';
import { WorkQueue } from '../work/work-queue.js';
import type { ApplicationEntity } from './application.entity.js';
import {
  destinationClusters,
  targetNamespace,
  type RollbackRequest,
  type SyncRequest,
} from './application.schemas.js';
import { ApplicationsRepository } from './applications.repository.js';
import { TargetsRepository, type DesiredTarget } from './targets.repository.js';
import { ChildAppsService } from './child-apps.service.js';
import { holdsChildren } from './child-apps.js';
import type { ResourceRef } from '../projects/project-policy.js';

/** What a sync or rollback does (or, dry run, would do) on one cluster. */
export interface SyncStep {
  cluster: string;
  action: 'deploy' | 'remove';
  /** What the cluster was asked to run before (null: nothing yet). */
  from: { revision: string; bundleHash: string } | null;
  /** The desired generation the agent is sent (absent in a dry run and for removals). */
  generation?: number;
}

export interface SyncResult {
  application: string;
  revision: string;
  bundleHash: string;
  dryRun: boolean;
  /** The history entry recorded (absent in a dry run). */
  historyId?: number;
  clusters: SyncStep[];
  /**
   * App of apps: the child applications the bundle holds, which this sync writes (or would), those
   * refused (with why) and those it deletes as no longer in the manifests (pruning only).
   */
  children?: { applications: string[]; refused: string[]; deleted: string[] };
}

interface Deployment {
  revision: string;
  bundleHash: string;
  /** Recorded in the history entry and the audit event. */
  reason: string;
  prune: boolean;
  /**
   * A person asked this sync to prune (`axle app sync --prune`): the generation carries
   * `pruneConfirmed`, so an agent that holds a large prune lets this one through. Rollbacks and
   * the hub's own deploys never confirm: the person did not ask for the deletion they make.
   */
  confirmsPrune: boolean;
  dryRun: boolean;
  /**
   * Asked for by a person (sync, rollback), or the hub's remedy (a rollout's rollback): a sync
   * window's `manualSync` lets it through. A rollout step is an automated sync: it does not.
   */
  manual: boolean;
}

/**
 * What a person asks of an application's rollout: sync (deploy the pending desired state, or
 * another revision), rollback to a history entry, refresh from git, and turning automated sync
 * back on after a rollback. A sync or rollback always moves each chosen cluster to a new desired
 * generation, so the agent re-applies whatever drifted even when the bundle is the same. Every
 * one is recorded in the application's history and the audit log.
 */
@Injectable()
export class AppSyncService {
  constructor(
    private readonly replica: ReplicaService,
    private readonly ds: DataSource,
    private readonly apps: ApplicationsRepository,
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly git: GitService,
    private readonly renderer: RenderService,
    private readonly bundles: BundleStore,
    private readonly projects: ProjectsService,
    private readonly audit: AuditService,
    private readonly work: WorkQueue,
    private readonly dispatch: DispatchNotifier,
    private readonly dependencies: DependenciesService,
    private readonly children: ChildAppsService,
  ) {}

  async sync(name: string, req: SyncRequest): Promise<SyncResult> {
    const app = await this.entity(name);
    if (req.revision) await this.refuseUnderRollingSync(app, `sync to ${req.revision}`);
    const clusters = await this.chosenClusters(app, req.clusters);
    // Dependencies gate a person's sync too.
    const waiting = await this.dependencies.blockers(
      app,
      clusters.map((c) => c.name),
    );
    if (waiting.size && !req.dryRun) {
      throw new Conflict(
        `application "${name}" cannot sync yet: ${[...waiting].map(([c, why]) => `${c}: ${why}`).join('; ')}`,
      );
    }
    const { revision, bundleHash } = await this.desired(app, req.revision, true);
    return this.deploy(app, clusters, !req.clusters, {
      revision,
      bundleHash,
      reason: req.revision ? `sync to ${req.revision}` : 'sync',
      prune: req.prune ?? false,
      confirmsPrune: req.prune ?? false,
      dryRun: req.dryRun ?? false,
      manual: true,
    });
  }

  /**
   * Deploys the bundle of a history entry again (from the hub's bundle store: git is not read).
   * Like Argo CD, an automated application then stops syncing by itself until `auto-sync` is
   * turned back on, so that the next commit does not undo the rollback.
   */
  async rollback(name: string, req: RollbackRequest): Promise<SyncResult> {
    const app = await this.entity(name);
    await this.refuseUnderRollingSync(app, 'rollback');
    const [entry] = await this.targets.historyOf(app.id, 1, req.id);
    if (!entry) throw new NotFound(`application "${name}" has no history entry ${req.id}`);
    const clusters = await this.chosenClusters(app, req.clusters);
    return this.deploy(app, clusters, false, {
      revision: entry.revision,
      bundleHash: entry.bundleHash,
      reason: `rollback to #${entry.id}`,
      prune: app.spec.syncPolicy.automated?.prune ?? false,
      confirmsPrune: false,
      dryRun: req.dryRun ?? false,
      manual: true,
    });
  }

  /**
   * An application an ApplicationSet rolls out (RollingSync) is deployed by its rollout, which
   * would put the current render back within a second: a rollback or a sync to another revision
   * of it alone is refused while that rollout runs, saying what to do instead.
   */
  private async refuseUnderRollingSync(app: ApplicationEntity, what: string): Promise<void> {
    if (!app.appSetId) return;
    const owner = await this.apps.rollingAppSetName(app.appSetId);
    if (!owner) return;
    throw new Conflict(
      `application "${app.name}" is deployed by the RollingSync rollout of ApplicationSet "${owner}", which would undo a ${what} of it alone: revert the commit (or change the ApplicationSet), or pause its rollout first (axle rollout pause ${owner}), which keeps it until resumed`,
    );
  }

  /**
   * A sync on behalf of the hub (a rollout step): the current render to every registered
   * destination. Refused by projects and sync windows as an automated sync (a window's
   * manualSync does not let it through, as in Argo CD).
   */
  async syncFor(
    app: ApplicationEntity,
    opts: {
      prune: boolean;
      reason: string;
      /** The render to deploy (default: the current one). */
      bundle?: { revision: string; bundleHash: string };
    },
  ): Promise<SyncResult> {
    const clusters = await this.chosenClusters(app, undefined);
    const { revision, bundleHash } = opts.bundle ?? (await this.desired(app, undefined));
    return this.deploy(app, clusters, true, {
      revision,
      bundleHash,
      prune: opts.prune,
      confirmsPrune: false,
      reason: opts.reason,
      dryRun: false,
      manual: false,
    });
  }

  /**
   * Deploys a stored bundle to some clusters on behalf of the hub (a rollout's rollback: a remedy,
   * let through by a window's manualSync as a person's rollback is).
   */
  async deployStored(
    app: ApplicationEntity,
    clusterIds: string[],
    d: { revision: string; bundleHash: string; prune: boolean; reason: string },
  ): Promise<SyncResult> {
    const clusters = (await this.chosenClusters(app, undefined)).filter((c) =>
      clusterIds.includes(c.id),
    );
    return this.deploy(app, clusters, false, {
      ...d,
      confirmsPrune: false,
      dryRun: false,
      manual: true,
    });
  }

  /** Turns automated sync back on (after a rollback) or suspends it; a no-op when unchanged. */
  async setAutoSync(name: string, enabled: boolean): Promise<void> {
    const app = await this.entity(name);
    if (enabled && !app.spec.syncPolicy.automated) {
      throw new Conflict(
        `application "${name}" has no syncPolicy.automated: set it in the spec to sync automatically`,
      );
    }
    if (enabled === (app.autoSyncSuspended === null)) return;
    const suspension = enabled
      ? null
      : { reason: 'suspended on request', by: currentActor(), at: new Date().toISOString() };
    await this.ds.transaction(async (tx) => {
      // Back to what git says now. Its work item before its row, as a batch writing its results
      // takes them (fence, then the applications): the other order deadlocked with a batch.
      if (enabled) await this.work.apps({ ids: [app.id] }, 'automated sync re-enabled', tx);
      await this.apps.setAutoSyncSuspended(tx, app.id, suspension);
      await this.audit.record(
        enabled ? 'application.auto-sync.enable' : 'application.auto-sync.disable',
        'Application',
        name,
        app.autoSyncSuspended ?? undefined,
        suspension ?? undefined,
        tx,
      );
    });
  }

  /** Reads the application's repository now and reconciles it (`argocd app get --refresh`). */
  async refresh(name: string): Promise<void> {
    const app = await this.entity(name);
    if (!app.spec.source.chart) await this.git.refresh(app.spec.source.repoURL);
    await this.work.apps({ ids: [app.id] }, 'refresh requested');
  }

  async entity(name: string): Promise<ApplicationEntity> {
    const app = await this.apps.findByName(name);
    if (!app) throw new NotFound(`application "${name}" not found`);
    return app;
  }

  /** The registered destination clusters a request names (default: all of them). */
  private async chosenClusters(
    app: ApplicationEntity,
    names: string[] | undefined,
  ): Promise<ClusterRef[]> {
    const destinations = destinationClusters(app.spec);
    const fields: FieldError[] = (names ?? [])
      .map((n, i) => ({ n, i }))
      .filter(({ n }) => !destinations.includes(n))
      .map(({ n, i }) => ({
        field: `clusters[${i}]`,
        reason: `"${n}" is not a destination of application "${app.name}"`,
      }));
    if (fields.length) throw new ValidationFailed('invalid sync request', fields);
    const wanted = names ?? destinations;
    const found = await this.clusters.destinations(wanted);
    if (names) {
      const known = new Set(found.map((c) => c.name));
      const missing = names
        .map((n, i) => ({ n, i }))
        .filter(({ n }) => !known.has(n))
        .map(({ n, i }) => ({
          field: `clusters[${i}]`,
          reason: `cluster "${n}" is not registered`,
        }));
      if (missing.length) throw new ValidationFailed('invalid sync request', missing);
    }
    return found;
  }

  /**
   * What a sync deploys (and a diff compares with): the application's current render (what status
   * shows pending) when it is of the current spec, else (or for another revision) a render made
   * now. A sync of an automated application to another revision is refused.
   */
  async desired(
    app: ApplicationEntity,
    revision: string | undefined,
    forSync = false,
  ): Promise<{ revision: string; bundleHash: string }> {
    const render = (await this.apps.renders([app.id])).get(app.id);
    const { source } = app.spec;
    if (
      revision === undefined &&
      render?.bundleHash &&
      render.revision &&
      render.specVersion === app.specVersion
    ) {
      return { revision: render.revision, bundleHash: render.bundleHash };
    }
    let commit: string;
    if (source.chart) {
      commit = `chart:${source.chart}@${revision ?? source.targetRevision}`;
    } else {
      try {
        commit = await this.git.resolve(source.repoURL, revision ?? source.targetRevision);
      } catch (e) {
        throw new ValidationFailed(`cannot resolve the revision of "${app.name}"`, [
          {
            field: revision === undefined ? 'source.targetRevision' : 'revision',
            reason: (e as Error).message,
          },
        ]);
      }
    }
    if (
      forSync &&
      revision !== undefined &&
      syncsAutomatically(app) &&
      !(render?.revision === commit && render.specVersion === app.specVersion)
    ) {
      // Argo CD refuses this too: the next commit would put the tracked revision back.
      throw new Conflict(
        `cannot sync application "${app.name}" to ${revision}: automated sync tracks ${source.targetRevision}; ` +
          `suspend it first (axle app auto-sync ${app.name} --disable) or change targetRevision`,
      );
    }
    const spec = revision === undefined ? app.spec : pinned(app.spec, revision);
    const capabilities = await this.clusters.capabilitiesOf(destinationClusters(app.spec));
    const [r] = await this.renderer.renderMany([
      { appName: app.name, spec, commit, ...(capabilities && { capabilities }) },
    ]);
    if (r instanceof Error)
      throw new Conflict(`cannot render application "${app.name}": ${r.message}`);
    return { revision: commit, bundleHash: r.hash };
  }

  private async deploy(
    app: ApplicationEntity,
    clusters: ClusterRef[],
    all: boolean,
    d: Deployment,
  ): Promise<SyncResult> {
    const namespace = targetNamespace(app.spec);
    const gate = await this.projects.gate();
    const resources = await this.checkProject(gate, app, clusters, d.bundleHash, d.manual);
    // App of apps: also when the bundle no longer holds any (the last one dropped).
    const children =
      holdsChildren(resources) || (await this.apps.parentsAmong([app.id])).size > 0
        ? await this.children.plan(app, d.bundleHash, gate)
        : undefined;
    const current = new Map(
      (await this.targets.desiredOf([app.id])).map((t) => [t.clusterId, t] as const),
    );
    const policy = toSyncPolicy(app.spec, gate.clusterKinds(app.spec.project));
    const rows: DesiredTarget[] = clusters.map((c) => ({
      appId: app.id,
      clusterId: c.id,
      bundleHash: d.bundleHash,
      revision: d.revision,
      namespace,
      policy: {
        ...policy,
        prune: policy.prune || d.prune,
        // This generation only: the next automated one is written from the spec, without it.
        ...(d.confirmsPrune && { pruneConfirmed: true }),
      },
    }));
    // A sync of every destination also takes the application off clusters it no longer names.
    const keep = new Set(clusters.map((c) => c.id));
    const destinations = new Set(destinationClusters(app.spec));
    const dropped = all ? [...current.values()].filter((t) => !keep.has(t.clusterId)) : [];
    const droppedNames = new Map(
      (await this.clusters.byIds(dropped.map((t) => t.clusterId))).map((c) => [c.id, c.name]),
    );
    const from = (clusterId: string) => {
      const t = current.get(clusterId);
      return t ? { revision: t.revision, bundleHash: t.bundleHash } : null;
    };
    const steps: SyncStep[] = [
      ...clusters.map((c) => ({ cluster: c.name, action: 'deploy' as const, from: from(c.id) })),
      ...dropped
        .filter((t) => !destinations.has(droppedNames.get(t.clusterId) ?? ''))
        .map((t) => ({
          cluster: droppedNames.get(t.clusterId) ?? t.clusterId,
          action: 'remove' as const,
          from: from(t.clusterId),
        })),
    ];
    const prune = policy.prune || d.prune;
    const result: SyncResult = {
      application: app.name,
      revision: d.revision,
      bundleHash: d.bundleHash,
      dryRun: d.dryRun,
      clusters: steps,
      ...(children && {
        children: {
          applications: children.children.map((c) => c.name),
          refused: children.errors,
          deleted: prune && children.keep ? children.stale : [],
        },
      }),
    };
    if (d.dryRun) return result;
    if (steps.length === 0) {
      throw new Conflict(`application "${app.name}" has no registered destination cluster to sync`);
    }
    const suspend =
      d.reason.startsWith('rollback') && syncsAutomatically(app)
        ? {
            reason: `${d.reason} (automated sync suspended so that the next commit does not undo it)`,
            by: currentActor(),
            at: new Date().toISOString(),
          }
        : undefined;
    const historyId = await this.ds.transaction(async (tx) => {
      // The application's row before its targets, as a batch takes them (lockForBatch, then
      // upsertDesired) and a deletion (deleteWithNotes): suspending automated sync after writing
      // the targets deadlocked with a batch, and writing them unlocked with a deletion (whose
      // cascade waited on the targets while this waited on the row for its history). A rollback
      // takes the row for its update at once (a shared lock first would deadlock two of them).
      const there = suspend
        ? await this.apps.setAutoSyncSuspended(tx, app.id, suspend)
        : (await this.apps.lockForBatch(tx, [app.id])).has(app.id);
      if (!there) throw new NotFound(`application "${app.name}" not found`);
      const removed = dropped.map((t) => ({ appId: app.id, clusterId: t.clusterId }));
      // Two passes below (upserts, removals): their targets are taken in one order first.
      if (rows.length && removed.length) await this.targets.lockTargets(tx, [...rows, ...removed]);
      const changed = await this.targets.upsertDesired(tx, rows, true);
      await this.targets.clearRemovalNotes(tx, changed);
      const removedFrom = await this.targets.removeTargets(tx, removed, d.prune);
      const id = await this.targets.insertHistory(tx, [
        {
          appId: app.id,
          revision: d.revision,
          bundleHash: d.bundleHash,
          specVersion: app.specVersion,
          clusters: changed.length + removed.length,
          reason: d.reason,
          replica: this.replica.id,
          startedAt: new Date(),
          actor: currentActor(),
          targets: changed,
        },
      ]);
      await this.audit.record(
        d.reason.startsWith('rollback') ? 'application.rollback' : 'application.sync',
        'Application',
        app.name,
        undefined,
        {
          revision: d.revision,
          bundleHash: d.bundleHash,
          prune: d.prune,
          clusters: steps.map((s) => `${s.action} ${s.cluster}`),
          ...(suspend ? { autoSyncSuspended: suspend } : {}),
        },
        tx,
      );
      await this.dispatch.notify(new Set([...changed.map((c) => c.clusterId), ...removedFrom]), tx);
      const generations = new Map(changed.map((c) => [c.clusterId, c.generation]));
      for (const c of clusters) {
        const step = steps.find((s) => s.cluster === c.name && s.action === 'deploy');
        if (step) step.generation = generations.get(c.id);
      }
      return id[0];
    });
    // Its children once it is deployed, in a transaction of their own (see ChildAppsService.write).
    if (children) {
      await this.children
        .write({
          parent: { id: app.id, name: app.name },
          children: children.children,
          prune,
          keep: children.keep,
        })
        .catch((e: unknown) => {
          result.children!.refused.push(
            `the child applications could not be written: ${(e as Error).message}`,
          );
        });
    }
    return { ...result, historyId };
  }

  /** The projects as they are now (what a deployment's policy carries of them). */
  projectGate(): Promise<ProjectGate> {
    return this.projects.gate();
  }

  /** The project checks of reconciliation, for this bundle on these clusters. */
  private async checkProject(
    gate: ProjectGate,
    app: ApplicationEntity,
    clusters: ClusterRef[],
    bundleHash: string,
    manual: boolean,
  ): Promise<ResourceRef[]> {
    let resources;
    try {
      resources = await this.bundles.resources(bundleHash);
    } catch (e) {
      throw new Conflict(`cannot deploy application "${app.name}": ${(e as Error).message}`);
    }
    const { project } = app.spec;
    const namespace = targetNamespace(app.spec);
    const reasons = gate.checkDeployment(
      {
        project,
        repoURL: app.spec.source.repoURL,
        namespace,
        bundle: { hash: bundleHash, resources },
      },
      clusters,
    );
    if (reasons.length) {
      throw new ValidationFailed(
        `application "${app.name}" not allowed by its project`,
        reasons.map((reason) => ({ field: 'project', reason })),
      );
    }
    // Sync windows, as in Argo CD: a window's manualSync lets a manual sync through.
    const blocked = gate.windowBlocks(
      { project, app: app.name, namespace },
      clusters,
      new Date(),
      manual,
    );
    if (blocked.size) throw new Conflict(blockedMessage(clusters, blocked));
    return resources;
  }
}

/** The spec with its source at another revision (what `sync --revision` renders). */
function pinned(spec: ApplicationEntity['spec'], revision: string): ApplicationEntity['spec'] {
  return { ...spec, source: { ...spec.source, targetRevision: revision } };
}
