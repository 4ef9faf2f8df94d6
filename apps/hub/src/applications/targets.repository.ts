import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { SyncPolicy } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import { ClusterEntity } from '../clusters/cluster.entity.js';
import { chunks, inKeyOrder, jsonParam, returned, type Db } from '../database/sql.js';
import {
  AppTargetEntity,
  type HealthState,
  type ResourceState,
  type SyncState,
} from './app-target.entity.js';

/** The desired state of one application on one cluster. */
export interface DesiredTarget {
  appId: string;
  clusterId: string;
  bundleHash: string;
  revision: string;
  namespace: string;
  policy: SyncPolicy;
}

/** A target whose desired generation moved (to `generation`). */
export interface ChangedTarget {
  appId: string;
  clusterId: string;
  generation: number;
}

/** A target as rollouts and dependency checks see it (TargetsRepository.readiness). */
export interface TargetReadiness {
  appId: string;
  clusterId: string;
  cluster: string;
  labels: Record<string, string>;
  bundleHash: string;
  revision: string;
  namespace: string;
  policy: SyncPolicy;
  /** The agent applied the desired generation. */
  applied: boolean;
  sync: SyncState;
  health: HealthState;
  /** The agent's sync of the desired generation failed. */
  failed: boolean;
}

/** An application removed from a cluster: prune its resources there, and whether to wait. */
export interface RemovalNote {
  appId: string;
  clusterId: string;
  prune: boolean;
  /** Applications that depended on it are still being removed: it goes after them. */
  held: boolean;
}

/** The longest a removal waits for the removal of applications that depended on it. */
export const REMOVAL_ORDER_MAX_WAIT_S = 600;

/** What a session needs to deliver a target. */
export interface DeliveryRow {
  appId: string;
  appName: string;
  clusterId: string;
  generation: number;
  bundleHash: string;
  revision: string;
  namespace: string;
  policy: SyncPolicy;
  project: string;
  /** The application's source repository now (checked against its project again at dispatch). */
  repoURL: string;
}

/** An agent's report about one application, as stored. */
export interface StatusRow {
  appId: string;
  clusterId: string;
  generation: number;
  revision: string | null;
  sync: SyncState;
  health: HealthState;
  message: string;
  resources: ResourceState[];
  observedAt: number;
  drifted: boolean;
  observeOnly: boolean;
  operation: string | null;
  /** The generation of an acknowledgement sent with this status, written in the same statement. */
  ack?: number;
}

export interface AckRow {
  appId: string;
  clusterId: string;
  generation: number;
}

export interface EventRow {
  appId: string;
  clusterId: string;
  at: number;
  type: string;
  reason: string;
  message: string;
  generation: number;
  offline: boolean;
}

export interface HistoryRow {
  appId: string;
  revision: string;
  bundleHash: string;
  specVersion: number;
  clusters: number;
  reason: string;
  replica: string;
  startedAt: Date;
  /** Who asked (an API token's name for syncs and rollbacks; `system` for commits). */
  actor?: string;
  /** The generation each cluster received with this entry (empty: removals only, or unknown). */
  targets?: { clusterId: string; generation: number }[];
}

/** One stored history entry, as read back. */
export interface HistoryEntry {
  id: number;
  revision: string;
  bundleHash: string;
  specVersion: number;
  clusters: number;
  reason: string;
  actor: string;
  replica: string;
  startedAt: Date;
  recordedAt: Date;
  targets: { clusterId: string; generation: number }[];
}

/** Argo CD's default `revisionHistoryLimit`. */
export const DEFAULT_HISTORY_LIMIT = 10;

interface RawDelivery {
  app_id: string;
  app_name: string;
  cluster_id: string;
  desired_generation: string;
  desired_bundle_hash: string;
  desired_revision: string;
  desired_namespace: string;
  desired_policy: SyncPolicy;
  project: string;
  repo_url: string | null;
}

const DELIVERY_COLUMNS = `t.app_id, a.name AS app_name, t.cluster_id, t.desired_generation, t.desired_bundle_hash,
  t.desired_revision, t.desired_namespace, t.desired_policy, coalesce(a.spec->>'project', 'default') AS project,
  a.spec->'source'->>'repoURL' AS repo_url`;

/**
 * Applications × clusters (table `app_targets`) and what hangs off them: removal notes, the
 * history of desired states, and the events agents report.
 */
@Injectable()
export class TargetsRepository {
  constructor(private readonly ds: DataSource) {}

  // --- desired state ----------------------------------------------------------------------------

  /** The desired state now stored for these applications. */
  async desiredOf(appIds: string[]): Promise<DesiredTarget[]> {
    const out: DesiredTarget[] = [];
    for (const part of chunks(appIds, 10_000)) {
      const rows = await this.ds.query<
        {
          app_id: string;
          cluster_id: string;
          desired_bundle_hash: string;
          desired_revision: string;
          desired_namespace: string;
          desired_policy: SyncPolicy;
        }[]
      >(
        `SELECT app_id, cluster_id, desired_bundle_hash, desired_revision, desired_namespace, desired_policy
           FROM app_targets WHERE app_id = ANY($1::uuid[])`,
        [part],
      );
      for (const r of rows) {
        out.push({
          appId: r.app_id,
          clusterId: r.cluster_id,
          bundleHash: r.desired_bundle_hash,
          revision: r.desired_revision,
          namespace: r.desired_namespace,
          policy: r.desired_policy,
        });
      }
    }
    return out;
  }

  /**
   * Writes new desired state in set-based statements: a new target starts at generation 1, a
   * changed one moves to the next generation. Returns the targets that changed, in the order of
   * `rows` (written in target order, see inTargetOrder; history lists them as given).
   */
  async upsertDesired(db: Db, rows: DesiredTarget[], force = false): Promise<ChangedTarget[]> {
    const out: ChangedTarget[] = [];
    for (const part of chunks(inTargetOrder(rows), 5000)) {
      const changed = await db.query<
        { app_id: string; cluster_id: string; desired_generation: string }[]
      >(
        `INSERT INTO app_targets (app_id, cluster_id, desired_generation, desired_bundle_hash, desired_revision, desired_namespace, desired_policy)
           SELECT d.app_id, d.cluster_id, 1, d.bundle_hash, d.revision, d.namespace, d.policy
             FROM jsonb_to_recordset($1::jsonb)
               AS d(app_id uuid, cluster_id uuid, bundle_hash text, revision text, namespace text, policy jsonb)
            -- A cluster deleted since the batch read it gets nothing (instead of failing the batch).
            WHERE EXISTS (SELECT 1 FROM clusters c WHERE c.id = d.cluster_id)
            -- Rows locked in one order by every writer (a batch, a manual sync): no lock cycle.
            ORDER BY d.app_id, d.cluster_id
         ON CONFLICT (app_id, cluster_id) DO UPDATE SET
           desired_generation = app_targets.desired_generation + 1,
           desired_bundle_hash = EXCLUDED.desired_bundle_hash,
           desired_revision = EXCLUDED.desired_revision,
           desired_namespace = EXCLUDED.desired_namespace,
           desired_policy = EXCLUDED.desired_policy,
           updated_at = now()
         WHERE $2::boolean
            OR app_targets.desired_bundle_hash <> EXCLUDED.desired_bundle_hash
            OR app_targets.desired_revision <> EXCLUDED.desired_revision
            OR app_targets.desired_namespace <> EXCLUDED.desired_namespace
            OR app_targets.desired_policy <> EXCLUDED.desired_policy
         RETURNING app_id, cluster_id, desired_generation`,
        [
          JSON.stringify(
            part.map((r) => ({
              app_id: r.appId,
              cluster_id: r.clusterId,
              bundle_hash: r.bundleHash,
              revision: r.revision,
              namespace: r.namespace,
              policy: r.policy,
            })),
          ),
          force,
        ],
      );
      out.push(
        ...changed.map((c) => ({
          appId: c.app_id,
          clusterId: c.cluster_id,
          generation: Number(c.desired_generation),
        })),
      );
    }
    const at = new Map(rows.map((r, i) => [`${r.appId}/${r.clusterId}`, i]));
    return out.sort(
      (a, b) => at.get(`${a.appId}/${a.clusterId}`)! - at.get(`${b.appId}/${b.clusterId}`)!,
    );
  }

  /**
   * Locks these targets (those that exist) in target order, the order every writer of several
   * targets takes them in: for a transaction that goes on to write them in more than one pass.
   */
  async lockTargets(db: Db, pairs: { appId: string; clusterId: string }[]): Promise<void> {
    for (const part of chunks(inTargetOrder(pairs), 10_000)) {
      await db.query(
        `SELECT 1 FROM app_targets t JOIN unnest($1::uuid[], $2::uuid[]) AS p(a, c)
             ON t.app_id = p.a AND t.cluster_id = p.c
          ORDER BY t.app_id, t.cluster_id FOR UPDATE OF t`,
        [part.map((p) => p.appId), part.map((p) => p.clusterId)],
      );
    }
  }

  /** Drops removal notes of targets that are desired again (a note only speaks for a removal). */
  async clearRemovalNotes(db: Db, pairs: { appId: string; clusterId: string }[]): Promise<void> {
    for (const part of chunks(pairs, 10_000)) {
      await db.query(
        `DELETE FROM app_removals r USING unnest($1::uuid[], $2::uuid[]) AS p(a, c)
          WHERE r.app_id = p.a AND r.cluster_id = p.c`,
        [part.map((p) => p.appId), part.map((p) => p.clusterId)],
      );
    }
  }

  /**
   * Removes targets that are no longer desired, leaving a note that their agents prune the
   * application's resources there. Returns the clusters concerned.
   */
  async removeTargets(
    db: Db,
    pairs: { appId: string; clusterId: string }[],
    prune = true,
  ): Promise<string[]> {
    const clusters = new Set<string>();
    for (const part of chunks(pairs, 10_000)) {
      const apps = part.map((p) => p.appId);
      const cls = part.map((p) => p.clusterId);
      await db.query(
        `INSERT INTO app_removals (app_id, cluster_id, prune)
           SELECT a, c, $3::boolean FROM unnest($1::uuid[], $2::uuid[]) AS p(a, c)
            WHERE EXISTS (SELECT 1 FROM clusters WHERE id = c)
         ON CONFLICT (app_id, cluster_id) DO UPDATE SET prune = EXCLUDED.prune`,
        [apps, cls, prune],
      );
      const rows: unknown = await db.query(
        `DELETE FROM app_targets t USING unnest($1::uuid[], $2::uuid[]) AS p(a, c)
          WHERE t.app_id = p.a AND t.cluster_id = p.c RETURNING t.cluster_id`,
        [apps, cls],
      );
      returned<{ cluster_id: string }>(rows).forEach((r) => clusters.add(r.cluster_id));
    }
    return [...clusters];
  }

  /**
   * Records history entries, then trims each application's history to its
   * `revisionHistoryLimit` (default 10, as in Argo CD), oldest first.
   */
  async insertHistory(db: Db, rows: HistoryRow[]): Promise<number[]> {
    const ids: number[] = [];
    for (const part of chunks(rows, 5000)) {
      const inserted = await db.query<{ id: string }[]>(
        `INSERT INTO app_history (app_id, revision, bundle_hash, spec_version, clusters, reason, replica, started_at, actor, targets)
           SELECT h.app_id, h.revision, h.bundle_hash, h.spec_version, h.clusters, h.reason, h.replica, h.started_at,
                  h.actor, h.targets
             FROM jsonb_to_recordset($1::jsonb)
               AS h(app_id uuid, revision text, bundle_hash text, spec_version integer, clusters integer,
                    reason text, replica text, started_at timestamptz, actor text, targets jsonb)
           RETURNING id`,
        [
          JSON.stringify(
            part.map((h) => ({
              app_id: h.appId,
              revision: h.revision,
              bundle_hash: h.bundleHash,
              spec_version: h.specVersion,
              clusters: h.clusters,
              reason: h.reason.slice(0, 500),
              replica: h.replica,
              started_at: h.startedAt.toISOString(),
              actor: (h.actor ?? 'system').slice(0, 128),
              targets: (h.targets ?? []).map((t) => ({ c: t.clusterId, g: t.generation })),
            })),
          ),
        ],
      );
      await db.query(
        `DELETE FROM app_history d USING (
           SELECT h.id FROM (
             SELECT id, app_id, row_number() OVER (PARTITION BY app_id ORDER BY id DESC) AS n
               FROM app_history WHERE app_id = ANY($1::uuid[])) h
             JOIN applications a ON a.id = h.app_id
            WHERE h.n > coalesce((a.spec->>'revisionHistoryLimit')::int, ${DEFAULT_HISTORY_LIMIT})) old
          WHERE d.id = old.id`,
        [[...new Set(part.map((h) => h.appId))]],
      );
      ids.push(...inserted.map((r) => Number(r.id)));
    }
    return ids;
  }

  /** An application's history, newest first (one entry with `id`). */
  async historyOf(appId: string, limit = 100, id?: number): Promise<HistoryEntry[]> {
    const rows = await this.ds.query<
      {
        id: string;
        revision: string;
        bundle_hash: string;
        spec_version: number;
        clusters: number;
        reason: string;
        actor: string;
        replica: string;
        started_at: Date;
        created_at: Date;
        targets: { c: string; g: number }[];
      }[]
    >(
      `SELECT id, revision, bundle_hash, spec_version, clusters, reason, actor, replica, started_at, created_at, targets
         FROM app_history WHERE app_id = $1 AND ($3::bigint IS NULL OR id = $3)
        ORDER BY id DESC LIMIT $2`,
      [appId, Math.min(Math.max(limit, 1), 1000), id ?? null],
    );
    return rows.map((h) => ({
      id: Number(h.id),
      revision: h.revision,
      bundleHash: h.bundle_hash,
      specVersion: h.spec_version,
      clusters: h.clusters,
      reason: h.reason,
      actor: h.actor,
      replica: h.replica,
      startedAt: h.started_at,
      recordedAt: h.created_at,
      targets: h.targets.map((t) => ({ clusterId: t.c, generation: Number(t.g) })),
    }));
  }

  // --- delivery ---------------------------------------------------------------------------------

  /**
   * Runs `read` in one read-only snapshot (REPEATABLE READ): what a delivery round reads of
   * targets and removal notes is then from one moment. Read apart, a deletion committed between
   * the two reads left a target gone and its note not yet there: an agent holding the application
   * was told to remove it pruning, though the deletion asked to keep its resources.
   */
  readSnapshot<T>(read: (db: Db) => Promise<T>): Promise<T> {
    return this.ds.transaction('REPEATABLE READ', async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return read(tx);
    });
  }

  /** Every target of these clusters (a session's full resynchronisation after Hello). */
  async allFor(clusterIds: string[], db: Db = this.ds): Promise<DeliveryRow[]> {
    return this.delivery(clusterIds, 'true', db);
  }

  /** The targets of these clusters whose desired generation the agent has not acknowledged. */
  async pendingFor(clusterIds: string[], db: Db = this.ds): Promise<DeliveryRow[]> {
    return this.delivery(clusterIds, 't.acked_generation < t.desired_generation', db);
  }

  private async delivery(clusterIds: string[], where: string, db: Db): Promise<DeliveryRow[]> {
    const out: DeliveryRow[] = [];
    for (const part of chunks(clusterIds, 5000)) {
      const rows = await db.query<RawDelivery[]>(
        `SELECT ${DELIVERY_COLUMNS} FROM app_targets t JOIN applications a ON a.id = t.app_id
          WHERE t.cluster_id = ANY($1::uuid[]) AND ${where}`,
        [part],
      );
      for (const r of rows) {
        out.push({
          appId: r.app_id,
          appName: r.app_name,
          clusterId: r.cluster_id,
          generation: Number(r.desired_generation),
          bundleHash: r.desired_bundle_hash,
          revision: r.desired_revision,
          namespace: r.desired_namespace,
          policy: r.desired_policy,
          project: r.project,
          repoURL: r.repo_url ?? '',
        });
      }
    }
    return out;
  }

  /**
   * The agent holds a newer generation than stored (a restored database): move past it, if the
   * target is still at the generation and bundle `read` (false when a batch changed it since).
   */
  async raiseGeneration(
    clusterId: string,
    read: { appId: string; generation: number; bundleHash: string },
    generation: number,
  ): Promise<boolean> {
    const rows = returned<{ app_id: string }>(
      await this.ds.query(
        `UPDATE app_targets SET desired_generation = $3
          WHERE app_id = $1 AND cluster_id = $2 AND desired_generation = $4
            AND desired_bundle_hash = $5 AND desired_generation < $3
          RETURNING app_id`,
        [read.appId, clusterId, generation, read.generation, read.bundleHash],
      ),
    );
    return rows.length > 0;
  }

  /**
   * Removal notes for these clusters: whether each removed application's resources are pruned,
   * and whether the removal is held: an application removed with applications that depended on
   * it goes after them (each confirmed by its agent), or after REMOVAL_ORDER_MAX_WAIT.
   */
  async removalNotes(clusterIds: string[], db: Db = this.ds): Promise<RemovalNote[]> {
    const out: RemovalNote[] = [];
    for (const part of chunks(clusterIds, 5000)) {
      // The applications others still being removed depended on, computed once (not per row).
      const rows = await db.query<
        { app_id: string; cluster_id: string; prune: boolean; held: boolean }[]
      >(
        `WITH blocked AS (
           SELECT DISTINCT u.dep FROM app_removals d, unnest(d.depends_on) AS u(dep)
            WHERE u.dep <> d.app_id AND d.created_at > now() - make_interval(secs => $2))
         SELECT r.app_id, r.cluster_id, r.prune, (b.dep IS NOT NULL) AS held
           FROM app_removals r LEFT JOIN blocked b ON b.dep = r.app_id
          WHERE r.cluster_id = ANY($1::uuid[])`,
        [part, REMOVAL_ORDER_MAX_WAIT_S],
      );
      out.push(
        ...rows.map((r) => ({
          appId: r.app_id,
          clusterId: r.cluster_id,
          prune: r.prune,
          held: r.held,
        })),
      );
    }
    return out;
  }

  /**
   * The agent of `clusterId` removed these applications: their notes go, and the clusters whose
   * removals waited for them are returned (to be told).
   */
  async finishRemovals(clusterId: string, appIds: string[]): Promise<string[]> {
    const rows = await this.ds.query<{ cluster_id: string }[]>(
      `WITH gone AS (DELETE FROM app_removals WHERE cluster_id = $1 AND app_id = ANY($2::uuid[])
                     RETURNING depends_on)
       SELECT DISTINCT r.cluster_id FROM app_removals r, gone g
        WHERE r.app_id = ANY(g.depends_on) AND NOT (r.cluster_id = $1 AND r.app_id = ANY($2::uuid[]))`,
      [clusterId, appIds],
    );
    return rows.map((r) => r.cluster_id);
  }

  /** Clusters with removal notes (re-delivered now and then: a held removal may be due). */
  async clustersWithRemovals(): Promise<string[]> {
    const rows = await this.ds.query<{ cluster_id: string }[]>(
      'SELECT DISTINCT cluster_id FROM app_removals',
    );
    return rows.map((r) => r.cluster_id);
  }

  /** Drops the removal notes of clusters for the applications their agents no longer hold. */
  async forgetRemovalNotes(agents: { clusterId: string; heldAppIds: string[] }[]): Promise<void> {
    for (const part of chunks(agents, 5000)) {
      const held = part.flatMap((a) => a.heldAppIds.map((app) => [a.clusterId, app]));
      await this.ds.query(
        `DELETE FROM app_removals r WHERE r.cluster_id = ANY($1::uuid[])
           AND NOT EXISTS (SELECT 1 FROM unnest($2::uuid[], $3::uuid[]) AS h(c, a)
                            WHERE h.c = r.cluster_id AND h.a = r.app_id)`,
        [part.map((a) => a.clusterId), held.map((h) => h[0]), held.map((h) => h[1])],
      );
    }
  }

  // --- what agents report (write-behind batches) ------------------------------------------------

  async writeAcks(rows: AckRow[]): Promise<void> {
    for (const part of chunks(inTargetOrder(rows), 10_000)) {
      await this.ds.query(
        `WITH a AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) AS a(app_id, cluster_id, g)),
              ${LOCKED_IN_TARGET_ORDER('a', 't.acked_generation < i.g')}
         UPDATE app_targets t SET acked_generation = GREATEST(t.acked_generation, a.g), updated_at = now()
           FROM a JOIN locked USING (app_id, cluster_id)
          WHERE t.app_id = a.app_id AND t.cluster_id = a.cluster_id AND t.acked_generation < a.g`,
        [part.map((r) => r.appId), part.map((r) => r.clusterId), part.map((r) => r.generation)],
      );
    }
  }

  /**
   * Stores status reports. Latest wins: a report about an older generation, or an older report
   * about the same one, never overwrites a newer one. A row's `ack` (an acknowledgement that came
   * with it) is stored with it; not with a report that is not stored. Returns the targets written.
   */
  async writeStatuses(rows: StatusRow[]): Promise<{ appId: string; clusterId: string }[]> {
    const written: { appId: string; clusterId: string }[] = [];
    for (const part of chunks(inTargetOrder(rows), 5000)) {
      const stored: unknown = await this.ds.query(
        `WITH s AS (SELECT * FROM jsonb_to_recordset($1::jsonb)
                     AS s(app_id uuid, cluster_id uuid, generation bigint, revision text, sync text,
                          health text, message text, resources jsonb, observed_at double precision,
                          drifted boolean, observe_only boolean, operation jsonb, ack bigint)),
              ${LOCKED_IN_TARGET_ORDER('s', NEWER_REPORT('i'))}
         UPDATE app_targets t SET applied_generation = s.generation, applied_revision = s.revision,
                acked_generation = GREATEST(t.acked_generation, coalesce(s.ack, 0)),
                sync = s.sync, health = s.health, message = s.message, resources = s.resources,
                last_report_at = to_timestamp(s.observed_at / 1000.0), updated_at = now(),
                drifted = s.drifted, observe_only = s.observe_only, operation = s.operation
           FROM s JOIN locked USING (app_id, cluster_id)
          WHERE t.app_id = s.app_id AND t.cluster_id = s.cluster_id AND ${NEWER_REPORT('s')}
         RETURNING t.app_id, t.cluster_id`,
        [
          jsonParam(
            part.map((s) => ({
              app_id: s.appId,
              cluster_id: s.clusterId,
              generation: s.generation,
              revision: s.revision,
              sync: s.sync,
              health: s.health,
              message: s.message,
              resources: s.resources,
              observed_at: s.observedAt,
              drifted: s.drifted,
              observe_only: s.observeOnly,
              operation: s.operation === null ? null : (JSON.parse(s.operation) as unknown),
              ack: s.ack ?? null,
            })),
          ),
        ],
      );
      for (const r of returned<{ app_id: string; cluster_id: string }>(stored))
        written.push({ appId: r.app_id, clusterId: r.cluster_id });
    }
    return written;
  }

  /** Inserts events, all or none (a retry must not insert some twice). */
  async insertEvents(rows: EventRow[]): Promise<void> {
    if (rows.length <= 5000) return this.insertEventRows(this.ds.manager, rows);
    await this.ds.transaction(async (tx) => {
      for (const part of chunks(rows, 5000)) await this.insertEventRows(tx, part);
    });
  }

  private async insertEventRows(db: Db, rows: EventRow[]): Promise<void> {
    await db.query(
      `INSERT INTO app_events (app_id, cluster_id, at, type, reason, message, generation, offline)
         SELECT e.app_id, e.cluster_id, to_timestamp(e.at / 1000.0), e.type, e.reason, e.message, e.generation, e.offline
           FROM jsonb_to_recordset($1::jsonb)
             AS e(app_id uuid, cluster_id uuid, at double precision, type text, reason text, message text,
                  generation bigint, offline boolean)
          WHERE EXISTS (SELECT 1 FROM clusters c WHERE c.id = e.cluster_id)
            -- Only for what the hub gave this cluster: its target, a removal in progress, or a
            -- desired state it recorded for it (a removal just finished). An agent cannot write
            -- into the history of applications that never ran on its cluster.
            AND (EXISTS (SELECT 1 FROM app_targets t
                          WHERE t.app_id = e.app_id AND t.cluster_id = e.cluster_id)
                 OR EXISTS (SELECT 1 FROM app_removals r
                             WHERE r.app_id = e.app_id AND r.cluster_id = e.cluster_id)
                 OR EXISTS (SELECT 1 FROM app_history h
                             WHERE h.app_id = e.app_id
                               AND h.targets @> jsonb_build_array(jsonb_build_object('c', e.cluster_id::text))))`,
      [
        jsonParam(
          rows.map((e) => ({
            app_id: e.appId,
            cluster_id: e.clusterId,
            at: e.at,
            type: e.type,
            reason: e.reason,
            message: e.message,
            generation: e.generation,
            offline: e.offline,
          })),
        ),
      ],
    );
  }

  // --- reading ----------------------------------------------------------------------------------

  /**
   * What rollouts and dependency checks read of these applications' targets: the desired state,
   * whether the agent applied it, how it reports it, and the cluster's name and labels.
   */
  async readiness(appIds: string[]): Promise<TargetReadiness[]> {
    const out: TargetReadiness[] = [];
    for (const part of chunks(appIds, 10_000)) {
      const rows = await this.ds.query<
        {
          app_id: string;
          cluster_id: string;
          cluster: string;
          labels: Record<string, string>;
          desired_bundle_hash: string;
          desired_revision: string;
          desired_namespace: string;
          desired_policy: SyncPolicy;
          applied: boolean;
          sync: SyncState;
          health: HealthState;
          failed: boolean;
        }[]
      >(
        `SELECT t.app_id, t.cluster_id, c.name AS cluster, c.labels, t.desired_bundle_hash,
                t.desired_revision, t.desired_namespace, t.desired_policy,
                t.applied_generation >= t.desired_generation AS applied, t.sync, t.health,
                (t.applied_generation >= t.desired_generation
                  AND coalesce(t.operation->>'phase', '') = 'Failed'
                  -- not while another attempt is planned: a retry may still succeed
                  AND coalesce((t.operation->>'nextRetryAtUnixMs')::numeric, 0) = 0) AS failed
           FROM app_targets t JOIN clusters c ON c.id = t.cluster_id
          WHERE t.app_id = ANY($1::uuid[])`,
        [part],
      );
      for (const r of rows) {
        out.push({
          appId: r.app_id,
          clusterId: r.cluster_id,
          cluster: r.cluster,
          labels: r.labels,
          bundleHash: r.desired_bundle_hash,
          revision: r.desired_revision,
          namespace: r.desired_namespace,
          policy: r.desired_policy,
          applied: r.applied,
          sync: r.sync,
          health: r.health,
          failed: r.failed,
        });
      }
    }
    return out;
  }

  /** Targets with their cluster's name, by application (all of them, or one). */
  async statusRows(
    appId?: string | string[],
  ): Promise<{ target: AppTargetEntity; cluster: string }[]> {
    const qb = this.ds
      .getRepository(AppTargetEntity)
      .createQueryBuilder('t')
      .innerJoin(ClusterEntity, 'c', 'c.id = t.cluster_id')
      .select('t')
      .addSelect('c.name', 'cluster_name')
      .orderBy('c.name');
    if (typeof appId === 'string') qb.where('t.app_id = :appId', { appId });
    else if (appId) qb.where('t.app_id = ANY(:appIds)', { appIds: appId });
    const { entities, raw } = await qb.getRawAndEntities<{ cluster_name: string }>();
    return entities.map((target, i) => ({ target, cluster: raw[i].cluster_name }));
  }

  /**
   * statusRows without the heavy or per-report columns (resources, operation, policy, message,
   * report time): what summaries of the whole fleet need. One JSON array per application, built
   * by PostgreSQL, keeps 100,000 targets to one small result set.
   */
  async statusRowsLight(
    appIds?: string[],
  ): Promise<{ target: AppTargetEntity; cluster: string }[]> {
    type Cell = [
      cluster: string,
      clusterId: string,
      desiredGeneration: number,
      desiredBundleHash: string,
      desiredRevision: string,
      desiredNamespace: string,
      ackedGeneration: number,
      appliedGeneration: number,
      appliedRevision: string | null,
      sync: AppTargetEntity['sync'],
      health: AppTargetEntity['health'],
      drifted: boolean,
      observeOnly: boolean,
    ];
    const rows = await this.ds.query<{ app_id: string; cells: Cell[] }[]>(
      `SELECT t.app_id,
              json_agg(json_build_array(c.name, t.cluster_id, t.desired_generation,
                t.desired_bundle_hash, t.desired_revision, t.desired_namespace, t.acked_generation,
                t.applied_generation, t.applied_revision, t.sync, t.health, t.drifted,
                t.observe_only)) AS cells
         FROM app_targets t JOIN clusters c ON c.id = t.cluster_id
        ${appIds ? 'WHERE t.app_id = ANY($1::uuid[])' : ''}
        GROUP BY t.app_id`,
      appIds ? [appIds] : [],
    );
    return rows.flatMap(({ app_id, cells }) =>
      cells.map((c) => ({
        cluster: c[0],
        target: Object.assign(new AppTargetEntity(), {
          appId: app_id,
          clusterId: c[1],
          desiredGeneration: Number(c[2]),
          desiredBundleHash: c[3],
          desiredRevision: c[4],
          desiredNamespace: c[5],
          desiredPolicy: null as unknown as AppTargetEntity['desiredPolicy'],
          ackedGeneration: Number(c[6]),
          appliedGeneration: Number(c[7]),
          appliedRevision: c[8],
          sync: c[9],
          health: c[10],
          message: '',
          resources: [],
          drifted: c[11],
          observeOnly: c[12],
          operation: null,
          lastReportAt: null,
        }),
      })),
    );
  }

  async eventsOf(appId: string, limit = 100) {
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
      [appId, Math.min(Math.max(limit, 1), 1000)],
    );
  }

  /**
   * Targets by sync and health, as the API shows them: an unapplied desired generation is
   * OutOfSync, and a target whose agent is not connected and was last seen `awayMs` ago or more
   * is Unknown/Unknown (its last report no longer stands for the present).
   */
  fleetCounts(awayMs: number): Promise<{ sync: string; health: string; n: string }[]> {
    return this.ds.query(
      `SELECT CASE WHEN a.away THEN 'Unknown'
                   WHEN t.applied_generation < t.desired_generation THEN 'OutOfSync'
                   ELSE t.sync END AS sync,
              CASE WHEN a.away THEN 'Unknown' ELSE t.health END AS health,
              count(*) AS n
         FROM app_targets t
         JOIN clusters c ON c.id = t.cluster_id
         CROSS JOIN LATERAL (
           SELECT NOT c.connected AND c.last_seen_at IS NOT NULL
                  AND c.last_seen_at <= now() - make_interval(secs => $1::float8 / 1000) AS away
         ) a
        GROUP BY 1, 2`,
      [awayMs],
    );
  }
}

/** Whether the report `r` (a status row) is newer than what target `t` holds: latest wins. */
const NEWER_REPORT = (r: string) =>
  `(t.applied_generation < ${r}.generation
    OR (t.applied_generation = ${r}.generation
        AND (t.last_report_at IS NULL OR t.last_report_at <= to_timestamp(${r}.observed_at / 1000.0))))`;

/**
 * A CTE `locked` that locks the targets named by `input` (a CTE with app_id and cluster_id) in
 * target order, the order every writer of several targets takes them in, before an UPDATE joined
 * with it writes them. The UPDATE alone locks rows in the order its plan meets them: with index
 * lookups that is the input's order, but a hash join over a scan of the table locks them in the
 * table's order, and a status write could then close a lock cycle with a batch (PostgreSQL aborts
 * one side; a batch of up to 10,000 applications runs again). MATERIALIZED: read whole before any
 * row is written, or, as the UPDATE reads it, in its order. `guard` (on `t` and the input `i`):
 * the UPDATE's own condition, so that a report it would not write locks nothing (PostgreSQL checks
 * it again on a row's newest version once locked).
 */
const LOCKED_IN_TARGET_ORDER = (input: string, guard: string) =>
  `locked AS MATERIALIZED (
     SELECT t.app_id, t.cluster_id FROM app_targets t
       JOIN ${input} i ON t.app_id = i.app_id AND t.cluster_id = i.cluster_id
      WHERE ${guard}
      ORDER BY t.app_id, t.cluster_id FOR NO KEY UPDATE OF t)`;

/**
 * Rows by (application, cluster), PostgreSQL's order of their uuids: every multi-row write of
 * targets goes in this order, so that two of them wait on each other in a cycle less often.
 */
function inTargetOrder<T extends { appId: string; clusterId: string }>(rows: T[]): T[] {
  return inKeyOrder(
    rows,
    (r) => r.appId,
    (r) => r.clusterId,
  );
}
