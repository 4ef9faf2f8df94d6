import { Inject, Injectable, Optional } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import type { SelectorRequirement } from '../../../../libs/generators/src/index.js';
import {
  chunks,
  inKeyOrder,
  jsonParam,
  labelConditions,
  returned,
  type Db,
} from '../database/sql.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { capabilitiesForEach, capabilitiesKey, type Capabilities } from './capabilities.js';
import { ClusterEntity } from './cluster.entity.js';
import { LruCache } from '../common/lru-cache.js';
import { destinationRefs } from './in-cluster.js';

/** Advisory lock serialising changes of clusters' capabilities (see recordCapabilities). */
const CAPABILITIES_LOCK = 0x61786c63; // "axlc"
/** How long a capability set no cluster names is kept (see recordCapabilities). */
const UNREFERENCED_GRACE = '10 minutes';
/**
 * API versions of the capability sets kept in memory, in all (the sets used last are kept; a set
 * of a cluster with a few CRDs has about 600, ~25 KB): about 40 MB at most.
 */
const CAPABILITY_API_VERSIONS_KEPT = 1_000_000;

/** Which clusters a list returns (see clusterListQuerySchema). */
export interface ClusterListFilter {
  limit?: number;
  after?: string;
  selector?: SelectorRequirement[];
  connected?: boolean;
}

/** What generators read of a cluster. */
export interface InventoryRow {
  readonly name: string;
  readonly server: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

/** A cluster as reconciliation and project checks see it. */
export interface ClusterRef {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** The hash of what its API server serves, as its agent last reported (see capabilities). */
  capabilities?: string | null;
}

/** What the hub records of a cluster's agent: whether its stream is open, when it was last heard. */
export interface AgentLiveness {
  connected: boolean;
  lastSeenAt: Date | null;
}

/** What a replica learned about an agent's stream, written in batches (see StatusWriter). */
export interface SeenRow {
  clusterId: string;
  connected: boolean;
  agentVersion?: string;
  at: number;
}

/** Clusters: the inventory, agent tokens and stream bookkeeping (table `clusters`). */
@Injectable()
export class ClustersRepository {
  private readonly repo: Repository<ClusterEntity>;
  /** Capability sets by hash, as last read (see capabilities). */
  private readonly capabilitySets = new LruCache<string, Capabilities>(
    CAPABILITY_API_VERSIONS_KEPT,
  );
  /** The inventory last read, with the inventory version read before it. */
  private inventoryRead: { version: string; rows: readonly InventoryRow[] } | undefined;

  constructor(
    private readonly ds: DataSource,
    @Optional() @Inject(HUB_CONFIG) private readonly config?: Pick<HubConfig, 'inCluster'>,
  ) {
    this.repo = ds.getRepository(ClusterEntity);
  }

  insert(entity: Partial<ClusterEntity>, tx: EntityManager): Promise<unknown> {
    return tx.getRepository(ClusterEntity).insert(entity);
  }

  findByName(name: string, tx?: EntityManager): Promise<ClusterEntity | null> {
    return (tx?.getRepository(ClusterEntity) ?? this.repo).findOneBy({ name });
  }

  /** Clusters by name: all, or a page of those that pass the filters. */
  list(q: ClusterListFilter = {}): Promise<ClusterEntity[]> {
    const qb = this.repo.createQueryBuilder('c').orderBy('c.name', 'ASC');
    if (q.after !== undefined) qb.andWhere('c.name > :after', { after: q.after });
    if (q.connected !== undefined)
      qb.andWhere('c.connected = :connected', { connected: q.connected });
    let n = 0;
    const param = (value: unknown) => {
      const name = `s${n++}`;
      qb.setParameter(name, value);
      return `:${name}`;
    };
    for (const condition of labelConditions('c.labels', q.selector ?? [], param))
      qb.andWhere(condition);
    if (q.limit !== undefined) qb.limit(q.limit);
    return qb.getMany();
  }

  /**
   * The cluster named `name`, locked until `tx` ends (an update reads it so). FOR NO KEY UPDATE,
   * as an UPDATE locks: it serialises updates of the row, and does not hold back the rows that
   * refer to the cluster (targets, events, removal notes: their foreign keys take KEY SHARE),
   * which FOR UPDATE did, and a batch adding a target here deadlocked with a PATCH marking it.
   */
  lockByName(name: string, tx: EntityManager): Promise<ClusterEntity | null> {
    return tx
      .getRepository(ClusterEntity)
      .findOne({ where: { name }, lock: { mode: 'for_no_key_update' } });
  }

  /**
   * Writes these fields of cluster `id` and no other (the agent's status, written by the
   * replicas meanwhile, stays as it is); returns the row as it is now.
   */
  async updateFields(
    id: string,
    fields: Partial<Pick<ClusterEntity, 'labels' | 'annotations' | 'server'>>,
    tx: EntityManager,
  ): Promise<ClusterEntity> {
    const r = tx.getRepository(ClusterEntity);
    if (Object.keys(fields).length) await r.update({ id }, fields);
    return (await r.findOneBy({ id }))!;
  }

  async delete(id: string, tx: EntityManager): Promise<void> {
    await tx.getRepository(ClusterEntity).delete({ id });
  }

  findByTokenHash(tokenHash: string): Promise<ClusterEntity | null> {
    return this.repo.findOneBy({ tokenHash });
  }

  async exists(id: string): Promise<boolean> {
    return (
      (await this.ds.query<unknown[]>('SELECT 1 FROM clusters WHERE id = $1', [id])).length > 0
    );
  }

  /** The clusters with these names (those that exist). */
  byNames(names: string[], db: Db = this.ds.manager): Promise<ClusterRef[]> {
    return this.matching(
      db,
      `SELECT id, name, labels, capabilities_hash AS capabilities FROM clusters WHERE name = ANY($1)`,
      names,
    );
  }

  /**
   * The clusters application destinations name (those that exist): `in-cluster` is the one
   * AXLE_IN_CLUSTER designates (see destinationRefs).
   */
  destinations(names: string[]): Promise<ClusterRef[]> {
    return destinationRefs(names, this.config?.inCluster, (n) => this.byNames(n));
  }

  /** The agents of the clusters with these names (those that exist). */
  agentsByNames(names: string[]): Promise<({ name: string } & AgentLiveness)[]> {
    return this.matching(
      this.ds.manager,
      `SELECT name, connected, last_seen_at AS "lastSeenAt" FROM clusters WHERE name = ANY($1)`,
      names,
    );
  }

  /** The clusters with these ids (those that exist). */
  byIds(ids: string[]): Promise<ClusterRef[]> {
    return this.matching(
      this.ds.manager,
      `SELECT id, name, labels, capabilities_hash AS capabilities FROM clusters
        WHERE id = ANY($1::uuid[])`,
      ids,
    );
  }

  /** The name AXLE_IN_CLUSTER designates as Argo CD's `in-cluster`, if any. */
  get inClusterName(): string | undefined {
    return this.config?.inCluster;
  }

  /** The hash of the capabilities a cluster's agent last reported (null: none yet). */
  async capabilitiesHashOf(clusterId: string): Promise<string | null | undefined> {
    const [row] = await this.ds.query<{ hash: string | null }[]>(
      'SELECT capabilities_hash AS hash FROM clusters WHERE id = $1',
      [clusterId],
    );
    return row ? row.hash : undefined;
  }

  /**
   * Stores what a cluster's API server serves (one row per distinct set, shared by the clusters
   * that serve it). Returns whether the cluster's set changed. Sets no cluster names any more are
   * marked, and deleted once they have been so for UNREFERENCED_GRACE (a batch that read a
   * cluster's hash still finds its set). Changes are serialised by an advisory lock.
   */
  async recordCapabilities(db: Db, clusterId: string, caps: Capabilities): Promise<boolean> {
    // One change at a time, fleet-wide (changes are rare): each sweep below then sees what the
    // changes before it committed, and two clusters swapping sets never wait on each other.
    await db.query('SELECT pg_advisory_xact_lock($1)', [CAPABILITIES_LOCK]);
    await db.query(
      `INSERT INTO cluster_capabilities (hash, kube_version, api_versions, api_version_count)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (hash) DO UPDATE SET unreferenced_since = NULL`,
      [caps.hash, caps.kubeVersion, caps.apiVersions, caps.apiVersions.length],
    );
    const rows = returned<{ id: string }>(
      await db.query(
        `UPDATE clusters SET capabilities_hash = $2, capabilities_at = now()
          WHERE id = $1 AND capabilities_hash IS DISTINCT FROM $2 RETURNING id`,
        [clusterId, caps.hash],
      ),
    );
    if (rows.length === 0) return false;
    await db.query(
      `UPDATE cluster_capabilities k SET unreferenced_since = now()
        WHERE unreferenced_since IS NULL
          AND NOT EXISTS (SELECT 1 FROM clusters c WHERE c.capabilities_hash = k.hash)`,
    );
    await db.query(
      `DELETE FROM cluster_capabilities k
        WHERE unreferenced_since < now() - $1::interval
          AND NOT EXISTS (SELECT 1 FROM clusters c WHERE c.capabilities_hash = k.hash)`,
      [UNREFERENCED_GRACE],
    );
    return true;
  }

  /** What a render for the clusters `names` may rely on (see commonCapabilities). */
  async capabilitiesOf(names: string[]): Promise<Capabilities | undefined> {
    return (await this.capabilitiesOfEach([names]))[0];
  }

  /** capabilitiesOf for each list of destination clusters, with one read of each kind. */
  async capabilitiesOfEach(lists: string[][]): Promise<(Capabilities | undefined)[]> {
    const refs = await this.destinations([...new Set(lists.flat())]);
    const byName = new Map(refs.map((c) => [c.name, c]));
    const keys = lists.map((names) => capabilitiesKey(names, byName));
    const sets = await this.capabilities([...new Set(keys.flatMap((k) => k.hashes))]);
    return capabilitiesForEach(keys, sets);
  }

  /** The version and the number of API versions of these capability sets (those stored). */
  async serverVersions(
    hashes: string[],
  ): Promise<Map<string, { version: string; apiVersions: number }>> {
    const rows = await this.matching<{ hash: string; version: string; apiVersions: number }>(
      this.ds.manager,
      `SELECT hash, kube_version AS version, api_version_count AS "apiVersions"
         FROM cluster_capabilities WHERE hash = ANY($1)`,
      hashes,
    );
    return new Map(rows.map(({ hash, ...v }) => [hash, v]));
  }

  /**
   * The capability sets with these hashes (those stored). A set never changes (its hash is its
   * content): the sets used last are kept in memory, and batches read only the others.
   */
  async capabilities(hashes: string[]): Promise<Map<string, Capabilities>> {
    const out = new Map<string, Capabilities>();
    const missing = hashes.filter((h) => {
      const c = this.capabilitySets.get(h);
      if (c) out.set(h, c);
      return !c;
    });
    const rows = await this.matching<{ hash: string; kubeVersion: string; apiVersions: string[] }>(
      this.ds.manager,
      `SELECT hash, kube_version AS "kubeVersion", api_versions AS "apiVersions"
         FROM cluster_capabilities WHERE hash = ANY($1)`,
      missing,
    );
    for (const r of rows) {
      Object.freeze(r.apiVersions);
      out.set(r.hash, Object.freeze(r));
      this.capabilitySets.set(r.hash, r, r.apiVersions.length + 1);
    }
    return out;
  }

  /** Rows of `sql` (its $1 an array of keys) for these keys, each asked once, in parts. */
  private async matching<T>(db: Db, sql: string, keys: string[]): Promise<T[]> {
    const out: T[] = [];
    for (const part of chunks([...new Set(keys)], 20_000))
      out.push(...(await db.query<T[]>(sql, [part])));
    return out;
  }

  /**
   * The names of the clusters registered with `server` (Argo CD destinations by server), a
   * trailing `/` on either side aside.
   */
  async namesWithServer(server: string): Promise<string[]> {
    const rows: { name: string }[] = await this.ds.query(
      `SELECT name FROM clusters WHERE rtrim(server, '/') = rtrim($1, '/') AND server <> '' ORDER BY name`,
      [server],
    );
    return rows.map((r) => r.name);
  }

  /**
   * The inventory for generators, by name. It is read again only when the inventory version
   * (raised by a trigger with every change to what generators read of the clusters, see migration
   * InventoryVersion) moved since the last read: the rows are shared by every caller until then,
   * and frozen.
   */
  async inventory(): Promise<readonly InventoryRow[]> {
    // The version is read before the rows: rows newer than their version are only read again.
    const [{ version }] = await this.ds.query<{ version: string }[]>(
      'SELECT version FROM inventory_version WHERE id = 1',
    );
    const kept = this.inventoryRead;
    if (kept?.version === version) return kept.rows;
    const rows = await this.ds.query<InventoryRow[]>(
      'SELECT name, server, labels, annotations FROM clusters ORDER BY name',
    );
    for (const r of rows) {
      Object.freeze(r.labels);
      Object.freeze(r.annotations);
      Object.freeze(r);
    }
    this.inventoryRead = { version, rows };
    return rows;
  }

  /**
   * Records agents seen by replica `replica`, in one statement. While the cluster's stream is
   * another replica's (the agent moved), a disconnect does not apply and a connected report only
   * when it is newer than what that replica stored: a late write from the replica the agent left
   * cannot take the cluster back.
   */
  async recordSeen(replica: string, rows: SeenRow[]): Promise<void> {
    // Rows locked in id order, whatever plan the update gets, as the disconnections below lock
    // them: an agent moving between replicas is written by both (and by the sweep of the replica
    // it left); locked in two orders, two such writes could wait on each other in a cycle.
    for (const part of chunks(
      inKeyOrder(rows, (r) => r.clusterId),
      5000,
    )) {
      await this.ds.query(
        `WITH s AS (SELECT * FROM jsonb_to_recordset($2::jsonb)
                     AS s(id uuid, connected boolean, version text, at double precision)),
              locked AS MATERIALIZED (
                SELECT c.id FROM clusters c JOIN s ON c.id = s.id WHERE ${SEEN_BY('s')}
                 ORDER BY c.id FOR NO KEY UPDATE OF c)
         UPDATE clusters c SET connected = s.connected, last_seen_at = to_timestamp(s.at / 1000.0),
                agent_version = coalesce(s.version, c.agent_version),
                replica_id = CASE WHEN s.connected THEN $1 ELSE NULL END
           FROM s JOIN locked USING (id)
          WHERE c.id = s.id AND ${SEEN_BY('s')}`,
        [
          replica,
          jsonParam(
            part.map((r) => ({
              id: r.clusterId,
              connected: r.connected,
              version: r.agentVersion ?? null,
              at: r.at,
            })),
          ),
        ],
      );
    }
  }

  /** Agents whose streams were on replicas that are gone are no longer connected. */
  async disconnectReplicas(replicas: string[]): Promise<void> {
    if (replicas.length === 0) return;
    await this.ds.query(
      `UPDATE clusters c SET connected = false, replica_id = NULL
         FROM (SELECT id FROM clusters WHERE replica_id = ANY($1) ORDER BY id FOR NO KEY UPDATE) l
        WHERE c.id = l.id AND c.replica_id = ANY($1)`,
      [replicas],
    );
  }

  /** Clusters whose stream is held by a replica no longer registered are not connected. */
  async disconnectOrphans(): Promise<number> {
    return returned(
      await this.ds.query(
        `UPDATE clusters c SET connected = false, replica_id = NULL
           FROM (SELECT id FROM clusters o
                  WHERE o.replica_id IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM hub_replicas h WHERE h.id = o.replica_id)
                  ORDER BY id FOR NO KEY UPDATE) l
          WHERE c.id = l.id AND c.replica_id IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM hub_replicas h WHERE h.id = c.replica_id)
          RETURNING c.id`,
      ),
    ).length;
  }

  /** The latest expiry of each cluster's unrevoked agent certificates (all, or these ids). */
  async certificateExpiry(ids?: string[]): Promise<Map<string, Date>> {
    const rows = await this.ds.query<{ cluster_id: string; not_after: Date }[]>(
      `SELECT cluster_id, max(not_after) AS not_after FROM agent_certificates
        WHERE revoked_at IS NULL ${ids ? 'AND cluster_id = ANY($1::uuid[])' : ''}
        GROUP BY cluster_id`,
      ids ? [ids] : [],
    );
    return new Map(rows.map((r) => [r.cluster_id, r.not_after]));
  }

  /** Connection counts for metrics. */
  countByConnection(): Promise<{ connected: boolean; n: string }[]> {
    return this.ds.query('SELECT connected, count(*) AS n FROM clusters GROUP BY 1');
  }
}

/**
 * Whether replica $1's liveness report `s` may be written on cluster `c`: the replica holds its
 * stream, or nobody does, or the agent connected to it after the holder last heard from it.
 */
const SEEN_BY = (s: string) =>
  `(c.replica_id = $1 OR c.replica_id IS NULL
    OR (${s}.connected AND (c.last_seen_at IS NULL OR c.last_seen_at <= to_timestamp(${s}.at / 1000.0))))`;
