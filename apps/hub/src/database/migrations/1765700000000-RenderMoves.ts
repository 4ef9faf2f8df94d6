import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Moves of renders to a new commit, recorded with the marks of the commit that changed the rest
 * and applied just after (WorkRepository.commitMoved and applyMoves): a commit's changed
 * applications no longer wait for the rewrite of every application it left alone.
 */
export class RenderMoves1765700000000 implements MigrationInterface {
  name = 'RenderMoves1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE render_moves (
        id bigserial PRIMARY KEY,
        repo_url text NOT NULL,
        revisions text[] NOT NULL,
        from_revision varchar(64) NOT NULL,
        to_revision varchar(64) NOT NULL,
        touched text[] NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE render_moves');
  }
}
