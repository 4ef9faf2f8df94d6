import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { Conflict, NotFound, ValidationFailed, type FieldError } from '../common/validation.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { ProjectsService } from '../projects/projects.service.js';
import { WorkQueue } from '../work/work-queue.js';
import type { AppTargetEntity, HealthState, SyncState } from './app-target.entity.js';
import type { AppCondition, AppRender, ApplicationEntity } from './application.entity.js';
import {
  destinationClusters,
  type CreateApplication,
  type ApplicationSpec,
} from './application.schemas.js';
import { ApplicationsRepository } from './applications.repository.js';
import { TargetsRepository } from './targets.repository.js';

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
    conditions: AppCondition[];
    clusters: ClusterStatusView[];
  };
  createdAt: string;
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
  constructor(
    private readonly ds: DataSource,
    private readonly apps: ApplicationsRepository,
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly audit: AuditService,
    private readonly projects: ProjectsService,
    private readonly work: WorkQueue,
    private readonly dispatch: DispatchNotifier,
  ) {}

  async create(input: CreateApplication): Promise<ApplicationView> {
    const { name, ...spec } = input;
    await this.checkProject(spec);
    try {
      await this.ds.transaction(async (tx) => {
        const id = await this.apps.insert(tx, name, spec);
        await this.audit.record('application.create', 'Application', name, undefined, spec, tx);
        await this.work.apps({ ids: [id] }, 'created', tx);
      });
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`application "${name}" already exists`);
      }
      throw e;
    }
    return this.get(name);
  }

  async update(name: string, spec: ApplicationSpec): Promise<ApplicationView> {
    const app = await this.getEntity(name);
    await this.checkProject(spec);
    await this.ds.transaction(async (tx) => {
      await this.apps.updateSpec(tx, app.id, spec);
      await this.audit.record('application.update', 'Application', name, app.spec, spec, tx);
      await this.work.apps({ ids: [app.id] }, 'spec updated', tx);
    });
    return this.get(name);
  }

  async delete(name: string): Promise<void> {
    const app = await this.getEntity(name);
    await this.ds.transaction(async (tx) => {
      await this.audit.record('application.delete', 'Application', name, app.spec, undefined, tx);
      const clusters = await this.apps.deleteWithNotes(tx, [app.id], true);
      await this.dispatch.notify(clusters, tx);
    });
  }

  /** Project check at admission: source repository and destinations of registered clusters. */
  private async checkProject(spec: ApplicationSpec): Promise<void> {
    const gate = await this.projects.gate();
    const { project } = spec;
    const namespace = spec.destination.namespace;
    const fields: FieldError[] = gate
      .check({ project, repoURL: spec.source.repoURL, namespace })
      .map((reason) => ({
        field: reason.endsWith('does not exist') ? 'project' : 'source.repoURL',
        reason,
      }));
    if (fields.some((f) => f.field === 'project')) {
      throw new ValidationFailed('invalid application', fields);
    }
    for (const cluster of await this.clusters.byNames(destinationClusters(spec))) {
      for (const reason of gate.check({ project, cluster, namespace }))
        fields.push({ field: 'destination', reason });
    }
    if (fields.length) throw new ValidationFailed('application not allowed by its project', fields);
  }

  async getEntity(name: string): Promise<ApplicationEntity> {
    const a = await this.apps.findByName(name);
    if (!a) throw new NotFound(`application "${name}" not found`);
    return a;
  }

  async list(): Promise<ApplicationView[]> {
    const [apps, renders] = await Promise.all([this.apps.list(), this.apps.renders()]);
    const rows = await this.statusRows(renders);
    return apps.map((a) => this.view(a, renders.get(a.id), rows.get(a.id) ?? []));
  }

  async get(name: string): Promise<ApplicationView> {
    const app = await this.getEntity(name);
    const renders = await this.apps.renders([app.id]);
    const rows = await this.statusRows(renders, app.id);
    return this.view(app, renders.get(app.id), rows.get(app.id) ?? []);
  }

  /** What the agents reported happened to this application, newest first. */
  async events(name: string, limit = 100) {
    const app = await this.getEntity(name);
    return this.targets.eventsOf(app.id, limit);
  }

  /** The desired states recorded for this application, newest first. */
  async history(name: string, limit = 100) {
    const app = await this.getEntity(name);
    return (await this.targets.historyOf(app.id, limit)).map((h) => ({
      id: Number(h.id),
      revision: h.revision,
      bundleHash: h.bundle_hash,
      specVersion: h.spec_version,
      clusters: h.clusters,
      reason: h.reason,
      replica: h.replica,
      startedAt: h.started_at.toISOString(),
      recordedAt: h.created_at.toISOString(),
    }));
  }

  async clusterStatus(name: string, cluster: string): Promise<ClusterStatusView> {
    const view = await this.get(name);
    const s = view.status.clusters.find((c) => c.cluster === cluster);
    if (!s) throw new NotFound(`application "${name}" has no status for cluster "${cluster}"`);
    return s;
  }

  private async statusRows(
    renders: Map<string, AppRender>,
    appId?: string,
  ): Promise<Map<string, ClusterStatusView[]>> {
    const out = new Map<string, ClusterStatusView[]>();
    for (const { target, cluster } of await this.targets.statusRows(appId)) {
      const list = out.get(target.appId) ?? [];
      list.push(clusterStatus(target, cluster, renders.get(target.appId)));
      out.set(target.appId, list);
    }
    return out;
  }

  private view(
    app: ApplicationEntity,
    render: AppRender | undefined,
    clusters: ClusterStatusView[],
  ): ApplicationView {
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
        revision: render?.revision ?? null,
        conditions: render?.conditions ?? [],
        clusters,
      },
      createdAt: app.createdAt.toISOString(),
    };
  }
}

/**
 * The status shown for one app on one cluster. The agent's report is only trusted for the
 * generation it applied: while a newer desired generation is unapplied the app is OutOfSync.
 *
 * A commit that leaves the application's bundle as it was moves only the application's render to
 * it (no new generation, nothing to deliver): a target whose bundle is the render's is desired,
 * and once applied runs, at the render's commit.
 */
export function clusterStatus(
  t: AppTargetEntity,
  cluster: string,
  render?: AppRender,
): ClusterStatusView {
  const behind = t.appliedGeneration < t.desiredGeneration;
  const desiredRevision =
    render?.revision && render.bundleHash === t.desiredBundleHash
      ? render.revision
      : t.desiredRevision;
  return {
    cluster,
    sync: behind ? 'OutOfSync' : t.sync,
    health: t.health,
    revision: behind ? t.appliedRevision : desiredRevision,
    desiredRevision,
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
