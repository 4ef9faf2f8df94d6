import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * App of apps: an application created from an Argo CD `Application` in another application's
 * manifests names that parent. Deleting the parent deletes its children (the hub does it, leaving
 * removal notes); should a parent row go any other way, its children stay, as applications of
 * their own.
 */
export class ChildApplications1766400000000 implements MigrationInterface {
  name = 'ChildApplications1766400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE applications
         ADD COLUMN parent_app_id uuid NULL REFERENCES applications(id) ON DELETE SET NULL`,
    );
    await q.query(
      `CREATE INDEX applications_parent_idx ON applications (parent_app_id)
         WHERE parent_app_id IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE applications DROP COLUMN parent_app_id');
  }
}
