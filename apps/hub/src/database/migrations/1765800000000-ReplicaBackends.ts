import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Each replica records the PostgreSQL backend of its listening connection: when that backend is
 * gone (the replica died and the server closed its connection), the others take over its work and
 * agents within seconds instead of waiting for its heartbeat to go stale.
 */
export class ReplicaBackends1765800000000 implements MigrationInterface {
  name = 'ReplicaBackends1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      'ALTER TABLE hub_replicas ADD COLUMN backend_pid integer, ADD COLUMN backend_start timestamptz',
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE hub_replicas DROP COLUMN backend_pid, DROP COLUMN backend_start');
  }
}
