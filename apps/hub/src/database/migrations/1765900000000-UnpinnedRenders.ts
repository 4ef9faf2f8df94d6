import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Whether an application's render depends on more than its commit and spec (a Helm chart whose
 * dependencies are fetched by a version range, no lock file): such a render is made again at
 * each reconcile instead of being kept until the next commit.
 */
export class UnpinnedRenders1765900000000 implements MigrationInterface {
  name = 'UnpinnedRenders1765900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_renders ADD COLUMN unpinned boolean NOT NULL DEFAULT false');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_renders DROP COLUMN unpinned');
  }
}
