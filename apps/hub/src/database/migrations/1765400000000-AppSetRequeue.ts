import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AppSetRequeue1765400000000 implements MigrationInterface {
  name = 'AppSetRequeue1765400000000';

  async up(q: QueryRunner): Promise<void> {
    // ApplicationSets whose generators ask services (plugin, pullRequest, scmProvider,
    // clusterDecisionResource) are evaluated again this often (the shortest requeueAfterSeconds).
    await q.query(`ALTER TABLE application_sets ADD COLUMN requeue_seconds integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE application_sets DROP COLUMN requeue_seconds');
  }
}
