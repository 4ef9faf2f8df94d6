import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Agents' acknowledgements and status reports rewrite `app_targets.updated_at` on every write. An
 * index on that column made each of those writes update all three of the table's indexes instead
 * of staying on its page (a "HOT" update, what the table's fillfactor is for): at 10,000 acks in
 * one statement, 300 ms instead of 150. Its one reader, notification detection, runs only while a
 * subscription watches targets, and reads the table once a second (about 60 ms at 100,000 targets).
 *
 * The rollout loop looks for applications that roll out in waves or wait for dependencies on every
 * pass; a partial index holds just those, so the look no longer reads every application's spec.
 */
export class HotTargetWrites1765600000000 implements MigrationInterface {
  name = 'HotTargetWrites1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS app_targets_updated_idx');
    await q.query(
      `CREATE INDEX applications_waved_idx ON applications (name)
        WHERE spec ? 'rollout' OR jsonb_array_length(coalesce(spec->'dependsOn', '[]')) > 0`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX applications_waved_idx');
    await q.query('CREATE INDEX app_targets_updated_idx ON app_targets (updated_at)');
  }
}
