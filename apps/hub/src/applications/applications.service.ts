import { Inject, Injectable, Optional } from '@nestjs/common';
import { DataSource, QueryFailedError, type EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { ClustersRepository, type AgentLiveness } from '../clusters/clusters.repository.js';
import { AGENT_AWAY_GRACE_SECONDS, HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { Conflict, NotFound, ValidationFailed, type FieldError } from '../common/validation.js';
import { jsonEqual } from '../common/json-equal.js';
import { redactSecretDiffs } from '../common/redact-secrets.js';
import { DependenciesService } from '../dependencies/dependencies.service.js';
import { DispatchNotifier } from '../dispatch/dispatch.notifier.js';
import { ProjectsService } from '../projects/projects.service.js';
import { WorkQueue } from '../work/work-queue.js';
import type { AppTargetEntity, HealthState, SyncState } from './app-target.entity.js';
import {
  failsStatus,
  type AppCondition,
  type AppRender,
  type ApplicationEntity,
  type AutoSyncSuspension,
} from './application.entity.js';
import {
  argoDestinationServer,
  destinationClusters,
  targetNamespace,
  type CreateApplication,
  type ApplicationSpec,
} from './application.schemas.js';
import { ApplicationsRepository, type AppListQuery } from './applications.repository.js';
import { TargetsRepository } from './targets.repository.js';
import { syncsAutomatically } from '../reconcile/sync-policy.js';

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
  /**
   * Whether the cluster's agent is connected now. An agent resends a status only when it changes:
   * an old `lastReportAt` of a connected agent is current, of a disconnected one it may not be.
   */
  connected: boolean;
  /** When the hub last heard from the agent (its heartbeats, or its disconnection); null: never. */
  lastSeenAt: string | null;
  /** Someone changed or deleted what the agent applied (see resources[].diffs). */
  drifted: boolean;
  observeOnly: boolean;
  /** The agent's current or last sync operation (phase, retries, hooks). */
  operation: AppTargetEntity['operation'];
  resources: AppTargetEntity['resources'];
  /**
   * An application synced by hand (or with automated sync suspended): the commit of a desired
   * state that is known but not deployed to this cluster yet, waiting for a sync.
   */
  pendingRevision: string | null;
  /** The bundle and namespace the cluster is asked to run. */
  bundleHash: string;
  namespace: string;
}

export interface ApplicationView {
  name: string;
  /** Its labels (`{}` when none). */
  labels: Record<string, string>;
  /** The application whose manifests hold this one (app of apps), when it is a child. */
  parent?: string;
  spec: ApplicationSpec;
  status: {
    sync: SyncState;
    health: HealthState;
    revision: string | null;
    conditions: AppCondition[];
    clusters: ClusterStatusView[];
    /** Whether new desired state is deployed by itself, and why not when suspended. */
    autoSync: { enabled: boolean; suspended: AutoSyncSuspension | null };
  };
  createdAt: string;
}

/** Applications listed by status: the sync and health states asked for (none: any). */
export interface StatusFilter {
  sync?: ReadonlySet<SyncState>;
  health?: ReadonlySet<HealthState>;
}

/** Applications whose status is read at a time while looking for those in some states. */
const STATUS_SCAN_PART = 2000;

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
  /** An agent away this long: its clusters' sync and health are shown Unknown (see agentStatus). */
  readonly agentGraceMs: number;

  constructor(
    private readonly ds: DataSource,
    private readonly apps: ApplicationsRepository,
    private readonly targets: TargetsRepository,
    private readonly clusters: ClustersRepository,
    private readonly audit: AuditService,
    private readonly projects: ProjectsService,
    private readonly work: WorkQueue,
    private readonly dispatch: DispatchNotifier,
    private readonly dependencies: DependenciesService,
    @Optional() @Inject(HUB_CONFIG) config?: HubConfig,
  ) {
    this.agentGraceMs = (config?.notify.disconnectedSeconds ?? AGENT_AWAY_GRACE_SECONDS) * 1000;
  }

  /**
   * The clusters registered with the destination server an Argo CD Application names, for
   * `parseApplicationInput` (empty when it names its cluster by name).
   */
  async destinationServers(body: unknown): Promise<Map<string, string[]>> {
    const server = argoDestinationServer(body);
    if (server === undefined) return new Map();
    return new Map([[server, await this.clusters.namesWithServer(server)]]);
  }

  async create(input: CreateApplication): Promise<ApplicationView> {
    const { name, labels = {}, ...spec } = input;
    await this.checkProject(spec);
    try {
      await this.ds.transaction(async (tx) => {
        // Checked again in the transaction, held until it commits: a deletion of the project
        // meanwhile waits and then sees this application (or went first, and this one is refused).
        await this.projects.holdForApplication(tx, spec.project);
        await this.dependencies.checkCycles(name, spec, tx);
        const id = await this.apps.insert(tx, name, spec, labels);
        await this.audit.record(
          'application.create',
          'Application',
          name,
          undefined,
          withLabels(spec, labels),
          tx,
        );
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

  /**
   * Replaces the spec and, when given, the labels. The labels of a generated application are its
   * ApplicationSet's template's: they are refused, not overwritten at its next evaluation.
   */
  async update(
    name: string,
    change: { spec: ApplicationSpec; labels?: Record<string, string> },
  ): Promise<ApplicationView> {
    const { spec } = change;
    const app = await this.getEntity(name);
    const labels = change.labels ?? app.labels;
    const relabelled = !jsonEqual(app.labels, labels);
    if (app.parentAppId) {
      // Its parent's next reconcile or sync would write it back.
      const parent = (await this.apps.namesByIds([app.parentAppId])).get(app.parentAppId);
      throw new Conflict(
        `application "${name}" is a child of application "${parent ?? app.parentAppId}" (an Application in its manifests): change it there`,
      );
    }
    if (relabelled && app.appSetId) {
      throw new ValidationFailed('invalid application', [
        {
          field: 'labels',
          reason: `application "${name}" is generated by an ApplicationSet: its labels come from the ApplicationSet's template`,
        },
      ]);
    }
    await this.checkProject(spec);
    // An unchanged application changes nothing (kubectl apply of the same file twice).
    const respecified = !jsonEqual(app.spec, spec);
    if (!respecified && !relabelled) return this.get(name);
    await this.ds.transaction(async (tx) => {
      // Labels alone change nothing deployed: only a new spec is rendered and deployed again.
      if (respecified) await this.respecify(tx, app, spec);
      if (relabelled) await this.apps.updateLabels(tx, app.id, labels);
      await this.audit.record(
        'application.update',
        'Application',
        name,
        withLabels(app.spec, app.labels),
        withLabels(spec, labels),
        tx,
      );
    });
    return this.get(name);
  }

  /** Writes a new spec, to be rendered and deployed again. */
  private async respecify(tx: EntityManager, app: ApplicationEntity, spec: ApplicationSpec) {
    // A generated one: its ApplicationSet decides whether the edit stays (see updateSpec).
    // Marked first, as an evaluation writing its results locks the set's work item first.
    if (app.appSetId)
      await this.work.appsets({ ids: [app.appSetId] }, `application ${app.name} edited`, tx);
    // Its own work item before its row, as a batch writing its results takes them (fence,
    // then the applications): the other order deadlocked with a batch of this application.
    await this.work.apps({ ids: [app.id] }, 'spec updated', tx);
    await this.projects.holdForApplication(tx, spec.project);
    await this.dependencies.checkCycles(app.name, spec, tx);
    await this.apps.updateSpec(tx, app.id, spec);
  }

  /** Deletes an application; `prune: false` leaves its resources in the clusters. */
  async delete(name: string, opts: { prune: boolean } = { prune: true }): Promise<void> {
    const app = await this.getEntity(name);
    if (app.appSetId) {
      // Its ApplicationSet would generate it again at the next evaluation.
      const owner = await this.apps.appSetName(app.appSetId);
      throw new Conflict(
        `application "${name}" is generated by ApplicationSet "${owner ?? app.appSetId}": change its generators or template, or delete the ApplicationSet`,
      );
    }
    await this.ds.transaction(async (tx) => {
      await this.audit.record('application.delete', 'Application', name, app.spec, undefined, tx);
      // Its child applications (app of apps) go with it, as Argo CD's cascading deletion does.
      const clusters = await this.apps.deleteWithNotes(tx, [app.id], opts.prune);
      await this.dispatch.notify(clusters, tx);
    });
  }

  /** Project check at admission: source repository and destinations of registered clusters. */
  private async checkProject(spec: ApplicationSpec): Promise<void> {
    const gate = await this.projects.gate();
    const { project } = spec;
    const namespace = targetNamespace(spec);
    const fields: FieldError[] = gate
      .check({ project, repoURL: spec.source.repoURL, namespace })
      .map((reason) => ({
        field: reason.endsWith('does not exist') ? 'project' : 'source.repoURL',
        reason,
      }));
    if (fields.some((f) => f.field === 'project')) {
      throw new ValidationFailed('invalid application', fields);
    }
    for (const cluster of await this.clusters.destinations(destinationClusters(spec))) {
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

  /**
   * Views of the applications, by name: all of them, or a page (`limit`, `after`) of those that
   * pass the filters. At 100,000 applications, all at once is about 100 MiB of JSON.
   */
  async list(q: AppListQuery & StatusFilter = {}): Promise<ApplicationView[]> {
    const { sync, health, ...rest } = q;
    if (sync || health) return this.listByStatus(rest, { sync, health });
    if (Object.values(rest).every((v) => v === undefined)) return this.views();
    const ids = await this.apps.findIds(rest);
    return ids.length ? this.views(ids) : [];
  }

  /**
   * The applications, by name, whose sync and health (as the list shows them) are among those
   * asked, and that pass the other filters: scanned in name order a part at a time (light views:
   * the same sync and health) until `limit` of them are found or none are left.
   */
  private async listByStatus(q: AppListQuery, filter: StatusFilter): Promise<ApplicationView[]> {
    const found = await findByStatus(
      q,
      filter,
      (part) => this.apps.findPage(part),
      (ids) => this.viewsOf(ids, true),
    );
    // Full views of those found: shown as they are now (their status may have moved since).
    return found.length ? this.views(found) : [];
  }

  /**
   * Views of every application (or of these ids) without resources, operations, messages or
   * report times, clusters in no particular order: the same sync, health and conditions as
   * `list`, for summaries of the whole fleet.
   */
  summaries(ids?: string[]): Promise<ApplicationView[]> {
    return this.views(ids, true);
  }

  private async views(ids?: string[], light = false): Promise<ApplicationView[]> {
    return (await this.viewsOf(ids, light)).map((v) => v.view);
  }

  /** Views by name, each with the application's id. */
  private async viewsOf(
    ids?: string[],
    light = false,
  ): Promise<{ id: string; view: ApplicationView }[]> {
    // Every cluster for every application; for some applications, only the clusters they name
    // or are deployed to (a page of 1,000 does not read 10,000 clusters).
    const [apps, renders, all] = await Promise.all([
      this.apps.list(ids),
      this.apps.renders(ids),
      ids ? undefined : this.clusters.list(),
    ]);
    const rows = await this.statusRows(
      renders,
      light ? this.targets.statusRowsLight(ids) : this.targets.statusRows(ids),
    );
    const registered =
      all ??
      (await this.clusters.agentsByNames([
        ...apps.flatMap((a) => destinationClusters(a.spec)),
        ...[...rows.values()].flatMap((list) => list.map((c) => c.cluster)),
      ]));
    const names = new Set(registered.map((c) => c.name));
    const agents = new Map(registered.map((c) => [c.name, c]));
    const waiting = await this.dependencies.blockersOf(
      apps.map((a) => ({ key: a.id, spec: a.spec, clusters: registeredOf(a, names) })),
    );
    const parentIds = apps.flatMap((a) => a.parentAppId ?? []);
    const parents = parentIds.length ? await this.apps.namesByIds(parentIds) : undefined;
    const now = Date.now();
    return apps.map((a) => ({
      id: a.id,
      view: this.view(
        a,
        renders.get(a.id),
        rows.get(a.id) ?? [],
        agents,
        now,
        waiting.get(a.id),
        parents,
      ),
    }));
  }

  /** The view of one application, reading only its own clusters. */
  async get(name: string): Promise<ApplicationView> {
    const app = await this.getEntity(name);
    const [renders, registered] = await Promise.all([
      this.apps.renders([app.id]),
      this.clusters.agentsByNames(destinationClusters(app.spec)),
    ]);
    const rows = await this.statusRows(renders, this.targets.statusRows(app.id));
    const names = new Set(registered.map((c) => c.name));
    const blockers = await this.dependencies.blockers(app, registeredOf(app, names));
    return this.view(
      app,
      renders.get(app.id),
      rows.get(app.id) ?? [],
      new Map(registered.map((c) => [c.name, c])),
      Date.now(),
      blockers,
      app.parentAppId ? await this.apps.namesByIds([app.parentAppId]) : undefined,
    );
  }

  /** What the agents reported happened to this application, newest first. */
  async events(name: string, limit = 100) {
    const app = await this.getEntity(name);
    return this.targets.eventsOf(app.id, limit);
  }

  /**
   * The desired states dispatched for this application, newest first (bounded by its
   * `revisionHistoryLimit`), each with what became of it on every cluster it went to.
   */
  async history(name: string, limit = 100) {
    const app = await this.getEntity(name);
    const [entries, rows] = await Promise.all([
      this.targets.historyOf(app.id, limit),
      this.targets.statusRows(app.id),
    ]);
    const now = new Map(rows.map((r) => [r.target.clusterId, r]));
    const names = new Map(
      (
        await this.clusters.byIds([
          ...new Set(entries.flatMap((e) => e.targets.map((t) => t.clusterId))),
        ])
      ).map((c) => [c.id, c.name]),
    );
    return entries.map((h) => ({
      id: h.id,
      revision: h.revision,
      bundleHash: h.bundleHash,
      specVersion: h.specVersion,
      clusters: h.clusters,
      reason: h.reason,
      actor: h.actor,
      replica: h.replica,
      startedAt: h.startedAt.toISOString(),
      recordedAt: h.recordedAt.toISOString(),
      targets: h.targets.map((t) => ({
        cluster: names.get(t.clusterId) ?? t.clusterId,
        generation: t.generation,
        ...historyResult(t.generation, now.get(t.clusterId)?.target),
      })),
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
    targets: Promise<{ target: AppTargetEntity; cluster: string }[]>,
  ): Promise<Map<string, ClusterStatusView[]>> {
    const out = new Map<string, ClusterStatusView[]>();
    for (const { target, cluster } of await targets) {
      const list = out.get(target.appId) ?? [];
      list.push(clusterStatus(target, cluster, renders.get(target.appId)));
      out.set(target.appId, list);
    }
    return out;
  }

  private view(
    app: ApplicationEntity,
    render: AppRender | undefined,
    deployed: ClusterStatusView[],
    registered: Map<string, AgentLiveness>,
    now: number,
    waiting?: Map<string, string>,
    parents?: ReadonlyMap<string, string>,
  ): ApplicationView {
    const destinations = destinationClusters(app.spec);
    const wanted = destinations.length;
    // What the hub knows (the reports, what is pending), then what it can vouch for: a cluster
    // whose agent is away past the grace is Unknown, as it is for the aggregate below.
    const clusters = withPending(
      app,
      render,
      deployed,
      destinations.filter((c) => registered.has(c)),
      waiting,
    ).map((c) => agentStatus(c, registered.get(c.cluster), now, this.agentGraceMs));
    // An application that cannot be rendered or placed at its current spec and commit is not
    // known to be Synced, whatever its clusters run (Argo CD: Unknown with a ComparisonError).
    const failing = (render?.conditions ?? []).some(failsStatus);
    const sync: SyncState =
      failing || clusters.length === 0 || clusters.length < wanted
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
    const parent = app.parentAppId ? parents?.get(app.parentAppId) : undefined;
    return {
      name: app.name,
      labels: app.labels,
      ...(parent !== undefined ? { parent } : {}),
      spec: app.spec,
      status: {
        sync,
        health,
        revision: render?.revision ?? null,
        conditions: render?.conditions ?? [],
        clusters,
        autoSync: { enabled: syncsAutomatically(app), suspended: app.autoSyncSuspended },
      },
      createdAt: app.createdAt.toISOString(),
    };
  }
}

/**
 * Desired state known but not deployed: a target whose stored desired state differs from the
 * render (another bundle or namespace) is OutOfSync with the render's commit pending, and a
 * destination never deployed to is OutOfSync and Missing. That is the normal state of an
 * application synced by hand, and of an automated one while a sync window holds it back.
 */
function withPending(
  app: ApplicationEntity,
  render: AppRender | undefined,
  deployed: ClusterStatusView[],
  destinations: string[],
  waiting?: Map<string, string>,
): ClusterStatusView[] {
  const pending =
    render?.bundleHash && render.revision && render.specVersion === app.specVersion
      ? render
      : undefined;
  const hint = (cluster: string) =>
    waiting?.has(cluster)
      ? `: ${waiting.get(cluster)}`
      : syncsAutomatically(app)
        ? ''
        : ': sync to deploy it';
  const out = deployed.map((c) => {
    if (
      !pending ||
      (c.bundleHash === pending.bundleHash && c.namespace === targetNamespace(app.spec))
    )
      return c;
    return {
      ...c,
      sync: 'OutOfSync' as const,
      pendingRevision: pending.revision,
      message: `revision ${pending.revision!.slice(0, 12)} is not deployed${hint(c.cluster)}${c.message ? `; ${c.message}` : ''}`,
    };
  });
  const have = new Set(deployed.map((c) => c.cluster));
  // An automated application not rendered yet is simply not reconciled yet (Unknown).
  if (!pending && syncsAutomatically(app)) return out;
  for (const cluster of destinations.filter((c) => !have.has(c)).sort()) {
    out.push({
      cluster,
      sync: 'OutOfSync',
      health: 'Missing',
      revision: null,
      desiredRevision: pending?.revision ?? '',
      desiredGeneration: 0,
      ackedGeneration: 0,
      appliedGeneration: 0,
      message: pending
        ? `revision ${pending.revision!.slice(0, 12)} is not deployed${hint(cluster)}`
        : 'not deployed: waiting for a render, then a sync',
      lastReportAt: null,
      connected: false,
      lastSeenAt: null,
      drifted: false,
      observeOnly: false,
      operation: null,
      resources: [],
      pendingRevision: pending?.revision ?? null,
      bundleHash: '',
      namespace: '',
    });
  }
  return out;
}

/** What became of a history entry's generation on a cluster, from the target stored now. */
function historyResult(
  generation: number,
  t: AppTargetEntity | undefined,
): {
  result: 'Removed' | 'Superseded' | 'Pending' | 'Applied' | 'Failed';
  sync?: SyncState;
  health?: HealthState;
} {
  if (!t) return { result: 'Removed' };
  if (t.desiredGeneration > generation) return { result: 'Superseded' };
  if (t.appliedGeneration < generation) return { result: 'Pending' };
  const op = t.operation as { phase?: string; generation?: number } | null;
  const phase = op?.phase;
  // The agent holds the generation but is still syncing it (waves, hooks): not applied yet.
  if (phase === 'Running' && (op?.generation === undefined || op.generation === generation))
    return { result: 'Pending', sync: t.sync, health: t.health };
  return {
    result: phase === 'Failed' || phase === 'Error' ? 'Failed' : 'Applied',
    sync: t.sync,
    health: t.health,
  };
}

/** An application's destination clusters that are registered. */
function registeredOf(app: ApplicationEntity, registered: Set<string>): string[] {
  return destinationClusters(app.spec).filter((c) => registered.has(c));
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
    // The agent's side is joined in by agentStatus.
    connected: false,
    lastSeenAt: null,
    drifted: t.drifted,
    observeOnly: t.observeOnly,
    operation: t.operation,
    resources: redactSecretDiffs(t.resources),
    pendingRevision: null,
    bundleHash: t.desiredBundleHash,
    namespace: t.desiredNamespace,
  };
}

/**
 * One cluster's view with its agent's connection joined in. The agent sends a status only when
 * it changes, so its last report stands for the present only while it is connected (or away
 * briefly: a restart, a hub replica going away). Away `graceMs` or longer (the grace after which
 * `on-agent-disconnected` fires), sync and health are Unknown, as Argo CD shows an application
 * on a cluster it cannot reach, and the message says since when and what was last reported.
 * An agent never heard from is left as it is: it never reported anything to be taken as current.
 */
export function agentStatus(
  c: ClusterStatusView,
  agent: AgentLiveness | undefined,
  now: number,
  graceMs: number,
): ClusterStatusView {
  const connected = agent?.connected ?? false;
  const seen = agent?.lastSeenAt ?? null;
  const view = { ...c, connected, lastSeenAt: seen?.toISOString() ?? null };
  if (connected || !seen || now - seen.getTime() < graceMs) return view;
  const last = c.lastReportAt
    ? `last reported ${c.sync}/${c.health} at ${c.lastReportAt}`
    : `last known ${c.sync}/${c.health}`;
  return {
    ...view,
    sync: 'Unknown',
    health: 'Unknown',
    message: `agent not connected since ${seen.toISOString()}; ${last}${c.message ? `: ${c.message}` : ''}`,
  };
}

/**
 * The ids of the applications, by name, whose sync and health (as the list shows them: `views`
 * are light views, with the same sync and health) are among those `filter` asks for and that pass
 * the other filters of `q` (`page`: ids and names by name, as ApplicationsRepository.findPage):
 * read in name order `part` at a time, from `q.after`, until `q.limit` of them are found or none
 * are left. From the second part on, the next part is read while this one is looked at (its
 * queries run in PostgreSQL while the hub builds views): a long scan reads at most one part more
 * than it needed; one that ends in its first part reads no other.
 */
export async function findByStatus(
  q: AppListQuery,
  filter: StatusFilter,
  page: (q: AppListQuery) => Promise<{ id: string; name: string }[]>,
  views: (ids: string[]) => Promise<{ id: string; view: ApplicationView }[]>,
  part = STATUS_SCAN_PART,
): Promise<string[]> {
  const wanted = (v: ApplicationView) =>
    (!filter.sync || filter.sync.has(v.status.sync)) &&
    (!filter.health || filter.health.has(v.status.health));
  type Part = {
    names: { id: string; name: string }[];
    views: Promise<{ id: string; view: ApplicationView }[]>;
  };
  // Read ahead, a part may not be awaited (the scan ended first): its failure is then nobody's.
  const quiet = <T>(p: Promise<T>): Promise<T> => {
    p.catch(() => undefined);
    return p;
  };
  const read = (after: string | undefined): Promise<Part> =>
    quiet(
      page({ ...q, after, limit: part }).then((names) => ({
        names,
        views: quiet(names.length ? views(names.map((r) => r.id)) : Promise.resolve([])),
      })),
    );
  const most = q.limit ?? Infinity;
  const found: string[] = [];
  let next: Promise<Part> | undefined = read(q.after);
  for (let n = 0; next && found.length < most; n++) {
    const got: Part = await next;
    // A short part is the last (one whose applications were all deleted meanwhile is not).
    const after = got.names.length === part ? got.names[got.names.length - 1].name : undefined;
    const ahead = n > 0 && after !== undefined ? read(after) : undefined;
    for (const { id, view } of await got.views)
      if (found.length < most && wanted(view)) found.push(id);
    next = ahead ?? (after !== undefined && found.length < most ? read(after) : undefined);
  }
  return found;
}

/** What the audit records of an application: its spec, and its labels when it has some. */
function withLabels(spec: ApplicationSpec, labels: Record<string, string>): object {
  return Object.keys(labels).length ? { ...spec, labels } : spec;
}
