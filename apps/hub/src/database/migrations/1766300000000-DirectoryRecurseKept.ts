import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The hub now reads a plain directory without its sub-directories unless `directory.recurse` is
 * true, as Argo CD does; it recursed by default before. Applications rendered as plain directories
 * that did not say either way keep what they deployed: they are given `recurse: true` (seen in
 * their spec, and theirs to change). An ApplicationSet's template decides again at the next change
 * of what it generates.
 */
export class DirectoryRecurseKept1766300000000 implements MigrationInterface {
  name = 'DirectoryRecurseKept1766300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `UPDATE applications a
          SET spec = jsonb_set(a.spec, '{source,directory}',
                coalesce(a.spec->'source'->'directory', '{}'::jsonb) || '{"recurse": true}'::jsonb)
         FROM app_renders r
        WHERE r.app_id = a.id AND r.tool = 'directory'
          AND jsonb_typeof(a.spec->'source') = 'object'
          AND NOT coalesce(a.spec->'source'->'directory' ? 'recurse', false)`,
    );
  }

  async down(): Promise<void> {
    // Which applications were given `recurse: true` is not recorded: they keep it.
  }
}
