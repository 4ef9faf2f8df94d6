import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AppEvents1763875000000 implements MigrationInterface {
  name = 'AppEvents1763875000000';

  async up(q: QueryRunner): Promise<void> {
    // What agents report happened (syncs, drift, self-heal, prunes, hooks, retries), per app × cluster.
    await q.query(`
      CREATE TABLE app_events (
        id bigserial PRIMARY KEY,
        app_id uuid NOT NULL,
        cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        at timestamptz NOT NULL,
        type varchar(16) NOT NULL,
        reason varchar(64) NOT NULL,
        message text NOT NULL,
        generation bigint NOT NULL DEFAULT 0,
        offline boolean NOT NULL DEFAULT false
      )`);
    await q.query(`CREATE INDEX app_events_app_idx ON app_events (app_id, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE app_events');
  }
}
