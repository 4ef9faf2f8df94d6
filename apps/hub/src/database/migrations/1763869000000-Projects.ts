import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Projects1763869000000 implements MigrationInterface {
  name = 'Projects1763869000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE projects (
        name varchar(63) PRIMARY KEY,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Like Argo CD's default project: everything allowed until an admin narrows it.
    await q.query(
      `INSERT INTO projects (name, spec) VALUES ('default', '{"sourceRepos":["*"],"destinations":[{"namespace":"*"}],"deniedKinds":[]}')`,
    );
    // What a bundle contains, so a project can be checked before dispatch without unpacking it.
    await q.query(`ALTER TABLE manifest_bundles ADD COLUMN resources jsonb NOT NULL DEFAULT '[]'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE manifest_bundles DROP COLUMN resources');
    await q.query('DROP TABLE projects');
  }
}
