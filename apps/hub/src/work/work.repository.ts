import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { affected, chunks, inKeyOrder, returned, type Db } from '../database/sql.js';
import { TOOLS_WITHOUT_CAPABILITIES } from '../clusters/capabilities.js';

export type WorkKind = 'app' | 'appset';

/** A claimed unit of work: the object and the mark it was claimed at. */
export interface WorkItem {
  key: string;
  dirty: number;
  reason: string;
  attempts: number;
}

/**
 * Every path a change of `changed` touches: each changed path and all its parent directories. An
 * application whose source path is one of them reads something that changed; as a set, PostgreSQL
 * checks membership with one hash lookup per application (not a scan of every changed path).
 */
export function touchedDirectories(changed: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of changed) {
    for (let i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) out.add(p.slice(0, i));
    out.add(p);
  }
  return [...out];
}

/**
 * The predicates of a commit's move (parameters: $1 repository URL, $2 the revisions the moved
 * ref serves, $3 the commit it moved from, $4 the directories the change touched, $5 whether the
 * change is known): an application follows the ref, and is unaffected by the change (its last
 * render is of a plain directory at the old commit, from its current spec, at a path the change
 * does not touch). Shared by the marking and the move, so that what one leaves the other takes.
 */
const FOLLOWING = `a.spec->'source'->>'repoURL' = $1
            AND coalesce(a.spec->'source'->>'targetRevision', 'HEAD') = ANY($2::text[])`;
const UNAFFECTED = `$5 AND a.spec->'source'->>'chart' IS NULL
            AND r.revision = $3 AND r.tool = 'directory' AND r.spec_version = a.spec_version
            AND coalesce(a.spec->'source'->>'path', '') <> ''
            AND NOT (a.spec->'source'->>'path' = ANY($4::text[]))`;

/** What selects the objects to mark dirty: typed, compiled to SQL here and nowhere else. */
export type AppSelector =
  | { all: true }
  | { ids: string[] }
  | { cluster: string }
  | { project: string }
  /**
   * Applications going to the cluster of this id, or named `name` (`in-cluster` too when it is
   * AXLE_IN_CLUSTER's), whose render may read its capabilities (not directories or Kustomize):
   * through its targets and the destination indexes, not a scan of every application.
   */
  | { readsCapabilitiesOf: { id: string; names: string[] } };

export type AppSetSelector =
  { all: true } | { ids: string[] } | { readsRepo: string } | { readsClusters: true };

/** The WHERE clause (on `applications`) and parameters of an application selector. */
export function appSelectorSql(s: AppSelector, from = 2): { where: string; params: unknown[] } {
  if ('all' in s) return { where: 'true', params: [] };
  if ('ids' in s) return { where: `id = ANY($${from}::uuid[])`, params: [s.ids] };
  if ('project' in s)
    return { where: `coalesce(spec->>'project', 'default') = $${from}`, params: [s.project] };
  if ('readsCapabilitiesOf' in s)
    return {
      where: `id IN (SELECT t.app_id FROM app_targets t WHERE t.cluster_id = $${from}::uuid
                     UNION
                     SELECT a.id FROM applications a
                      WHERE a.spec->'destination'->>'cluster' = ANY($${from + 1}::text[])
                     UNION
                     SELECT a.id FROM applications a
                      WHERE a.spec->'destination'->'clusters' ?| $${from + 1}::text[])
              AND NOT EXISTS (SELECT 1 FROM app_renders r
                               WHERE r.app_id = applications.id
                                 AND r.tool = ANY($${from + 2}::text[]))`,
      params: [s.readsCapabilitiesOf.id, s.readsCapabilitiesOf.names, TOOLS_WITHOUT_CAPABILITIES],
    };
  return {
    where: `(spec->'destination'->>'cluster' = $${from} OR spec->'destination'->'clusters' ? $${from})`,
    params: [s.cluster],
  };
}

/** The WHERE clause (on `application_sets`) and parameters of an ApplicationSet selector. */
export function appSetSelectorSql(
  s: AppSetSelector,
  from = 2,
): { where: string; params: unknown[] } {
  if ('all' in s) return { where: 'true', params: [] };
  if ('ids' in s) return { where: `id = ANY($${from}::uuid[])`, params: [s.ids] };
  if ('readsRepo' in s)
    return { where: `($${from} = ANY(repos) OR '*' = ANY(repos))`, params: [s.readsRepo] };
  return { where: 'reads_clusters', params: [] };
}

const TABLE: Record<WorkKind, string> = { app: 'applications', appset: 'application_sets' };

/**
 * The durable work queue (table `work_queue`): marking, claiming under a lease with
 * FOR UPDATE SKIP LOCKED, renewing, completing and releasing. Every replica runs the same
 * statements; PostgreSQL's row locks make each object's work one replica's at a time.
 */
@Injectable()
export class WorkRepository {
  constructor(private readonly ds: DataSource) {}

  /** Marks the selected objects dirty; returns how many were marked. */
  async mark(
    kind: WorkKind,
    selector: AppSelector | AppSetSelector,
    reason: string,
    db: Db = this.ds.manager,
  ): Promise<number> {
    const { where, params } =
      kind === 'app'
        ? appSelectorSql(selector as AppSelector, 3)
        : appSetSelectorSql(selector as AppSetSelector, 3);
    const rows = returned<{ key: string }>(
      await db.query(
        `INSERT INTO work_queue (kind, key, reason)
           SELECT $1, id, $2 FROM ${TABLE[kind]} WHERE ${where} ORDER BY id
         ON CONFLICT (kind, key) DO UPDATE SET dirty = work_queue.dirty + 1, reason = EXCLUDED.reason,
           not_before = LEAST(work_queue.not_before, now()), attempts = 0
         RETURNING key`,
        [kind, reason.slice(0, 500), ...params],
      ),
    );
    return rows.length;
  }

  /**
   * A ref of `repoURL` moved `from` → `to`. Applications following it (their targetRevision is one
   * of `revisions`) whose last render is a plain directory at `from` and whose path holds none of
   * the `changed` paths render the same bundle at `to`: they are not marked, and a pending move
   * is recorded (table `render_moves`) that moves their render to `to` (see applyMoves). Every
   * other application following the ref is marked dirty. With `changed` undefined (unknown, or
   * too many), all are marked.
   *
   * Marking is quick (one read of the applications); moving rewrites a row per application (at
   * 100,000 applications, seconds). Recording the move with the marks, in the caller's
   * transaction, lets the changed applications be reconciled at once while the move runs after;
   * a replica that dies in between leaves the move recorded for the next one.
   */
  async commitMoved(
    db: Db,
    m: { repoURL: string; revisions: string[]; from?: string; to?: string; changed?: string[] },
    reason: string,
  ): Promise<{ marked: number; moveRecorded: boolean }> {
    const canMove = m.from !== undefined && m.to !== undefined && m.changed !== undefined;
    const touched = touchedDirectories(m.changed ?? []);
    const marked = returned<{ key: string }>(
      await db.query(
        `INSERT INTO work_queue (kind, key, reason)
         SELECT 'app', a.id, $6 FROM applications a LEFT JOIN app_renders r ON r.app_id = a.id
          WHERE ${FOLLOWING} AND NOT coalesce(${UNAFFECTED}, false) ORDER BY a.id
         ON CONFLICT (kind, key) DO UPDATE SET dirty = work_queue.dirty + 1, reason = EXCLUDED.reason,
           not_before = LEAST(work_queue.not_before, now()), attempts = 0
         RETURNING key`,
        [m.repoURL, m.revisions, m.from ?? '', touched, canMove, reason.slice(0, 500)],
      ),
    ).length;
    if (canMove) {
      await db.query(
        `INSERT INTO render_moves (repo_url, revisions, from_revision, to_revision, touched)
         VALUES ($1, $2, $3, $4, $5)`,
        [m.repoURL, m.revisions, m.from, m.to, touched],
      );
    }
    return { marked, moveRecorded: canMove };
  }

  /**
   * Applies recorded moves (of `repoURL`, or of every repository), oldest first: the renders of
   * the applications a commit left alone move to it, and the move is done. Those whose render
   * changed meanwhile (reconciled, their spec edited) no longer match and stay as they are; they
   * were marked, or render the new commit themselves. With `wait`, moves another transaction is
   * applying are waited for (a new commit applies its repository's earlier moves first); without,
   * they are skipped. Returns the renders moved.
   */
  async applyMoves(db: Db, repoURL: string | undefined, wait: boolean): Promise<number> {
    const moves = await db.query<
      {
        id: string;
        repo_url: string;
        revisions: string[];
        from_revision: string;
        to_revision: string;
        touched: string[];
      }[]
    >(
      `SELECT id, repo_url, revisions, from_revision, to_revision, touched FROM render_moves
        WHERE $1::text IS NULL OR repo_url = $1 ORDER BY id FOR UPDATE${wait ? '' : ' SKIP LOCKED'}`,
      [repoURL ?? null],
    );
    let moved = 0;
    for (const mv of moves) {
      moved += affected(
        await db.query(
          `UPDATE app_renders r SET revision = $6 FROM applications a
            WHERE a.id = r.app_id AND ${FOLLOWING} AND ${UNAFFECTED}`,
          [mv.repo_url, mv.revisions, mv.from_revision, mv.touched, true, mv.to_revision],
        ),
      );
    }
    if (moves.length) {
      await db.query('DELETE FROM render_moves WHERE id = ANY($1::bigint[])', [
        moves.map((mv) => mv.id),
      ]);
    }
    return moved;
  }

  /** Marks the given ids dirty (they need not exist any more: a deletion is work too). */
  async markIds(
    kind: WorkKind,
    ids: string[],
    reason: string,
    db: Db = this.ds.manager,
  ): Promise<void> {
    for (const part of chunks(uniqueInKeyOrder(ids), 20_000)) {
      await db.query(
        `INSERT INTO work_queue (kind, key, reason)
           SELECT $1, k, $2 FROM unnest($3::uuid[]) AS k ORDER BY k
         ON CONFLICT (kind, key) DO UPDATE SET dirty = work_queue.dirty + 1, reason = EXCLUDED.reason,
           not_before = LEAST(work_queue.not_before, now()), attempts = 0`,
        [kind, reason.slice(0, 500), part],
      );
    }
  }

  /**
   * Marks items to run no sooner than `delaySeconds` from now (a later run of something that
   * failed outside any item: a parent's children not written, say); sooner if already marked so.
   */
  async markLater(
    kind: WorkKind,
    ids: string[],
    reason: string,
    delaySeconds: number,
    db: Db = this.ds.manager,
  ): Promise<void> {
    for (const part of chunks(uniqueInKeyOrder(ids), 20_000)) {
      await db.query(
        `INSERT INTO work_queue (kind, key, reason, not_before)
           SELECT $1, k, $2, now() + make_interval(secs => $4) FROM unnest($3::uuid[]) AS k ORDER BY k
         ON CONFLICT (kind, key) DO UPDATE SET dirty = work_queue.dirty + 1, reason = EXCLUDED.reason,
           not_before = LEAST(work_queue.not_before, EXCLUDED.not_before)`,
        [kind, reason.slice(0, 500), part, delaySeconds],
      );
    }
  }

  /** Claims up to `limit` ready items no live lease holds, for `leaseSeconds`. */
  async claim(
    kind: WorkKind,
    owner: string,
    limit: number,
    leaseSeconds: number,
  ): Promise<WorkItem[]> {
    const rows = returned<{ key: string; dirty: string; reason: string; attempts: number }>(
      await this.ds.query(
        `UPDATE work_queue w SET lease_owner = $2, lease_until = now() + make_interval(secs => $3),
                attempts = w.attempts + 1
           FROM (SELECT kind, key FROM work_queue
                  WHERE kind = $1 AND not_before <= now() AND (lease_until IS NULL OR lease_until < now())
                  LIMIT $4 FOR UPDATE SKIP LOCKED) s
          WHERE w.kind = s.kind AND w.key = s.key
        RETURNING w.key, w.dirty, w.reason, w.attempts`,
        [kind, owner, leaseSeconds, limit],
      ),
    );
    return rows.map((r) => ({
      key: r.key,
      dirty: Number(r.dirty),
      reason: r.reason,
      attempts: r.attempts,
    }));
  }

  /**
   * Extends the lease of the items still held; returns the keys another replica holds now (lost).
   * An item no one holds is not lost: the transaction that wrote its results ended it (a renewal
   * waiting on that transaction's row lock finds it so), or it was released and whoever claims it
   * next is fenced off from this replica's writes anyway. The keys are read in the statement's
   * snapshot, from before any wait on a row lock.
   */
  async renew(
    kind: WorkKind,
    owner: string,
    keys: string[],
    leaseSeconds: number,
  ): Promise<Set<string>> {
    const lost = new Set<string>();
    for (const part of chunks(uniqueInKeyOrder(keys), 20_000)) {
      const rows = returned<{ key: string }>(
        await this.ds.query(
          `WITH held AS (
           SELECT key FROM work_queue WHERE kind = $1 AND key = ANY($2::uuid[]) AND lease_owner = $3
            ORDER BY key FOR UPDATE),
         renewed AS (
           UPDATE work_queue w SET lease_until = now() + make_interval(secs => $4)
             FROM held WHERE w.kind = $1 AND w.key = held.key RETURNING w.key)
         SELECT key FROM work_queue
          WHERE kind = $1 AND key = ANY($2::uuid[]) AND lease_owner <> $3`,
          [kind, part, owner, leaseSeconds],
        ),
      );
      rows.forEach((r) => lost.add(r.key));
    }
    return lost;
  }

  /**
   * Inside the transaction that writes a batch's results: locks the items this replica still
   * holds and returns their keys. Results for any other key must not be written (fencing: a
   * replica that stalled past its lease lost the item to another).
   */
  async fence(db: Db, kind: WorkKind, owner: string, keys: string[]): Promise<Set<string>> {
    const held = new Set<string>();
    for (const part of chunks(uniqueInKeyOrder(keys), 20_000)) {
      const rows = await db.query<{ key: string }[]>(
        `SELECT key FROM work_queue WHERE kind = $1 AND key = ANY($2::uuid[]) AND lease_owner = $3
           AND lease_until > now() ORDER BY key FOR UPDATE`,
        [kind, part, owner],
      );
      rows.forEach((r) => held.add(r.key));
    }
    return held;
  }

  /**
   * Finishes items: removed when nothing marked them since they were claimed, otherwise released
   * (their lease dropped) so they run again.
   */
  async complete(db: Db, kind: WorkKind, owner: string, items: WorkItem[]): Promise<void> {
    for (const part of chunks(items, 20_000)) {
      await db.query(
        `DELETE FROM work_queue w USING unnest($2::uuid[], $3::bigint[]) AS d(key, dirty)
          WHERE w.kind = $1 AND w.key = d.key AND w.dirty = d.dirty AND w.lease_owner = $4`,
        [kind, part.map((i) => i.key), part.map((i) => i.dirty), owner],
      );
      await db.query(
        `UPDATE work_queue SET lease_owner = NULL, lease_until = NULL, attempts = 0
          WHERE kind = $1 AND key = ANY($2::uuid[]) AND lease_owner = $3`,
        [kind, part.map((i) => i.key), owner],
      );
    }
  }

  /**
   * Inside a batch's transaction: these items run again after their delay (fenced by owner). An
   * item marked again while the batch ran (a newer commit, say) runs again at once instead.
   * Without an `error` (a run that went well, to be repeated), its last error stays as it was and
   * its attempts start again from zero; a `reason` replaces the item's.
   */
  async retryLater(
    db: Db,
    kind: WorkKind,
    owner: string,
    items: {
      key: string;
      dirty?: number;
      delaySeconds: number;
      error?: string;
      reason?: string;
    }[],
  ): Promise<void> {
    for (const part of chunks(items, 20_000)) {
      await db.query(
        `UPDATE work_queue w SET lease_owner = NULL, lease_until = NULL,
                not_before = CASE WHEN r.dirty IS NULL OR w.dirty = r.dirty
                                  THEN now() + make_interval(secs => r.delay) ELSE now() END,
                last_error = coalesce(r.error, w.last_error),
                attempts = CASE WHEN r.error IS NULL THEN 0 ELSE w.attempts END,
                reason = CASE WHEN r.dirty IS NULL OR w.dirty = r.dirty
                              THEN coalesce(r.reason, w.reason) ELSE w.reason END
           FROM jsonb_to_recordset($3::jsonb)
             AS r(key uuid, dirty bigint, delay integer, error text, reason text)
          WHERE w.kind = $1 AND w.key = r.key AND w.lease_owner = $2`,
        [
          kind,
          owner,
          JSON.stringify(
            part.map((i) => ({
              key: i.key,
              dirty: i.dirty ?? null,
              delay: i.delaySeconds,
              error: i.error?.slice(0, 2000) ?? null,
              reason: i.reason?.slice(0, 500) ?? null,
            })),
          ),
        ],
      );
    }
  }

  /** Gives items back to run again after `delaySeconds` (a failed run, or shutting down). */
  async release(
    kind: WorkKind,
    owner: string,
    keys: string[],
    delaySeconds: number,
    error?: string,
  ): Promise<void> {
    for (const part of chunks(uniqueInKeyOrder(keys), 20_000)) {
      await this.ds.query(
        `UPDATE work_queue w SET lease_owner = NULL, lease_until = NULL,
                not_before = now() + make_interval(secs => $4), last_error = coalesce($5, w.last_error)
           FROM (SELECT kind, key FROM work_queue
                  WHERE kind = $1 AND key = ANY($2::uuid[]) AND lease_owner = $3
                  ORDER BY key FOR UPDATE) s
          WHERE w.kind = s.kind AND w.key = s.key`,
        [kind, part, owner, delaySeconds, error?.slice(0, 2000) ?? null],
      );
    }
  }

  /**
   * Drops every lease the replicas `replicas` hold, whatever the claim (`<replica>/<claim>`, see
   * leaseOwner): they stopped or died, and others take the work now.
   */
  async releaseOwners(replicas: string[]): Promise<number> {
    if (replicas.length === 0) return 0;
    return returned(
      await this.ds.query(
        `UPDATE work_queue w SET lease_owner = NULL, lease_until = NULL
           FROM (SELECT kind, key FROM work_queue WHERE split_part(lease_owner, '/', 1) = ANY($1)
                  ORDER BY kind DESC, key FOR UPDATE) s
          WHERE w.kind = s.kind AND w.key = s.key RETURNING w.key`,
        [replicas],
      ),
    ).length;
  }

  /**
   * Drops the leases of replicas no longer registered (`hub_replicas`): a sweep that removed a
   * replica and failed before releasing its work leaves them, and the next sweep finds them here.
   */
  async releaseOrphans(): Promise<number> {
    return returned(
      await this.ds.query(
        `UPDATE work_queue w SET lease_owner = NULL, lease_until = NULL
           FROM (SELECT kind, key FROM work_queue q
                  WHERE q.lease_owner IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM hub_replicas h
                                     WHERE h.id = split_part(q.lease_owner, '/', 1))
                  ORDER BY kind DESC, key FOR UPDATE) s
          WHERE w.kind = s.kind AND w.key = s.key RETURNING w.key`,
      ),
    ).length;
  }

  /** Items waiting or running, by kind (metrics, tests). */
  async depth(): Promise<Record<WorkKind, { ready: number; leased: number }>> {
    const rows = await this.ds.query<{ kind: WorkKind; leased: boolean; n: string }[]>(
      `SELECT kind, lease_until > now() AS leased, count(*) AS n FROM work_queue GROUP BY 1, 2`,
    );
    const out: Record<WorkKind, { ready: number; leased: number }> = {
      app: { ready: 0, leased: 0 },
      appset: { ready: 0, leased: 0 },
    };
    for (const r of rows) out[r.kind][r.leased ? 'leased' : 'ready'] += Number(r.n);
    return out;
  }

  /**
   * Takes the periodic resync turn when the last one is older than `intervalSeconds`: true for
   * exactly one replica per interval.
   */
  async takeResyncTurn(intervalSeconds: number): Promise<boolean> {
    const rows = returned(
      await this.ds.query(
        `UPDATE hub_state SET at = now() WHERE key = 'resync' AND at < now() - make_interval(secs => $1) RETURNING key`,
        [intervalSeconds],
      ),
    );
    return rows.length > 0;
  }
}

/**
 * Keys without repeats, in PostgreSQL's uuid order (that of their lower-case text). Every statement
 * that locks several queue rows locks them in (kind, key) order, ApplicationSets' before
 * applications' (as an edit of a generated application marks its set, then itself), so that two
 * of them (a batch's fence and a mark of every application, say) never wait on each other in a
 * cycle: PostgreSQL would break the deadlock by failing one, a batch thrown away or a periodic
 * resync skipped.
 */
/** Each key once, in key order (see inKeyOrder). */
function uniqueInKeyOrder(keys: string[]): string[] {
  return inKeyOrder([...new Set(keys)], (k) => k);
}
