import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RenderCache1763881000000 implements MigrationInterface {
  name = 'RenderCache1763881000000';

  async up(q: QueryRunner): Promise<void> {
    // Render key (repository, commit, path, tool, options, parameters, tool versions) → bundle:
    // applications with identical sources render once, across replicas and restarts.
    await q.query(`
      CREATE TABLE render_cache (
        key varchar(128) PRIMARY KEY,
        bundle_hash varchar(80) NOT NULL REFERENCES manifest_bundles(hash),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE render_cache');
  }
}
