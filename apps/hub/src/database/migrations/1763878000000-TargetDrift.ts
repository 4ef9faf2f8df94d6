import type { MigrationInterface, QueryRunner } from 'typeorm';

export class TargetDrift1763878000000 implements MigrationInterface {
  name = 'TargetDrift1763878000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE app_targets ADD COLUMN drifted boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE app_targets ADD COLUMN observe_only boolean NOT NULL DEFAULT false`);
    // The agent's current or last sync operation: phase, retries, hooks.
    await q.query(`ALTER TABLE app_targets ADD COLUMN operation jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_targets DROP COLUMN operation');
    await q.query('ALTER TABLE app_targets DROP COLUMN observe_only');
    await q.query('ALTER TABLE app_targets DROP COLUMN drifted');
  }
}
