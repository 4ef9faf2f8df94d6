import { Injectable } from '@nestjs/common';
import { DataSource, QueryFailedError } from 'typeorm';
import { chunks, jsonParam, returned, type Db } from '../database/sql.js';
import type { DeliveryEvent } from './messages.js';
import type { DestinationType, SubscriptionSpec } from './notification.schemas.js';
import type { ClusterObservation, RolloutObservation, TargetObservation } from './triggers.js';

export interface DestinationRow {
  id: string;
  name: string;
  type: DestinationType;
  /** The public part of its configuration (URLs of webhooks, SMTP host, addresses). */
  config: Record<string, unknown>;
  secretSealed: string | null;
  createdAt: Date;
}

export interface SubscriptionRow {
  id: string;
  name: string;
  destinationId: string;
  destination: string;
  spec: SubscriptionSpec;
  createdAt: Date;
  /** When it was created or last replaced (its triggers may have changed then). */
  changedAt: Date;
}

export type DeliveryStatus = 'Pending' | 'Delivered' | 'Dead';

export interface DeliveryRow {
  id: number;
  idempotencyKey: string;
  groupKey: string;
  subscriptionId: string | null;
  subscription: string;
  destinationId: string;
  destination: string;
  trigger: string;
  event: DeliveryEvent;
  count: number;
  firstAt: Date;
  lastAt: Date;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  leaseUntil: Date | null;
  lastError: string;
  createdAt: Date;
  deliveredAt: Date | null;
}

export interface NewDelivery {
  idempotencyKey: string;
  groupKey: string;
  subscriptionId: string;
  subscription: string;
  destinationId: string;
  trigger: string;
  event: DeliveryEvent;
  count: number;
  notBefore: Date;
}

/** A delivery claimed for sending, with its subscription's spec when claimed (null: deleted). */
export interface ClaimedDelivery extends DeliveryRow {
  spec: SubscriptionSpec | null;
}

/**
 * One replica detects at a time: the one holding this advisory lock. Deleting a subscription
 * takes it too, so no detection writes to the outbox for a subscription being deleted.
 */
export const DETECTOR_LOCK_KEY = 0x61786e6f; // "axno"

/** Sends in flight to one destination at a time. */
const PER_DESTINATION = 4;

/** What the detector last noticed; `#baseline` marks that detection ran once. */
export const BASELINE_KEY = '#baseline';

const DELIVERY_COLUMNS = `d.id, d.idempotency_key, d.group_key, d.subscription_id, d.subscription, d.destination_id,
  n.name AS destination, d.trigger, d.event, d.count, d.first_at, d.last_at, d.status, d.attempts,
  d.next_attempt_at, d.lease_until, d.last_error, d.created_at, d.delivered_at`;

interface RawDelivery {
  id: string;
  idempotency_key: string;
  group_key: string;
  subscription_id: string | null;
  subscription: string;
  destination_id: string;
  destination: string;
  trigger: string;
  event: DeliveryEvent;
  count: number;
  first_at: Date;
  last_at: Date;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  lease_until: Date | null;
  last_error: string;
  created_at: Date;
  delivered_at: Date | null;
}

interface RawDestination {
  id: string;
  name: string;
  type: DestinationType;
  config: Record<string, unknown>;
  secret_sealed: string | null;
  created_at: Date;
}

function destination(r: RawDestination): DestinationRow {
  return {
    id: r.id,
    name: r.name,
    type: r.type,
    config: r.config,
    secretSealed: r.secret_sealed,
    createdAt: r.created_at,
  };
}

function delivery(r: RawDelivery): DeliveryRow {
  return {
    id: Number(r.id),
    idempotencyKey: r.idempotency_key,
    groupKey: r.group_key,
    subscriptionId: r.subscription_id,
    subscription: r.subscription,
    destinationId: r.destination_id,
    destination: r.destination,
    trigger: r.trigger,
    event: r.event,
    count: r.count,
    firstAt: r.first_at,
    lastAt: r.last_at,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    leaseUntil: r.lease_until,
    lastError: r.last_error,
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
  };
}

/**
 * Notification destinations, subscriptions, the detector's state and the outbox (tables
 * `notification_*`), and the reads the detector makes of targets, rollouts, appsets and clusters.
 */
@Injectable()
export class NotificationsRepository {
  constructor(private readonly ds: DataSource) {}

  transaction<T>(work: (db: Db) => Promise<T>): Promise<T> {
    return this.ds.transaction(work);
  }

  // --- destinations -----------------------------------------------------------------------------

  async insertDestination(d: {
    name: string;
    type: DestinationType;
    config: Record<string, unknown>;
    secretSealed: string | null;
  }): Promise<void> {
    await this.ds.query(
      `INSERT INTO notification_destinations (name, type, config, secret_sealed) VALUES ($1, $2, $3, $4)`,
      [d.name, d.type, JSON.stringify(d.config), d.secretSealed],
    );
  }

  /** Every destination, or the one named `name`, or (with `id`) the one with that id. */
  async destinations(name?: string, id?: string): Promise<DestinationRow[]> {
    const rows = await this.ds.query<RawDestination[]>(
      `SELECT id, name, type, config, secret_sealed, created_at FROM notification_destinations
        WHERE ($1::text IS NULL OR name = $1) AND ($2::uuid IS NULL OR id = $2) ORDER BY name`,
      [name ?? null, id ?? null],
    );
    return rows.map(destination);
  }

  async destinationById(id: string): Promise<DestinationRow | undefined> {
    return (await this.destinations(undefined, id))[0];
  }

  /** The destination named `name`, locked (`FOR SHARE` or `FOR UPDATE`) for `db`'s transaction. */
  private async lockedDestination(
    db: Db,
    name: string,
    lock: 'SHARE' | 'UPDATE',
  ): Promise<DestinationRow | undefined> {
    const rows = await db.query<RawDestination[]>(
      `SELECT id, name, type, config, secret_sealed, created_at FROM notification_destinations
        WHERE name = $1 FOR ${lock === 'SHARE' ? 'SHARE' : 'UPDATE'}`,
      [name],
    );
    return rows.map(destination)[0];
  }

  /**
   * Deletes the destination named `name` unless a subscription sends to it: `users` names them
   * then; undefined when there is none. Its row is locked first (FOR UPDATE), so a subscription
   * written meanwhile (which holds it FOR SHARE) is either seen here or finds it gone.
   */
  async deleteDestination(
    name: string,
  ): Promise<{ deleted: DestinationRow } | { users: string[] } | undefined> {
    return this.ds.transaction(async (db) => {
      const d = await this.lockedDestination(db, name, 'UPDATE');
      if (!d) return undefined;
      const rows = await db.query<{ name: string }[]>(
        'SELECT name FROM notification_subscriptions WHERE destination_id = $1 ORDER BY name',
        [d.id],
      );
      if (rows.length) return { users: rows.map((r) => r.name) };
      await db.query('DELETE FROM notification_destinations WHERE id = $1', [d.id]);
      return { deleted: d };
    });
  }

  // --- subscriptions ----------------------------------------------------------------------------

  /**
   * Creates (with `replace`, creates or replaces) the subscription `spec.name`, sending to the
   * destination `spec.destination`, held FOR SHARE until the write commits (a deletion of it
   * waits, then sees the subscription). `no-destination` when there is no such destination;
   * `exists` when the name is taken and not `replace` (the insert did nothing: of two creations
   * at once, one wins). Else whether it was created, and the spec it had before.
   */
  async writeSubscription(
    spec: SubscriptionSpec,
    replace: boolean,
  ): Promise<'no-destination' | 'exists' | { created: boolean; before?: SubscriptionSpec }> {
    return this.ds.transaction(async (db) => {
      const dest = await this.lockedDestination(db, spec.destination, 'SHARE');
      if (!dest) return 'no-destination';
      // Two writes of one name one after the other (a name not there yet has no row to lock):
      // the second reads what the first wrote as its `before`, for the audit log.
      if (replace)
        await db.query(`SELECT pg_advisory_xact_lock(hashtext('axle-subscription:' || $1))`, [
          spec.name,
        ]);
      const before = replace
        ? (
            await db.query<{ spec: SubscriptionSpec }[]>(
              'SELECT spec FROM notification_subscriptions WHERE name = $1 FOR UPDATE',
              [spec.name],
            )
          )[0]?.spec
        : undefined;
      const rows = await db.query<{ created: boolean }[]>(
        `INSERT INTO notification_subscriptions (name, destination_id, spec) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO ${
           replace ? 'UPDATE SET destination_id = $2, spec = $3, updated_at = now()' : 'NOTHING'
         }
         RETURNING (xmax = 0) AS created`,
        [spec.name, dest.id, JSON.stringify(spec)],
      );
      if (!rows.length) return 'exists';
      return { created: rows[0].created, before };
    });
  }

  /** Subscriptions (one by name), read on `db` (a transaction's connection) or the pool. */
  async subscriptions(name?: string, db: Db = this.ds): Promise<SubscriptionRow[]> {
    const rows = await db.query<
      {
        id: string;
        name: string;
        destination_id: string;
        destination: string;
        spec: SubscriptionSpec;
        created_at: Date;
        changed_at: Date;
      }[]
    >(
      `SELECT s.id, s.name, s.destination_id, d.name AS destination, s.spec, s.created_at,
              greatest(s.created_at, s.updated_at) AS changed_at
         FROM notification_subscriptions s JOIN notification_destinations d ON d.id = s.destination_id
        WHERE $1::text IS NULL OR s.name = $1 ORDER BY s.name`,
      [name ?? null],
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      destinationId: r.destination_id,
      destination: r.destination,
      spec: r.spec,
      createdAt: r.created_at,
      changedAt: r.changed_at,
    }));
  }

  /**
   * Deletes a subscription and its deliveries still to send, claimed or not: nothing more is
   * sent for it. Delivered and dead ones stay in the history, under its name. Waits at most
   * `waitMs` for a detection in progress; false (nothing deleted) when it is still running then.
   */
  async deleteSubscription(id: string, waitMs = 15_000): Promise<boolean> {
    try {
      await this.ds.transaction(async (db) => {
        // After the detection in progress, if any (it may be writing deliveries for this
        // subscription, read before it went): the next one no longer sees the subscription.
        await db.query(`SELECT set_config('lock_timeout', $1, true)`, [`${Math.ceil(waitMs)}ms`]);
        await db.query('SELECT pg_advisory_xact_lock($1)', [DETECTOR_LOCK_KEY]);
        await db.query('SET LOCAL lock_timeout TO DEFAULT');
        // Sets subscription_id NULL on its deliveries (waiting for a claim that holds one)...
        await db.query('DELETE FROM notification_subscriptions WHERE id = $1', [id]);
        // ...and those still to send go (with any left by hubs that kept them): a replica that
        // claimed one meanwhile finds it gone before sending (stillQueued).
        await db.query(
          `DELETE FROM notification_deliveries WHERE status = 'Pending' AND subscription_id IS NULL`,
        );
      });
      return true;
    } catch (e) {
      // lock_not_available: the detection held its lock past the wait.
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '55P03') return false;
      throw e;
    }
  }

  // --- detector state ---------------------------------------------------------------------------

  /** Takes the detector's lock for this transaction; false when another replica holds it. */
  async tryLock(db: Db, key: number): Promise<boolean> {
    const rows = await db.query<
      {
        ok: boolean;
      }[]
    >('SELECT pg_try_advisory_xact_lock($1) AS ok', [key]);
    return rows[0].ok;
  }

  async state(db: Db, keys: string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const part of chunks(keys, 20_000)) {
      const rows = await db.query<{ key: string; value: string }[]>(
        'SELECT key, value FROM notification_state WHERE key = ANY($1::text[])',
        [part],
      );
      for (const r of rows) out.set(r.key, r.value);
    }
    return out;
  }

  async writeState(db: Db, writes: { key: string; value: string | null }[]): Promise<void> {
    const set = writes.filter((w) => w.value !== null);
    const gone = writes.filter((w) => w.value === null).map((w) => w.key);
    for (const part of chunks(set, 10_000)) {
      await db.query(
        `INSERT INTO notification_state (key, value)
         SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [part.map((w) => w.key), part.map((w) => w.value)],
      );
    }
    for (const part of chunks(gone, 10_000))
      await db.query('DELETE FROM notification_state WHERE key = ANY($1::text[])', [part]);
  }

  /** Forgets what was noticed about applications, clusters and appsets that are gone. */
  async forgetOrphans(): Promise<void> {
    await this.ds.query(
      `DELETE FROM notification_state s
        WHERE (split_part(s.key, '/', 1) IN ('sync', 'health', 'drift')
               AND NOT EXISTS (SELECT 1 FROM app_targets t
                                WHERE t.app_id::text = split_part(s.key, '/', 2)
                                  AND t.cluster_id::text = split_part(s.key, '/', 3)))
           OR (split_part(s.key, '/', 1) IN ('disconnected', 'cert')
               AND NOT EXISTS (SELECT 1 FROM clusters c WHERE c.id::text = split_part(s.key, '/', 2)))
           OR (split_part(s.key, '/', 1) = 'deletion'
               AND NOT EXISTS (SELECT 1 FROM application_sets a WHERE a.id::text = split_part(s.key, '/', 2)))
           OR (split_part(s.key, '/', 1) = 'rollout'
               AND NOT EXISTS (SELECT 1 FROM rollouts r WHERE r.kind = split_part(s.key, '/', 2)
                                 AND r.owner_id::text = split_part(s.key, '/', 3)))`,
    );
  }

  // --- what the detector observes ---------------------------------------------------------------

  /**
   * Targets changed since `since` (all when undefined), with what triggers read, and the newest
   * change time seen (the database's clock).
   */
  async targetsChangedSince(
    db: Db,
    since: Date | undefined,
  ): Promise<{ rows: TargetObservation[]; newest: Date | undefined }> {
    const raw = await db.query<
      {
        app_id: string;
        cluster_id: string;
        app: string;
        project: string;
        appset: string | null;
        cluster: string;
        labels: Record<string, string>;
        desired_generation: string;
        applied_generation: string;
        applied_revision: string | null;
        sync: string;
        health: string;
        message: string;
        drifted: boolean;
        self_heal: boolean;
        op_phase: string | null;
        op_generation: string | null;
        op_retrying: boolean;
        observe_only: boolean;
        op_message: string | null;
        updated_at: Date;
      }[]
    >(
      `SELECT t.app_id, t.cluster_id, a.name AS app, coalesce(a.spec->>'project', 'default') AS project,
              s.name AS appset, c.name AS cluster, c.labels, t.desired_generation, t.applied_generation,
              t.applied_revision, t.sync, t.health, left(t.message, 1000) AS message, t.drifted,
              coalesce((t.desired_policy->>'selfHeal')::boolean, false) AS self_heal,
              t.operation->>'phase' AS op_phase,
              coalesce((t.operation->>'nextRetryAtUnixMs')::numeric, 0) > 0 AS op_retrying,
              (t.operation->>'generation')::bigint AS op_generation, t.observe_only,
              left(t.operation->>'message', 1000) AS op_message, t.updated_at
         FROM app_targets t
         JOIN applications a ON a.id = t.app_id
         JOIN clusters c ON c.id = t.cluster_id
         LEFT JOIN application_sets s ON s.id = a.app_set_id
        WHERE $1::timestamptz IS NULL OR t.updated_at > $1`,
      [since ?? null],
    );
    let newest: Date | undefined;
    const rows = raw.map((r) => {
      if (!newest || r.updated_at > newest) newest = r.updated_at;
      return {
        appId: r.app_id,
        clusterId: r.cluster_id,
        updatedAt: r.updated_at,
        app: { name: r.app, project: r.project, applicationSet: r.appset },
        cluster: { name: r.cluster, labels: r.labels },
        desiredGeneration: Number(r.desired_generation),
        appliedGeneration: Number(r.applied_generation),
        revision: r.applied_revision,
        sync: r.sync,
        health: r.health,
        message: r.message,
        drifted: r.drifted,
        selfHeal: r.self_heal,
        observeOnly: r.observe_only,
        operation:
          r.op_phase === null
            ? null
            : {
                phase: r.op_phase,
                retrying: r.op_retrying,
                generation: r.op_generation === null ? null : Number(r.op_generation),
                message: r.op_message ?? '',
              },
      };
    });
    return { rows, newest };
  }

  async rollouts(db: Db): Promise<RolloutObservation[]> {
    const rows = await db.query<
      {
        kind: 'appset' | 'app';
        owner_id: string;
        status: string;
        step: number;
        message: string;
        started_at: Date;
        name: string;
        project: string | null;
        app_appset: string | null;
      }[]
    >(
      `SELECT r.kind, r.owner_id, r.status, r.step, left(r.message, 1000) AS message, r.started_at,
              coalesce(s.name, a.name) AS name, a.spec->>'project' AS project, sa.name AS app_appset
         FROM rollouts r
         LEFT JOIN application_sets s ON r.kind = 'appset' AND s.id = r.owner_id
         LEFT JOIN applications a ON r.kind = 'app' AND a.id = r.owner_id
         LEFT JOIN application_sets sa ON sa.id = a.app_set_id
        WHERE coalesce(s.name, a.name) IS NOT NULL`,
    );
    return rows.map((r) => ({
      kind: r.kind,
      ownerId: r.owner_id,
      name: r.name,
      status: r.status,
      step: r.step,
      message: r.message,
      startedAt: r.started_at.toISOString(),
      ...(r.kind === 'app'
        ? { app: { name: r.name, project: r.project ?? 'default', applicationSet: r.app_appset } }
        : {}),
    }));
  }

  async appSetDeletions(db: Db): Promise<{ id: string; name: string; pending: string[] }[]> {
    const rows = await db.query<{ id: string; name: string; pending: string[] }[]>(
      `SELECT id, name, coalesce(status->'pendingDeletion', '[]'::jsonb) AS pending FROM application_sets`,
    );
    return rows;
  }

  async clusterObservations(db: Db): Promise<ClusterObservation[]> {
    const rows = await db.query<
      {
        id: string;
        name: string;
        labels: Record<string, string>;
        connected: boolean;
        last_seen_at: Date | null;
        serial: string | null;
        issued_at: Date | null;
        not_after: Date | null;
      }[]
    >(
      `SELECT c.id, c.name, c.labels, c.connected, c.last_seen_at, k.serial, k.created_at AS issued_at, k.not_after
         FROM clusters c
         LEFT JOIN LATERAL (SELECT serial, created_at, not_after FROM agent_certificates
                             WHERE cluster_id = c.id AND revoked_at IS NULL
                             ORDER BY not_after DESC LIMIT 1) k ON true`,
    );
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      labels: r.labels,
      connected: r.connected,
      lastSeenAt: r.last_seen_at,
      certificate:
        r.serial === null
          ? null
          : { serial: r.serial, issuedAt: r.issued_at!, notAfter: r.not_after! },
    }));
  }

  async now(db: Db): Promise<Date> {
    const rows = await db.query<{ now: Date }[]>('SELECT now() AS now');
    return rows[0].now;
  }

  // --- the outbox -------------------------------------------------------------------------------

  /** The newest delivery of each group, locked for this transaction (the sender skips it). */
  async latestOfGroups(db: Db, groupKeys: string[]): Promise<Map<string, DeliveryRow>> {
    const out = new Map<string, DeliveryRow>();
    for (const part of chunks(groupKeys, 10_000)) {
      const rows = await db.query<RawDelivery[]>(
        `SELECT ${DELIVERY_COLUMNS}
           FROM notification_deliveries d JOIN notification_destinations n ON n.id = d.destination_id
          WHERE d.id IN (SELECT DISTINCT ON (group_key) id FROM notification_deliveries
                          WHERE group_key = ANY($1::text[]) ORDER BY group_key, created_at DESC, id DESC)
          FOR UPDATE OF d`,
        [part],
      );
      for (const r of rows) out.set(r.group_key, delivery(r));
    }
    return out;
  }

  async insertDeliveries(db: Db, rows: NewDelivery[]): Promise<void> {
    for (const part of chunks(rows, 2000)) {
      await db.query(
        `INSERT INTO notification_deliveries (idempotency_key, group_key, subscription_id, subscription,
                destination_id, trigger, event, count, next_attempt_at)
         SELECT d.key, d.group_key, d.subscription_id, d.subscription, d.destination_id, d.trigger, d.event,
                d.count, to_timestamp(d.not_before / 1000.0)
           FROM jsonb_to_recordset($1::jsonb) AS d(key text, group_key text, subscription_id uuid,
                subscription text, destination_id uuid, trigger text, event jsonb, count integer,
                not_before double precision)
         ON CONFLICT (idempotency_key) DO NOTHING`,
        [
          // Events carry messages from agents and rollouts, cut at 1,000 UTF-16 units (maybe
          // mid-character): jsonParam keeps one odd character from failing every detection.
          jsonParam(
            part.map((r) => ({
              key: r.idempotencyKey,
              group_key: r.groupKey,
              subscription_id: r.subscriptionId,
              subscription: r.subscription,
              destination_id: r.destinationId,
              trigger: r.trigger,
              event: r.event,
              count: r.count,
              not_before: r.notBefore.getTime(),
            })),
          ),
        ],
      );
    }
  }

  /** Folds more events into deliveries not yet attempted (rows locked by latestOfGroups). */
  async mergeDeliveries(
    db: Db,
    rows: { id: number; event: DeliveryEvent; count: number }[],
  ): Promise<void> {
    for (const part of chunks(rows, 2000)) {
      await db.query(
        `UPDATE notification_deliveries d SET event = m.event, count = d.count + m.count, last_at = now()
           FROM jsonb_to_recordset($1::jsonb) AS m(id bigint, event jsonb, count integer)
          WHERE d.id = m.id`,
        [jsonParam(part)],
      );
    }
  }

  /**
   * Claims due deliveries for this replica: leased for `leaseSeconds` (a replica that dies while
   * sending leaves them to the others once the lease ends).
   */
  async claimDue(limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    // At most PER_DESTINATION sends in flight per destination (across replicas): a slow or dead
    // endpoint holds its own queue, never the others'.
    const rows = returned<RawDelivery & { spec: SubscriptionSpec | null }>(
      await this.ds.query(
        `WITH flying AS (
           -- Sends in flight per destination, counted once (not once per due delivery).
           SELECT destination_id, count(*) AS n FROM notification_deliveries
            WHERE status = 'Pending' AND lease_until > now() GROUP BY destination_id)
         UPDATE notification_deliveries d SET lease_until = now() + make_interval(secs => $2)
           FROM notification_destinations n
          WHERE n.id = d.destination_id
            -- Again here, on the row as it is once locked: the subquery below judges rows as they
            -- were when the statement began, so a row another replica leased (and committed)
            -- meanwhile would be claimed twice.
            AND d.status = 'Pending' AND (d.lease_until IS NULL OR d.lease_until < now())
            AND d.id IN (
              SELECT id FROM notification_deliveries
               WHERE id IN (
                 SELECT id FROM (
                   SELECT q.id, row_number() OVER (PARTITION BY q.destination_id ORDER BY q.next_attempt_at) AS rank,
                          coalesce(f.n, 0) AS flying
                     FROM notification_deliveries q LEFT JOIN flying f ON f.destination_id = q.destination_id
                    WHERE q.status = 'Pending' AND q.next_attempt_at <= now()
                      AND (q.lease_until IS NULL OR q.lease_until < now())) c
                  WHERE c.rank + c.flying <= $3)
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
          -- The spec in the claim's snapshot: the template the message is rendered with, and
          -- none for a row whose subscription is gone (left by hubs that kept such rows).
          RETURNING ${DELIVERY_COLUMNS},
                    (SELECT s.spec FROM notification_subscriptions s WHERE s.id = d.subscription_id) AS spec`,
        [limit, leaseSeconds, PER_DESTINATION],
      ),
    );
    return rows.map((r) => ({ ...delivery(r), spec: r.spec }));
  }

  /** Drops a pending delivery whose subscription is gone (it is never sent). */
  async dropOrphan(id: number): Promise<void> {
    await this.ds.query(
      `DELETE FROM notification_deliveries WHERE id = $1 AND status = 'Pending' AND subscription_id IS NULL`,
      [id],
    );
  }

  /**
   * Whether a claimed delivery is still to send, checked just before sending: false once its
   * subscription was deleted (the row is gone) or it was settled meanwhile.
   */
  async stillQueued(id: number): Promise<boolean> {
    const rows = await this.ds.query<unknown[]>(
      `SELECT 1 FROM notification_deliveries d
         JOIN notification_subscriptions s ON s.id = d.subscription_id
        WHERE d.id = $1 AND d.status = 'Pending'`,
      [id],
    );
    return rows.length > 0;
  }

  async markDelivered(id: number): Promise<void> {
    await this.ds.query(
      `UPDATE notification_deliveries SET status = 'Delivered', attempts = attempts + 1,
              delivered_at = now(), lease_until = NULL, last_error = ''
        WHERE id = $1 AND status = 'Pending'`,
      [id],
    );
  }

  /** A failed attempt: retried at `retryAt`, or dead (null). */
  async markFailed(id: number, error: string, retryAt: Date | null): Promise<void> {
    await this.ds.query(
      `UPDATE notification_deliveries SET attempts = attempts + 1, lease_until = NULL, last_error = $2,
              status = CASE WHEN $3::timestamptz IS NULL THEN 'Dead' ELSE status END,
              next_attempt_at = coalesce($3::timestamptz, next_attempt_at)
        WHERE id = $1 AND status = 'Pending'`,
      [id, error.slice(0, 2000), retryAt],
    );
  }

  async deliveries(q: {
    status?: DeliveryStatus;
    subscription?: string;
    limit: number;
  }): Promise<DeliveryRow[]> {
    const rows = await this.ds.query<RawDelivery[]>(
      `SELECT ${DELIVERY_COLUMNS}
         FROM notification_deliveries d JOIN notification_destinations n ON n.id = d.destination_id
        WHERE ($1::text IS NULL OR d.status = $1) AND ($2::text IS NULL OR d.subscription = $2)
        ORDER BY d.id DESC LIMIT $3`,
      [q.status ?? null, q.subscription ?? null, q.limit],
    );
    return rows.map(delivery);
  }

  /**
   * A dead delivery goes back to the queue (attempts start again), while its subscription exists
   * (the row's lock orders this with the deletion, which sets subscription_id NULL on it).
   */
  async retry(id: number): Promise<boolean> {
    const rows = returned<{ id: string }>(
      await this.ds.query(
        `UPDATE notification_deliveries SET status = 'Pending', attempts = 0, next_attempt_at = now(),
                lease_until = NULL
          WHERE id = $1 AND status = 'Dead' AND subscription_id IS NOT NULL RETURNING id`,
        [id],
      ),
    );
    return rows.length > 0;
  }

  async countByStatus(): Promise<{ status: DeliveryStatus; n: number }[]> {
    const rows = await this.ds.query<{ status: DeliveryStatus; n: string }[]>(
      'SELECT status, count(*) AS n FROM notification_deliveries GROUP BY 1',
    );
    return rows.map((r) => ({ status: r.status, n: Number(r.n) }));
  }

  /** Delivered messages are kept a week, dead ones a month. */
  async trim(): Promise<void> {
    await this.ds.query(
      `DELETE FROM notification_deliveries
        WHERE (status = 'Delivered' AND delivered_at < now() - interval '7 days')
           OR (status = 'Dead' AND created_at < now() - interval '30 days')`,
    );
  }
}
