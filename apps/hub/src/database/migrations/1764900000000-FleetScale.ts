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
    // No secondary indexes: a commit marks (and later deletes) one row per application it
    // affects, 100,000 at a time in a large fleet, and every index would be maintained for each;
    // claims read the table in whatever order it is, and it only holds the work in flight.
    // Hub replicas alive (heartbeat), so the others can take over a dead one's agents and work.
    await q.query(`
      CREATE TABLE hub_replicas (
        id varchar(64) PRIMARY KEY,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        info jsonb NOT NULL DEFAULT '{}'
      )`);
    // What reconciling an application last produced (its render and conditions) lives apart from
    // its wide spec: a commit rewrites it for every application reading the repository, and a
    // narrow row is cheap to rewrite. Room is left in every page so that such updates (and the
    // agents' status and acks on targets) stay on the page and touch no index ("HOT" updates).
    await q.query(`
      CREATE TABLE app_renders (
        app_id uuid PRIMARY KEY REFERENCES applications(id) ON DELETE CASCADE,
        revision varchar(64),
        bundle_hash varchar(80),
        spec_version integer,
        tool varchar(16),
        conditions jsonb NOT NULL DEFAULT '[]'
      ) WITH (fillfactor = 80)`);
    await q.query(`
      INSERT INTO app_renders (app_id, revision, bundle_hash, spec_version, conditions)
      SELECT id, rendered_revision, rendered_bundle_hash, rendered_spec_version, conditions FROM applications`);
    await q.query(`ALTER TABLE applications DROP COLUMN rendered_revision,
      DROP COLUMN rendered_bundle_hash, DROP COLUMN rendered_spec_version, DROP COLUMN conditions`);
    await q.query(`ALTER TABLE app_targets SET (fillfactor = 70)`);
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
    await q.query('DROP TABLE app_history');
    await q.query('DROP TABLE hub_state');
    await q.query('ALTER TABLE app_targets RESET (fillfactor)');
    await q.query(`ALTER TABLE applications ADD COLUMN rendered_revision varchar(64),
      ADD COLUMN rendered_bundle_hash varchar(80), ADD COLUMN rendered_spec_version integer,
      ADD COLUMN conditions jsonb NOT NULL DEFAULT '[]'`);
    await q.query(`UPDATE applications a SET rendered_revision = r.revision, rendered_bundle_hash = r.bundle_hash,
      rendered_spec_version = r.spec_version, conditions = r.conditions FROM app_renders r WHERE r.app_id = a.id`);
    await q.query('DROP TABLE app_renders');
    await q.query('ALTER TABLE clusters DROP COLUMN replica_id');
    await q.query('DROP TABLE hub_replicas');
    await q.query('DROP TABLE work_queue');
  }
}
