import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';
import { DataSource, In, QueryFailedError, type EntityManager, type Repository } from 'typeorm';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound, ValidationFailed, type FieldError } from '../common/validation.js';
import { ProjectsService } from '../projects/projects.service.js';
import { AppTargetEntity, type HealthState, type SyncState } from './app-target.entity.js';
import { ApplicationEntity } from './application.entity.js';
import {
  destinationClusters,
  type CreateApplication,
  type ApplicationSpec,
} from './application.schemas.js';

export interface ClusterStatusView {
  cluster: string;
  sync: SyncState;
  health: HealthState;
  revision: string | null;
  desiredRevision: string;
  desiredGeneration: number;
  ackedGeneration: number;
  appliedGeneration: number;
  message: string;
  lastReportAt: string | null;
  /** Someone changed or deleted what the agent applied (see resources[].diffs). */
  drifted: boolean;
  observeOnly: boolean;
  /** The agent's current or last sync operation (phase, retries, hooks). */
  operation: AppTargetEntity['operation'];
  resources: AppTargetEntity['resources'];
}

export interface ApplicationView {
  name: string;
  spec: ApplicationSpec;
  status: {
    sync: SyncState;
    health: HealthState;
    revision: string | null;
    conditions: ApplicationEntity['conditions'];
    clusters: ClusterStatusView[];
  };
  createdAt: string;
}

export interface AppChange {
  id: string;
  deleted: boolean;
  clusterIds?: string[];
}

const HEALTH_ORDER: HealthState[] = [
  'Healthy',
  'Suspended',
  'Progressing',
  'Missing',
  'Degraded',
  'Unknown',
];

@Injectable()
export class ApplicationsService {
  private readonly apps: Repository<ApplicationEntity>;
  private readonly targets: Repository<AppTargetEntity>;
  /** Application ids whose spec changed or that were deleted: the reconciler listens. */
  readonly changes$ = new Subject<AppChange>();

  constructor(
    private readonly ds: DataSource,
    private readonly audit: AuditService,
    private readonly projects: ProjectsService,
  ) {
    this.apps = ds.getRepository(ApplicationEntity);
    this.targets = ds.getRepository(AppTargetEntity);
  }

  async create(input: CreateApplication): Promise<ApplicationView> {
    const { name, ...spec } = input;
    await this.checkProject(spec);
    try {
      await this.apps.save(this.apps.create({ name, spec }));
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`application "${name}" already exists`);
      }
      throw e;
    }
    const app = await this.getEntity(name);
    await this.audit.record('application.create', 'Application', name, undefined, spec);
    this.changes$.next({ id: app.id, deleted: false });
    return this.get(name);
  }

  async update(name: string, spec: ApplicationSpec): Promise<ApplicationView> {
    const app = await this.getEntity(name);
    await this.checkProject(spec);
    const before = app.spec;
    // Incremented by the database: concurrent updates each get their own version (and render).
    await this.ds.query(
      `UPDATE applications SET spec = $2, spec_version = spec_version + 1, updated_at = now() WHERE id = $1`,
      [app.id, JSON.stringify(spec)],
    );
    await this.audit.record('application.update', 'Application', name, before, spec);
    this.changes$.next({ id: app.id, deleted: false });
    return this.get(name);
  }

  async delete(name: string): Promise<void> {
    const app = await this.getEntity(name);
    const change = await this.ds.transaction(async (tx) => {
      await this.audit.record('application.delete', 'Application', name, app.spec, undefined, tx);
      return this.deleteInTx(tx, app.id, true);
    });
    this.announce(change);
  }

  /** Project check at admission: source repository and destinations of registered clusters. */
  private async checkProject(spec: ApplicationSpec): Promise<void> {
    const policy = await this.projects.policy(spec.project);
    const fields: FieldError[] = policy
      .checkSource(spec.source.repoURL)
      .map((reason) => ({ field: 'source.repoURL', reason }));
    const names = destinationClusters(spec);
    const clusters = await this.ds.getRepository(ClusterEntity).findBy({ name: In(names) });
    for (const c of clusters) {
      for (const reason of policy.checkDestination(c, spec.destination.namespace))
        fields.push({ field: 'destination', reason });
    }
    if (fields.length) throw new ValidationFailed('application not allowed by its project', fields);
  }

  /** Publishes changes made in a transaction, once it has committed. */
  announce(...changes: AppChange[]): void {
    for (const c of changes) this.changes$.next(c);
  }

  /**
   * Deletes an application inside a transaction, leaving a removal note per cluster that says
   * whether the agent prunes its resources. Announce the returned change after commit.
   */
  async deleteInTx(tx: EntityManager, id: string, prune: boolean): Promise<AppChange> {
    const rows = await tx.query<{ cluster_id: string }[]>(
      `INSERT INTO app_removals (app_id, cluster_id, prune)
         SELECT app_id, cluster_id, $2 FROM app_targets WHERE app_id = $1
       ON CONFLICT (app_id, cluster_id) DO UPDATE SET prune = EXCLUDED.prune
       RETURNING cluster_id`,
      [id, prune],
    );
    await tx.delete(ApplicationEntity, { id });
    return { id, deleted: true, clusterIds: rows.map((r) => r.cluster_id) };
  }

  async getEntity(name: string): Promise<ApplicationEntity> {
    const a = await this.apps.findOneBy({ name });
    if (!a) throw new NotFound(`application "${name}" not found`);
    return a;
  }

  async list(): Promise<ApplicationView[]> {
    const apps = await this.apps.find({ order: { name: 'ASC' } });
    const rows = await this.statusRows();
    return apps.map((a) => this.view(a, rows.get(a.id) ?? []));
  }

  async get(name: string): Promise<ApplicationView> {
    const app = await this.getEntity(name);
    return this.view(app, (await this.statusRows(app.id)).get(app.id) ?? []);
  }

  /** What the agents reported happened to this application, newest first. */
  async events(name: string, limit = 100) {
    const app = await this.getEntity(name);
    return this.ds.query<
      {
        at: Date;
        cluster: string;
        type: string;
        reason: string;
        message: string;
        generation: string;
        offline: boolean;
      }[]
    >(
      `SELECT e.at, c.name AS cluster, e.type, e.reason, e.message, e.generation, e.offline
         FROM app_events e JOIN clusters c ON c.id = e.cluster_id
        WHERE e.app_id = $1 ORDER BY e.id DESC LIMIT $2`,
      [app.id, Math.min(Math.max(limit, 1), 1000)],
    );
  }

  async clusterStatus(name: string, cluster: string): Promise<ClusterStatusView> {
    const view = await this.get(name);
    const s = view.status.clusters.find((c) => c.cluster === cluster);
    if (!s) throw new NotFound(`application "${name}" has no status for cluster "${cluster}"`);
    return s;
  }

  private async statusRows(appId?: string): Promise<Map<string, ClusterStatusView[]>> {
    const qb = this.targets
      .createQueryBuilder('t')
      .innerJoin(ClusterEntity, 'c', 'c.id = t.cluster_id')
      .select('t')
      .addSelect('c.name', 'cluster_name')
      .orderBy('c.name');
    if (appId) qb.where('t.app_id = :appId', { appId });
    const { entities, raw } = await qb.getRawAndEntities<{ cluster_name: string }>();
    const out = new Map<string, ClusterStatusView[]>();
    entities.forEach((t, i) => {
      const list = out.get(t.appId) ?? [];
      list.push(clusterStatus(t, raw[i].cluster_name));
      out.set(t.appId, list);
    });
    return out;
  }

  private view(app: ApplicationEntity, clusters: ClusterStatusView[]): ApplicationView {
    const wanted = destinationClusters(app.spec).length;
    const sync: SyncState =
      clusters.length === 0 || clusters.length < wanted
        ? 'Unknown'
        : clusters.every((c) => c.sync === 'Synced')
          ? 'Synced'
          : clusters.some((c) => c.sync === 'OutOfSync')
            ? 'OutOfSync'
            : 'Unknown';
    const health = clusters.reduce<HealthState>(
      (w, c) => (HEALTH_ORDER.indexOf(c.health) > HEALTH_ORDER.indexOf(w) ? c.health : w),
      clusters.length ? 'Healthy' : 'Unknown',
    );
    return {
      name: app.name,
      spec: app.spec,
      status: {
        sync,
        health,
        revision: app.renderedRevision,
        conditions: app.conditions,
        clusters,
      },
      createdAt: app.createdAt.toISOString(),
    };
  }
}

/**
 * The status shown for one app on one cluster. The agent's report is only trusted for the
 * generation it applied: while a newer desired generation is unapplied the app is OutOfSync.
 */
export function clusterStatus(t: AppTargetEntity, cluster: string): ClusterStatusView {
  const behind = t.appliedGeneration < t.desiredGeneration;
  return {
    cluster,
    sync: behind ? 'OutOfSync' : t.sync,
    health: t.health,
    revision: t.appliedRevision,
    desiredRevision: t.desiredRevision,
    desiredGeneration: t.desiredGeneration,
    ackedGeneration: t.ackedGeneration,
    appliedGeneration: t.appliedGeneration,
    message: behind
      ? `waiting for generation ${t.desiredGeneration} (acked ${t.ackedGeneration}, applied ${t.appliedGeneration})${t.sync === 'OutOfSync' && t.message ? `: ${t.message}` : ''}`
      : t.message,
    lastReportAt: t.lastReportAt?.toISOString() ?? null,
    drifted: t.drifted,
    observeOnly: t.observeOnly,
    operation: t.operation,
    resources: t.resources,
  };
}
