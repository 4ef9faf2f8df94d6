import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1763856000000 implements MigrationInterface {
  name = 'Initial1763856000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE clusters (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(63) NOT NULL UNIQUE,
        labels jsonb NOT NULL DEFAULT '{}',
        annotations jsonb NOT NULL DEFAULT '{}',
        server varchar(2048) NOT NULL DEFAULT '',
        token_hash varchar(80) NOT NULL UNIQUE,
        agent_version varchar(64),
        last_seen_at timestamptz,
        connected boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE applications (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(253) NOT NULL UNIQUE,
        spec jsonb NOT NULL,
        spec_version integer NOT NULL DEFAULT 1,
        rendered_revision varchar(64),
        rendered_bundle_hash varchar(80),
        rendered_spec_version integer,
        conditions jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(
      `CREATE INDEX applications_repo_idx ON applications ((spec->'source'->>'repoURL'))`,
    );
    await q.query(`
      CREATE TABLE manifest_bundles (
        hash varchar(80) PRIMARY KEY,
        content bytea NOT NULL,
        size_bytes integer NOT NULL,
        object_count integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE app_targets (
        app_id uuid NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
        cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        desired_generation bigint NOT NULL,
        desired_bundle_hash varchar(80) NOT NULL REFERENCES manifest_bundles(hash),
        desired_revision varchar(64) NOT NULL,
        desired_namespace varchar(63) NOT NULL,
        desired_policy jsonb NOT NULL,
        acked_generation bigint NOT NULL DEFAULT 0,
        applied_generation bigint NOT NULL DEFAULT 0,
        applied_revision varchar(64),
        sync varchar(16) NOT NULL DEFAULT 'Unknown',
        health varchar(16) NOT NULL DEFAULT 'Unknown',
        message text NOT NULL DEFAULT '',
        resources jsonb NOT NULL DEFAULT '[]',
        last_report_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, cluster_id)
      )`);
    await q.query(`CREATE INDEX app_targets_cluster_idx ON app_targets (cluster_id)`);
    await q.query(`
      CREATE TABLE repositories (
        url varchar(2048) PRIMARY KEY,
        last_fetched_at timestamptz,
        last_error text,
        refs jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE repositories');
    await q.query('DROP TABLE app_targets');
    await q.query('DROP TABLE manifest_bundles');
    await q.query('DROP TABLE applications');
    await q.query('DROP TABLE clusters');
  }
}
