import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RemovalOrder1765300000000 implements MigrationInterface {
  name = 'RemovalOrder1765300000000';

  async up(q: QueryRunner): Promise<void> {
    // The applications a removed application depended on: their own removal waits until this
    // one's is done (deletion in reverse dependency order).
    await q.query(`ALTER TABLE app_removals ADD COLUMN depends_on uuid[] NOT NULL DEFAULT '{}'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_removals DROP COLUMN depends_on');
  }
}
