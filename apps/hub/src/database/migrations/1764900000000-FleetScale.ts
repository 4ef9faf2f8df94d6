import type { MigrationInterface, QueryRunner } from 'typeorm';

export class FleetScale1764900000000 implements MigrationInterface {
  name = 'FleetScale1764900000000';

  async up(q: QueryRunner): Promise<void> {
    // Durable, leased work shared by the replicas (docs/adr/0007-batch-reconcile-and-leases.md).
    // One row per dirty object: marking it again bumps `dirty`, so a run that finishes only
    // removes the row when nothing marked it meanwhile. A replica claims rows with
    // FOR UPDATE SKIP LOCKED and holds them until lease_until; a dead replica's leases expire.
    await q.query(`
      CREATE TABLE work_queue (
        kind varchar(16) NOT NULL,
        key uuid NOT NULL,
        dirty bigint NOT NULL DEFAULT 1,
        reason text NOT NULL DEFAULT '',
        enqueued_at timestamptz NOT NULL DEFAULT now(),
        not_before timestamptz NOT NULL DEFAULT now(),
        lease_owner varchar(64),
        lease_until timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        last_error text,
        PRIMARY KEY (kind, key)
      )`);
    await q.query(`CREATE INDEX work_queue_ready_idx ON work_queue (kind, not_before)`);
    await q.query(`CREATE INDEX work_queue_owner_idx ON work_queue (lease_owner)`);
    // Hub replicas alive (heartbeat), so the others can take over a dead one's agents and work.
    await q.query(`
      CREATE TABLE hub_replicas (
        id varchar(64) PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        info jsonb NOT NULL DEFAULT '{}'
      )`);
    // Which replica holds a cluster's agent stream (a stale replica's writes are ignored).
    await q.query(`ALTER TABLE clusters ADD COLUMN replica_id varchar(64)`);
    // Small shared state: when the last periodic resync ran (one replica does it per interval).
    await q.query(`
      CREATE TABLE hub_state (
        key varchar(64) PRIMARY KEY,
        at timestamptz NOT NULL
      )`);
    await q.query(`INSERT INTO hub_state (key, at) VALUES ('resync', '-infinity')`);
    // Every desired state the hub recorded for an application, newest last.
    await q.query(`
      CREATE TABLE app_history (
        id bigserial PRIMARY KEY,
        app_id uuid NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
        revision varchar(64) NOT NULL,
        bundle_hash varchar(80) NOT NULL,
        spec_version integer NOT NULL,
        clusters integer NOT NULL,
        reason text NOT NULL DEFAULT '',
        replica varchar(64) NOT NULL,
        started_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX app_history_app_idx ON app_history (app_id, id DESC)`);
    // Targets waiting for delivery, per cluster (the dispatcher reads only those).
    await q.query(
      `CREATE INDEX app_targets_pending_idx ON app_targets (cluster_id) WHERE acked_generation < desired_generation`,
    );
    await q.query(
      `CREATE INDEX applications_destination_idx ON applications ((spec->'destination'->>'cluster'))`,
    );
    // What was there before this migration is reconciled once by whichever replica starts first.
    await q.query(
      `INSERT INTO work_queue (kind, key, reason) SELECT 'app', id, 'upgrade' FROM applications`,
    );
    await q.query(
      `INSERT INTO work_queue (kind, key, reason) SELECT 'appset', id, 'upgrade' FROM application_sets`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX applications_destination_idx');
    await q.query('DROP INDEX app_targets_pending_idx');
    await q.query('DROP TABLE app_history');
    await q.query('DROP TABLE hub_state');
    await q.query('ALTER TABLE clusters DROP COLUMN replica_id');
    await q.query('DROP TABLE hub_replicas');
    await q.query('DROP TABLE work_queue');
  }
}
