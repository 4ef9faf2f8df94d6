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
    // Which Helm renders float is known only by rendering: each is rendered once more (and the
    // flag is right from then on) rather than kept as it is until the next commit.
    await q.query(`UPDATE app_renders SET unpinned = true WHERE tool = 'helm'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_renders DROP COLUMN unpinned');
  }
}
