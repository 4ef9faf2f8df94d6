import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Subscription } from 'rxjs';
import { DataSource, In } from 'typeorm';
import { ManifestError } from '../../../../libs/manifests/src/index.js';
import type { SyncPolicy } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import { isExactChartVersion, RenderError } from '../../../../libs/render/src/index.js';
import { KeyedQueue } from '../../../../libs/workqueue/src/keyed-queue.js';
import { ApplicationEntity, type AppCondition } from '../applications/application.entity.js';
import { destinationClusters } from '../applications/application.schemas.js';
import { ApplicationsService } from '../applications/applications.service.js';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { ClustersService } from '../clusters/clusters.service.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { GitError } from '../../../../libs/git/src/index.js';
import { GitService } from '../git/git.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { BundleStore } from '../render/bundle.store.js';
import { RenderService } from '../render/render.service.js';

const MAX_ERROR_CHARS = 4000;

/**
 * Turns an application into desired state per cluster: resolve the revision, render at that
 * commit, store the bundle, and bump the desired generation of every target whose desired state
 * changed. A render failure records a condition and leaves the last good desired state in place.
 */
@Injectable()
export class AppReconciler implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('AppReconciler');
  private readonly queue = new KeyedQueue<string>(
    (id) => this.timed(id),
    4,
    (id, e) => this.log.error(`reconcile ${id} failed: ${(e as Error).stack ?? String(e)}`),
  );
  private readonly subs: Subscription[] = [];

  constructor(
    private readonly ds: DataSource,
    private readonly git: GitService,
    private readonly bundles: BundleStore,
    private readonly apps: ApplicationsService,
    private readonly clusters: ClustersService,
    private readonly dispatch: DispatchNotifier,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: MetricsService,
    private readonly projects: ProjectsService,
    private readonly render: RenderService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.subs.push(
      this.apps.changes$.subscribe((c) => {
        if (c.deleted)
          void this.dispatch
            .notify(c.clusterIds ?? [])
            .catch((e: unknown) => this.log.error(`notify: ${(e as Error).message}`));
        else this.queue.enqueue(c.id);
      }),
      this.git.changed$.subscribe(
        (url) => void this.enqueueWhere(`spec->'source'->>'repoURL' = $1`, [url]),
      ),
      this.clusters.events$.subscribe((e) => {
        if (e.type === 'removed') return; // targets go with the cluster (ON DELETE CASCADE)
        void this.enqueueWhere(
          `spec->'destination'->>'cluster' = $1 OR spec->'destination'->'clusters' ? $1`,
          [e.cluster.name],
        );
      }),
    );
    const timer = setInterval(() => void this.enqueueAll(), this.config.resyncSeconds * 1000);
    timer.unref();
    this.scheduler.addInterval('app-resync', timer);
    void this.enqueueAll();
  }

  async onModuleDestroy(): Promise<void> {
    this.subs.forEach((s) => s.unsubscribe());
    if (this.scheduler.doesExist('interval', 'app-resync'))
      this.scheduler.deleteInterval('app-resync');
    await this.queue.stop();
  }

  /** Waits until no reconcile is queued or running (tests and graceful shutdown). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  enqueue(id: string): void {
    this.queue.enqueue(id);
  }

  async enqueueAll(): Promise<void> {
    await this.enqueueWhere('true', []);
  }

  /** Queues the matching applications; never rejects (a failure is logged, the resync retries). */
  private async enqueueWhere(where: string, params: unknown[]): Promise<void> {
    try {
      await this.enqueueMatching(where, params);
    } catch (e) {
      this.log.error(`queueing applications failed: ${(e as Error).message}`);
    }
  }

  private async enqueueMatching(where: string, params: unknown[]): Promise<void> {
    const rows = await this.ds.query<{ id: string }[]>(
      `SELECT id FROM applications WHERE ${where}`,
      params,
    );
    rows.forEach((r) => this.queue.enqueue(r.id));
  }

  private async timed(id: string): Promise<void> {
    const end = this.metrics.reconcileDuration.startTimer();
    try {
      await this.reconcile(id);
      end({ result: 'ok' });
    } catch (e) {
      end({ result: 'error' });
      throw e;
    }
  }

  async reconcile(id: string): Promise<void> {
    const repo = this.ds.getRepository(ApplicationEntity);
    const app = await repo.findOneBy({ id });
    if (!app) return;
    const { source } = app.spec;
    const conditions: AppCondition[] = [];

    // Helm repository charts are versioned by the chart, not by a git commit.
    let commit: string;
    try {
      commit = source.chart
        ? `chart:${source.chart}@${source.targetRevision}`
        : await this.git.resolve(source.repoURL, source.targetRevision);
    } catch (e) {
      return this.fail(app, 'SourceError', e);
    }

    let bundleHash = app.renderedBundleHash;
    // A Helm repository chart on "latest" or a version range may have a new release any time.
    const floating =
      source.chart !== undefined &&
      !isExactChartVersion(source.targetRevision === 'HEAD' ? '' : source.targetRevision);
    const upToDate =
      !floating &&
      bundleHash !== null &&
      app.renderedRevision === commit &&
      app.renderedSpecVersion === app.specVersion;
    if (!upToDate) {
      try {
        bundleHash = await this.render.renderToStore(app.name, app.spec, commit);
      } catch (e) {
        return this.fail(app, 'RenderError', e);
      }
    }

    const names = destinationClusters(app.spec);
    const clusters = await this.ds.getRepository(ClusterEntity).findBy({ name: In(names) });
    const missing = names.filter((n) => !clusters.some((c) => c.name === n));
    if (missing.length > 0) {
      conditions.push(
        condition('DestinationError', `clusters not registered: ${missing.join(', ')}`, app),
      );
    }

    // Project check after rendering (what the manifests contain, per destination cluster): a
    // violation keeps the last allowed desired state and dispatches nothing new.
    const project = (await this.projects.all()).get(app.spec.project);
    const resources = await this.bundles.resources(bundleHash!);
    const violations = !project
      ? [`project "${app.spec.project}" does not exist`]
      : [
          ...project.checkSource(source.repoURL),
          ...clusters.flatMap((c) => [
            ...project.checkDestination(c, app.spec.destination.namespace),
            ...project.checkResources(resources, app.spec.destination.namespace, c),
          ]),
        ];
    if (violations.length) {
      return this.fail(
        app,
        'ProjectViolation',
        new ManifestError([...new Set(violations)].join('; ')),
      );
    }

    const policy = toSyncPolicy(app.spec);
    const touched = await this.ds.transaction(async (tx) => {
      // One statement for every destination cluster: a new row starts at generation 1, an
      // existing one moves to the next generation only when its desired state differs.
      const changed = (
        await tx.query<{ cluster_id: string }[]>(
          `INSERT INTO app_targets (app_id, cluster_id, desired_generation, desired_bundle_hash, desired_revision, desired_namespace, desired_policy)
           SELECT $1, c, 1, $3, $4, $5, $6 FROM unnest($2::uuid[]) AS c
           ON CONFLICT (app_id, cluster_id) DO UPDATE SET
             desired_generation = app_targets.desired_generation + 1,
             desired_bundle_hash = EXCLUDED.desired_bundle_hash,
             desired_revision = EXCLUDED.desired_revision,
             desired_namespace = EXCLUDED.desired_namespace,
             desired_policy = EXCLUDED.desired_policy,
             updated_at = now()
           WHERE app_targets.desired_bundle_hash <> EXCLUDED.desired_bundle_hash
              OR app_targets.desired_revision <> EXCLUDED.desired_revision
              OR app_targets.desired_namespace <> EXCLUDED.desired_namespace
              OR app_targets.desired_policy <> EXCLUDED.desired_policy
           RETURNING cluster_id`,
          [
            app.id,
            clusters.map((c) => c.id),
            bundleHash,
            commit,
            app.spec.destination.namespace,
            JSON.stringify(policy),
          ],
        )
      ).map((r) => r.cluster_id);
      // TypeORM answers DELETE … RETURNING with [rows, affectedCount].
      const [removed] = await tx.query<[{ cluster_id: string }[], number]>(
        `DELETE FROM app_targets WHERE app_id = $1 AND NOT (cluster_id = ANY($2::uuid[])) RETURNING cluster_id`,
        [app.id, clusters.map((c) => c.id)],
      );
      changed.push(...removed.map((r) => r.cluster_id));
      await tx.getRepository(ApplicationEntity).update(
        { id: app.id, specVersion: app.specVersion },
        {
          renderedRevision: commit,
          renderedBundleHash: bundleHash,
          renderedSpecVersion: app.specVersion,
          conditions,
        },
      );
      return changed;
    });
    if (touched.length > 0) {
      this.log.log(
        `${app.name}: desired state at ${commit.slice(0, 12)} for ${touched.length} cluster(s)`,
      );
      await this.dispatch.notify(touched);
    }
  }

  private async fail(
    app: ApplicationEntity,
    type: AppCondition['type'],
    e: unknown,
  ): Promise<void> {
    const expected =
      e instanceof ManifestError || e instanceof GitError || e instanceof RenderError;
    const message = (e instanceof Error ? e.message : String(e)).slice(0, MAX_ERROR_CHARS);
    if (!expected) this.log.error(`${app.name}: ${(e as Error).stack ?? message}`);
    else this.log.warn(`${app.name}: ${type}: ${message}`);
    await this.ds
      .getRepository(ApplicationEntity)
      .update({ id: app.id }, { conditions: [condition(type, message, app)] });
  }
}

function condition(
  type: AppCondition['type'],
  message: string,
  app: ApplicationEntity,
): AppCondition {
  const prev = app.conditions.find((c) => c.type === type && c.message === message);
  return {
    type,
    message,
    lastTransitionTime: prev?.lastTransitionTime ?? new Date().toISOString(),
  };
}

/**
 * The application's sync policy as the agent receives it (`Deploy.sync_policy`): stored with each
 * target, so a policy change is a new desired generation like a manifest change.
 */
export function toSyncPolicy(spec: ApplicationSpec): SyncPolicy {
  const sp = spec.syncPolicy;
  const ignore = spec.ignoreDifferences ?? [];
  return {
    automated: sp.automated !== undefined,
    prune: sp.automated?.prune ?? false,
    selfHeal: sp.automated?.selfHeal ?? false,
    ...(sp.syncOptions?.length ? { syncOptions: { items: sp.syncOptions } } : {}),
    ...(sp.retry
      ? {
          retry: {
            limit: sp.retry.limit ?? 0,
            duration: sp.retry.backoff?.duration ?? '',
            factor: sp.retry.backoff?.factor ?? 0,
            maxDuration: sp.retry.backoff?.maxDuration ?? '',
          },
        }
      : {}),
    ...(ignore.length
      ? {
          ignoreDifferences: {
            items: ignore.map((i) => ({
              group: i.group ?? '',
              kind: i.kind,
              name: i.name ?? '',
              namespace: i.namespace ?? '',
              jsonPointers: i.jsonPointers ?? [],
              managedFieldsManagers: i.managedFieldsManagers ?? [],
            })),
          },
        }
      : {}),
  };
}
