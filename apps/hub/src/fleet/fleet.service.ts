import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { HealthState, SyncState } from '../applications/app-target.entity.js';
import { ApplicationsRepository } from '../applications/applications.repository.js';
import { ApplicationsService } from '../applications/applications.service.js';
import { ClustersService } from '../clusters/clusters.service.js';

/** One letter per state keeps 100,000 cells near 2 MB of JSON. */
export const SYNC_CODES = { Synced: 'S', OutOfSync: 'O', Unknown: 'U' } as const satisfies Record<
  SyncState,
  string
>;
export const HEALTH_CODES = {
  Healthy: 'H',
  Progressing: 'P',
  Degraded: 'D',
  Suspended: 'S',
  Missing: 'M',
  Unknown: 'U',
} as const satisfies Record<HealthState, string>;

/**
 * One application on one cluster: the cluster's index in `FleetView.clusters`, sync and health
 * codes, 1 when drifted, and the index of its revision in `FleetApp.revisions` (-1: none).
 */
export type FleetCell = [
  cluster: number,
  sync: (typeof SYNC_CODES)[SyncState],
  health: (typeof HEALTH_CODES)[HealthState],
  drifted: 0 | 1,
  revision: number,
];

export interface FleetApp {
  name: string;
  project: string;
  appSet: string | null;
  sync: SyncState;
  health: HealthState;
  revision: string | null;
  /** Conditions that fail the application (render, source, destination, project). */
  conditions: { type: string; message: string }[];
  revisions: string[];
  cells: FleetCell[];
}

export interface FleetCluster {
  name: string;
  labels: Record<string, string>;
  connected: boolean;
  agentVersion: string | null;
  lastSeenAt: string | null;
}

export interface FleetView {
  /** Changes when the cluster list changes: cell indexes are valid for one key only. */
  clusterKey: string;
  clusters: FleetCluster[];
  apps: FleetApp[];
}

/**
 * The fleet at a glance: every application × cluster as compact cells, with the same sync,
 * health and conditions as the applications API (an application failing to render is never
 * shown Synced).
 *
 * Reading 100,000 targets takes about a second, so the last view is kept, serialised, and kept
 * current by the live feed (FleetFeed): rows of changed applications are patched in, anything
 * else it cannot patch (clusters, applications added or removed, too many changes, a change
 * heard while no console listens) drops it. Concurrent requests share one computation.
 */
@Injectable()
export class FleetService implements OnModuleDestroy {
  private cache:
    { view: FleetView; index: Map<string, number>; json?: string; until?: number } | undefined;
  /** Fires when an away agent's grace ends in the kept view (its cells turn Unknown). */
  private expiry: { at: number; timer: NodeJS.Timeout } | undefined;
  private readonly expiryListeners = new Set<() => void>();
  /** Bumped by every change heard: a computation that saw an older version is not kept. */
  private version = 0;
  private computing: { version: number; view: Promise<FleetView> } | undefined;

  constructor(
    private readonly applications: ApplicationsService,
    private readonly apps: ApplicationsRepository,
    private readonly clusters: ClustersService,
  ) {}

  onModuleDestroy(): void {
    clearTimeout(this.expiry?.timer);
    this.expiry = undefined;
  }

  /**
   * `listener` is called when the kept view went stale by time alone: an agent away past the
   * grace (ApplicationsService.agentGraceMs) is shown Unknown, and no table changed to say so.
   */
  onExpiry(listener: () => void): void {
    this.expiryListeners.add(listener);
  }

  async view(): Promise<FleetView> {
    if (this.cache?.until !== undefined && Date.now() >= this.cache.until) this.invalidate();
    if (this.cache) return this.cache.view;
    // A computation started before the last change heard is not joined: it may miss it.
    if (this.computing?.version !== this.version) {
      const computing = { version: this.version, view: this.compute(this.version) };
      this.computing = computing;
      void computing.view
        .finally(() => {
          if (this.computing === computing) this.computing = undefined;
        })
        .catch(() => undefined);
    }
    return this.computing.view;
  }

  /** The view as JSON (what GET /api/v1/fleet sends), serialised once per change. */
  async json(): Promise<string> {
    const view = await this.view();
    const cache = this.cache?.view === view ? this.cache : undefined;
    if (cache?.json) return cache.json;
    const json = JSON.stringify(view);
    if (cache) cache.json = json;
    return json;
  }

  /** Something changed that rows cannot express: the next request computes the view again. */
  invalidate(): void {
    this.version++;
    this.cache = undefined;
  }

  /** Changed rows from the live feed replace their old selves in the kept view. */
  patch(clusterKey: string, rows: FleetApp[]): void {
    this.version++;
    const cache = this.cache;
    if (!cache) return;
    if (cache.view.clusterKey !== clusterKey || rows.some((r) => !cache.index.has(r.name))) {
      this.cache = undefined;
      return;
    }
    const apps = [...cache.view.apps];
    for (const r of rows) apps[cache.index.get(r.name)!] = r;
    this.cache = { view: { ...cache.view, apps }, index: cache.index, until: cache.until };
  }

  private async compute(version: number): Promise<FleetView> {
    const clusters = await this.clusterList();
    const view = { ...clusters, apps: await this.rows(clusters.clusters) };
    // Kept only when nothing changed while it was read (else the next request reads again).
    if (version === this.version) {
      const until = this.graceEnds(clusters.clusters);
      this.cache = { view, index: new Map(view.apps.map((a, i) => [a.name, i])), until };
      if (until !== undefined) this.expireAt(until);
    }
    return view;
  }

  /** The first moment an agent not connected now has been away the grace (in the future). */
  private graceEnds(clusters: FleetCluster[]): number | undefined {
    const now = Date.now();
    let first: number | undefined;
    for (const c of clusters) {
      if (c.connected || !c.lastSeenAt) continue;
      const at = Date.parse(c.lastSeenAt) + this.applications.agentGraceMs;
      if (at > now && (first === undefined || at < first)) first = at;
    }
    return first;
  }

  private expireAt(at: number): void {
    if (this.expiry && this.expiry.at <= at && this.expiry.at > Date.now()) return;
    clearTimeout(this.expiry?.timer);
    const timer = setTimeout(
      () => {
        this.expiry = undefined;
        // A read since may have computed the view again already: the listeners are told anyway.
        if (this.cache?.until !== undefined && this.cache.until <= Date.now()) this.invalidate();
        for (const l of this.expiryListeners) l();
      },
      // A moment after, so that the view computed then sees the agent away past the grace.
      at - Date.now() + 50,
    );
    timer.unref();
    this.expiry = { at, timer };
  }

  /** Rows of these applications (those that still exist), for the live stream. */
  async some(ids: string[]): Promise<{ clusterKey: string; apps: FleetApp[] }> {
    const clusters = await this.clusterList();
    return { clusterKey: clusters.clusterKey, apps: await this.rows(clusters.clusters, ids) };
  }

  private async clusterList(): Promise<Omit<FleetView, 'apps'>> {
    const clusters: FleetCluster[] = (await this.clusters.list()).map((c) => ({
      name: c.name,
      labels: c.labels,
      connected: c.agent.connected,
      agentVersion: c.agent.version,
      lastSeenAt: c.agent.lastSeenAt,
    }));
    const clusterKey = createHash('sha256')
      .update(clusters.map((c) => c.name).join('\n'))
      .digest('base64url')
      .slice(0, 16);
    return { clusterKey, clusters };
  }

  private async rows(clusters: FleetCluster[], ids?: string[]): Promise<FleetApp[]> {
    const index = new Map(clusters.map((c, i) => [c.name, i]));
    const [views, appSets] = await Promise.all([
      this.applications.summaries(ids),
      this.apps.appSetNames(ids),
    ]);
    return views.map((v) => {
      const revisions: string[] = [];
      const cells: FleetCell[] = [];
      for (const c of v.status.clusters) {
        const i = index.get(c.cluster);
        if (i === undefined) continue;
        let r = -1;
        if (c.revision) {
          r = revisions.indexOf(c.revision);
          if (r < 0) r = revisions.push(c.revision) - 1;
        }
        cells.push([i, SYNC_CODES[c.sync], HEALTH_CODES[c.health], c.drifted ? 1 : 0, r]);
      }
      return {
        name: v.name,
        project: v.spec.project,
        appSet: appSets.get(v.name) ?? null,
        sync: v.status.sync,
        health: v.status.health,
        revision: v.status.revision,
        conditions: v.status.conditions
          .filter((c) => c.type !== 'SyncBlocked')
          .map((c) => ({ type: c.type, message: c.message })),
        revisions,
        cells,
      };
    });
  }
}
