import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Enrollment1763872000000 implements MigrationInterface {
  name = 'Enrollment1763872000000';

  async up(q: QueryRunner): Promise<void> {
    // The hub's certificate authority (key sealed with the SecretBox), made on first start.
    await q.query(`
      CREATE TABLE hub_ca (
        id smallint PRIMARY KEY CHECK (id = 1),
        cert_pem text NOT NULL,
        key_sealed text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // One-time bootstrap tokens: short-lived, single use, stored hashed.
    await q.query(`
      CREATE TABLE enrollment_tokens (
        token_hash varchar(80) PRIMARY KEY,
        cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Every client certificate issued to an agent, for revocation.
    await q.query(`
      CREATE TABLE agent_certificates (
        serial varchar(64) PRIMARY KEY,
        cluster_id uuid NOT NULL REFERENCES clusters(id) ON DELETE CASCADE,
        not_after timestamptz NOT NULL,
        revoked_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX agent_certificates_cluster_idx ON agent_certificates (cluster_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE agent_certificates');
    await q.query('DROP TABLE enrollment_tokens');
    await q.query('DROP TABLE hub_ca');
  }
}
