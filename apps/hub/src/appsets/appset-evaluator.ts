import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import type { Subscription } from 'rxjs';
import { DataSource, type EntityManager } from 'typeorm';
import {
  applicationSpecHash,
  evaluationFingerprint,
  generateApplications,
  parseApplicationSet,
  planChanges,
  planOptionsFor,
  type ApplicationSet,
  type ChangePlan,
  type GeneratedApplication,
} from '../../../../libs/appset/src/index.js';
import type { ClusterInfo } from '../../../../libs/generators/src/index.js';
import { CachedTreeReader } from '../../../../libs/git/src/index.js';
import { KeyedQueue } from '../../../../libs/workqueue/src/keyed-queue.js';
import { ApplicationEntity } from '../applications/application.entity.js';
import { AuditService } from '../audit/audit.service.js';
import { ProjectsService } from '../projects/projects.service.js';
import { runWithActor } from '../auth/request-context.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import { ApplicationsService, type AppChange } from '../applications/applications.service.js';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { ClustersService } from '../clusters/clusters.service.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { GitService } from '../git/git.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import {
  ApplicationSetEntity,
  type AppSetCondition,
  type AppSetIssue,
  type AppSetStatus,
} from './application-set.entity.js';
import { toApplicationSpec } from './to-application-spec.js';

export interface Evaluation {
  applications: GeneratedApplication[];
  errors: AppSetIssue[];
  warnings: AppSetIssue[];
  plan: ChangePlan;
  /** Deletions held back by the mass-deletion guard. */
  pendingDeletion: string[];
  complete: boolean;
}

interface Owned {
  id: string;
  name: string;
  specHash: string;
}

/**
 * Evaluates ApplicationSets: generators over the cluster inventory and git, the template per
 * parameter set, then the change plan under `applicationsSync`. Per-application errors are
 * isolated; a failing generator deletes nothing; deleting more than the configured share of an
 * ApplicationSet's applications waits for an explicit confirmation. Re-evaluation is event
 * driven (commits to the repositories it reads, inventory changes for cluster generators) with a
 * periodic resync as the safety net.
 */
@Injectable()
export class AppSetEvaluator implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('AppSetEvaluator');
  private readonly queue = new KeyedQueue<string>(
    (id) => this.evaluate(id),
    2,
    (id, e) => this.log.error(`evaluate ${id} failed: ${(e as Error).stack ?? String(e)}`),
  );
  private readonly subs: Subscription[] = [];
  private readonly reader: CachedTreeReader;

  constructor(
    private readonly ds: DataSource,
    private readonly git: GitService,
    private readonly apps: ApplicationsService,
    private readonly clusters: ClustersService,
    private readonly scheduler: SchedulerRegistry,
    private readonly metrics: MetricsService,
    private readonly audit: AuditService,
    private readonly projects: ProjectsService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {
    this.reader = new CachedTreeReader(git.cache, undefined, (url, rev) => git.resolve(url, rev));
  }

  onApplicationBootstrap(): void {
    this.subs.push(
      this.git.changed$.subscribe(
        (url) => void this.enqueueWhere(`$1 = ANY(repos) OR '*' = ANY(repos)`, [url]),
      ),
      this.clusters.events$.subscribe(() => void this.enqueueWhere('reads_clusters', [])),
    );
    const timer = setInterval(
      () => void this.enqueueWhere('true', []),
      this.config.resyncSeconds * 1000,
    );
    timer.unref();
    this.scheduler.addInterval('appset-resync', timer);
    void this.enqueueWhere('true', []);
  }

  async onModuleDestroy(): Promise<void> {
    this.subs.forEach((s) => s.unsubscribe());
    if (this.scheduler.doesExist('interval', 'appset-resync'))
      this.scheduler.deleteInterval('appset-resync');
    await this.queue.stop();
  }

  enqueue(id: string): void {
    this.queue.enqueue(id);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /** Queues the matching ApplicationSets; never rejects (a failure is logged, the resync retries). */
  private async enqueueWhere(where: string, params: unknown[]): Promise<void> {
    try {
      await this.enqueueMatching(where, params);
    } catch (e) {
      this.log.error(`queueing ApplicationSets failed: ${(e as Error).message}`);
    }
  }

  private async enqueueMatching(where: string, params: unknown[]): Promise<void> {
    const rows = await this.ds.query<{ id: string }[]>(
      `SELECT id FROM application_sets WHERE ${where}`,
      params,
    );
    rows.forEach((r) => this.queue.enqueue(r.id));
  }

  /** Generates and plans without changing anything (dry run, and the first half of evaluate). */
  async preview(
    appset: ApplicationSet,
    appSetId: string | null,
    confirmed: string[] = [],
  ): Promise<Evaluation> {
    const clusters = await this.inventory();
    const clusterByName = new Map(clusters.map((c) => [c.name, c]));
    const projects = await this.projects.all();
    const result = await generateApplications(appset, { clusters, git: this.reader });
    const errors: AppSetIssue[] = result.errors.map((e) => ({
      ...(e.name ? { name: e.name } : {}),
      path: e.index >= 0 ? `applications[${e.index}]` : `spec.generators[${e.generator}]`,
      message: e.message,
    }));
    const keep = new Set(planOptionsFor(result).keep ?? []);

    // Names that belong to someone else are not taken over.
    const owned = await this.owned(appSetId);
    const ownedNames = new Set(owned.map((o) => o.name));
    const names = result.applications.map((a) => a.metadata.name);
    const taken = new Set(
      (
        await this.ds.query<{ name: string }[]>(
          `SELECT name FROM applications WHERE name = ANY($1) AND app_set_id IS DISTINCT FROM $2`,
          [names, appSetId],
        )
      ).map((r) => r.name),
    );
    const applications: GeneratedApplication[] = [];
    for (const app of result.applications) {
      const name = app.metadata.name;
      if (taken.has(name) && !ownedNames.has(name)) {
        errors.push({
          name,
          message: `an application named "${name}" already exists and is not generated by this ApplicationSet`,
        });
        continue;
      }
      const converted = toApplicationSpec(app);
      if ('error' in converted) {
        errors.push({ name, message: converted.error });
        keep.add(name);
        continue;
      }
      // Project check at generation: an application outside its project is refused on its own.
      const spec = converted.spec;
      const policy = projects.get(spec.project);
      const cluster = clusterByName.get(spec.destination.cluster ?? '');
      const violations = !policy
        ? [`project "${spec.project}" does not exist`]
        : [
            ...policy.checkSource(spec.source.repoURL),
            ...(cluster ? policy.checkDestination(cluster, spec.destination.namespace) : []),
          ];
      if (violations.length) {
        errors.push({ name, message: violations.join('; ') });
        keep.add(name);
        continue;
      }
      applications.push(app);
    }

    const plan = planChanges(
      owned.map((o) => ({ name: o.name, specHash: o.specHash })),
      applications,
      appset.spec.syncPolicy.applicationsSync,
      { keep, skipDelete: !result.complete },
    );
    // Mass-deletion guard: more than the allowed share waits for confirmation of exactly that set.
    let pendingDeletion: string[] = [];
    const share = owned.length ? plan.delete.length / owned.length : 0;
    if (plan.delete.length > 0 && share > this.config.appsetMaxDeleteShare) {
      const ok = new Set(confirmed);
      if (!plan.delete.every((n) => ok.has(n))) {
        pendingDeletion = plan.delete;
        plan.unchanged.push(...plan.delete);
        plan.delete = [];
      }
    }
    return { applications, errors, warnings: [], plan, pendingDeletion, complete: result.complete };
  }

  async evaluate(id: string): Promise<void> {
    const entity = await this.ds.getRepository(ApplicationSetEntity).findOneBy({ id });
    if (!entity) return;
    const parsed = parseApplicationSet(entity.document);
    if (!parsed.appset) {
      await this.saveStatus(entity, {
        conditions: conditions(entity, {
          error: parsed.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
          generated: false,
          upToDate: false,
        }),
      });
      return;
    }
    const appset = parsed.appset;
    // Nothing it reads changed since the last evaluation: nothing to do.
    const fingerprint = await this.fingerprint(entity);
    if (fingerprint === entity.status.fingerprint) {
      this.metrics.appsetEvaluations.inc({ outcome: 'skipped' });
      return;
    }
    this.metrics.appsetEvaluations.inc({ outcome: 'evaluated' });
    const ev = await this.preview(appset, entity.id, entity.deletionConfirmed);
    const byName = new Map(ev.applications.map((a) => [a.metadata.name, a]));
    const owned = new Map((await this.owned(entity.id)).map((o) => [o.name, o]));
    const preserve = appset.spec.syncPolicy.preserveResourcesOnDeletion;

    const changes = await this.ds.transaction(async (tx) => {
      const out: AppChange[] = [];
      for (const name of ev.plan.create) {
        const app = byName.get(name)!;
        out.push(await this.insert(tx, entity.id, app));
      }
      for (const name of ev.plan.update) {
        const app = byName.get(name)!;
        const spec = (toApplicationSpec(app) as { spec: ApplicationSpec }).spec;
        const id = owned.get(name)!.id;
        await tx.query(
          `UPDATE applications SET spec = $2, spec_hash = $3, spec_version = spec_version + 1, updated_at = now() WHERE id = $1`,
          [id, JSON.stringify(spec), applicationSpecHash(app)],
        );
        out.push({ id, deleted: false });
      }
      for (const name of ev.plan.delete)
        out.push(await this.apps.deleteInTx(tx, owned.get(name)!.id, !preserve));
      if (ev.plan.delete.length > 0) {
        await tx.update(ApplicationSetEntity, { id: entity.id }, { deletionConfirmed: [] });
      }
      if (out.length > 0) {
        // One event per evaluation that changed something, naming what it changed.
        await runWithActor(`applicationset:${entity.name}`, () =>
          this.audit.record(
            'applicationset.apply',
            'ApplicationSet',
            entity.name,
            undefined,
            { created: ev.plan.create, updated: ev.plan.update, deleted: ev.plan.delete },
            tx,
          ),
        );
      }
      return out;
    });
    this.apps.announce(...changes);

    const total = owned.size + ev.plan.create.length - ev.plan.delete.length;
    const errorText = ev.errors
      .slice(0, 5)
      .map((e) => `${e.name ?? e.path}: ${e.message}`)
      .join('; ');
    await this.saveStatus(entity, {
      conditions: conditions(entity, {
        error: ev.errors.length ? `${ev.errors.length} error(s): ${errorText}` : '',
        generated: ev.complete,
        upToDate: ev.errors.length === 0 && ev.pendingDeletion.length === 0,
        pending: ev.pendingDeletion,
        total: owned.size,
      }),
      applicationErrors: ev.errors.slice(0, 1000),
      pendingDeletion: ev.pendingDeletion,
      applications: total,
      // Recorded only when the evaluation changed nothing: its own writes change the owned-apps
      // part of the inputs, so the evaluation after a change runs once more and then settles.
      // Errors may clear without any input changing (a project or a conflicting application
      // fixed, a transient failure): only a clean, complete evaluation may be skipped next time.
      fingerprint:
        changes.length === 0 &&
        ev.errors.length === 0 &&
        ev.complete &&
        ev.pendingDeletion.length === 0
          ? fingerprint
          : undefined,
    });
    if (changes.length) {
      this.log.log(
        `${entity.name}: created ${ev.plan.create.length}, updated ${ev.plan.update.length}, deleted ${ev.plan.delete.length}` +
          (ev.errors.length ? `, ${ev.errors.length} error(s)` : ''),
      );
    }
  }

  private async insert(
    tx: EntityManager,
    appSetId: string,
    app: GeneratedApplication,
  ): Promise<AppChange> {
    const spec = (toApplicationSpec(app) as { spec: ApplicationSpec }).spec;
    const rows = await tx.query<{ id: string }[]>(
      `INSERT INTO applications (name, spec, app_set_id, spec_hash) VALUES ($1, $2, $3, $4) RETURNING id`,
      [app.metadata.name, JSON.stringify(spec), appSetId, applicationSpecHash(app)],
    );
    return { id: rows[0].id, deleted: false };
  }

  private async inventory(): Promise<ClusterInfo[]> {
    const rows = await this.ds.getRepository(ClusterEntity).find({ order: { name: 'ASC' } });
    return rows.map((c) => ({
      name: c.name,
      server: c.server || `axle://${c.name}`,
      labels: c.labels,
      annotations: c.annotations,
    }));
  }

  /**
   * Hash of everything an evaluation reads: the document, the inventory, the refs of the
   * repositories its generators read (local clone, no fetch) and the applications it owns.
   */
  private async fingerprint(entity: ApplicationSetEntity): Promise<string> {
    const repos = entity.repos.includes('*') ? await this.git.knownRepositories() : entity.repos;
    const repositories: Record<string, Record<string, string> | null> = {};
    for (const url of repos) repositories[url] = await this.git.cache.refs(url).catch(() => null);
    const [owned] = await this.ds.query<{ n: string; last: Date | null; projects: Date | null }[]>(
      `SELECT count(*) AS n, max(updated_at) AS last,
              (SELECT max(updated_at) FROM projects) AS projects
         FROM applications WHERE app_set_id = $1`,
      [entity.id],
    );
    return evaluationFingerprint({
      document: entity.document,
      clusters: await this.inventory(),
      repositories,
      extra: {
        projects: owned.projects,
        owned: owned.n,
        last: owned.last,
        confirmed: entity.deletionConfirmed,
        version: entity.specVersion,
      },
    });
  }

  private async owned(appSetId: string | null): Promise<Owned[]> {
    if (!appSetId) return [];
    const rows = await this.ds.getRepository(ApplicationEntity).find({
      select: { id: true, name: true, specHash: true },
      where: { appSetId },
    });
    return rows.map((r) => ({ id: r.id, name: r.name, specHash: r.specHash ?? '' }));
  }

  private async saveStatus(
    entity: ApplicationSetEntity,
    status: Partial<AppSetStatus>,
  ): Promise<void> {
    const next: AppSetStatus = {
      applicationErrors: [],
      pendingDeletion: [],
      applications: entity.status.applications ?? 0,
      ...status,
      conditions: status.conditions ?? [],
      lastEvaluatedAt: new Date().toISOString(),
      lastEvaluatedVersion: entity.specVersion,
    };
    await this.ds.getRepository(ApplicationSetEntity).update({ id: entity.id }, { status: next });
  }
}

function conditions(
  entity: ApplicationSetEntity,
  s: { error: string; generated: boolean; upToDate: boolean; pending?: string[]; total?: number },
): AppSetCondition[] {
  const prev = entity.status.conditions ?? [];
  const make = (
    type: AppSetCondition['type'],
    status: AppSetCondition['status'],
    reason: string,
    message: string,
  ) => {
    const old = prev.find((c) => c.type === type);
    const lastTransitionTime =
      old && old.status === status ? old.lastTransitionTime : new Date().toISOString();
    return { type, status, reason, message, lastTransitionTime };
  };
  const pending = s.pending ?? [];
  return [
    make(
      'ErrorOccurred',
      s.error ? 'True' : 'False',
      s.error ? 'ApplicationGenerationError' : 'NoError',
      s.error || 'all applications generated and applied',
    ),
    make(
      'ParametersGenerated',
      s.generated ? 'True' : 'False',
      s.generated ? 'ParametersGenerated' : 'ErrorGeneratingParameters',
      s.generated
        ? 'parameters generated by every generator'
        : 'a generator failed: nothing was deleted',
    ),
    make(
      'ResourcesUpToDate',
      s.upToDate ? 'True' : 'False',
      pending.length
        ? 'DeletionPending'
        : s.upToDate
          ? 'ApplicationSetUpToDate'
          : 'ApplicationGenerationError',
      pending.length
        ? `would delete ${pending.length} of ${s.total ?? 0} applications (${pending.slice(0, 10).join(', ')}${pending.length > 10 ? ', …' : ''}); confirm with \`axle appset confirm-deletion ${entity.name}\``
        : s.upToDate
          ? 'all applications are up to date'
          : 'some applications could not be generated; the others were applied',
    ),
  ];
}
