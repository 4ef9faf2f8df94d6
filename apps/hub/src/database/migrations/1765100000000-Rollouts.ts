import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Rollouts1765100000000 implements MigrationInterface {
  name = 'Rollouts1765100000000';

  async up(q: QueryRunner): Promise<void> {
    // The generated Application's metadata.labels (RollingSync steps select by them).
    await q.query(`ALTER TABLE applications ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'`);
    // One progressive rollout per ApplicationSet with a RollingSync strategy (kind appset), or
    // per Application with waves over its clusters (kind app). Removed with its owner by the
    // rollout loop (no foreign key: two possible owners).
    await q.query(`
      CREATE TABLE rollouts (
        kind varchar(8) NOT NULL,
        owner_id uuid NOT NULL,
        status varchar(16) NOT NULL,
        step integer NOT NULL DEFAULT 0,
        message text NOT NULL DEFAULT '',
        updated jsonb NOT NULL DEFAULT '{}',
        halted_bundles jsonb,
        gates jsonb NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (kind, owner_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE rollouts');
    await q.query('ALTER TABLE applications DROP COLUMN labels');
  }
}
