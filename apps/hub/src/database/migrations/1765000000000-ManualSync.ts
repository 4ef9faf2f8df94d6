import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ManualSync1765000000000 implements MigrationInterface {
  name = 'ManualSync1765000000000';

  async up(q: QueryRunner): Promise<void> {
    // Set by a rollback (and cleared on request): the application is synced by hand only, so the
    // next commit does not undo the rollback. {reason, by, at}.
    await q.query(`ALTER TABLE applications ADD COLUMN auto_sync_suspended jsonb`);
    // Which generation each cluster received with a history entry, and who asked for it.
    await q.query(`ALTER TABLE app_history ADD COLUMN targets jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN actor varchar(128) NOT NULL DEFAULT ''`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_history DROP COLUMN targets, DROP COLUMN actor');
    await q.query('ALTER TABLE applications DROP COLUMN auto_sync_suspended');
  }
}
