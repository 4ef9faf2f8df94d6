import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ApplicationSets1763860000000 implements MigrationInterface {
  name = 'ApplicationSets1763860000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE application_sets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(253) NOT NULL UNIQUE,
        document jsonb NOT NULL,
        spec_version integer NOT NULL DEFAULT 1,
        warnings jsonb NOT NULL DEFAULT '[]',
        repos text[] NOT NULL DEFAULT '{}',
        reads_clusters boolean NOT NULL DEFAULT false,
        status jsonb NOT NULL DEFAULT '{}',
        deletion_confirmed jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX application_sets_repos_idx ON application_sets USING gin (repos)`);
    await q.query(
      `ALTER TABLE applications ADD COLUMN app_set_id uuid REFERENCES application_sets(id) ON DELETE SET NULL`,
    );
    await q.query(`ALTER TABLE applications ADD COLUMN spec_hash varchar(80)`);
    await q.query(`CREATE INDEX applications_app_set_idx ON applications (app_set_id)`);
    // What to tell an agent about an app that is gone: prune its resources or leave them.
    await q.query(`
      CREATE TABLE app_removals (
        app_id uuid NOT NULL,
        cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        prune boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (app_id, cluster_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE app_removals');
    await q.query('ALTER TABLE applications DROP COLUMN spec_hash');
    await q.query('ALTER TABLE applications DROP COLUMN app_set_id');
    await q.query('DROP TABLE application_sets');
  }
}
