import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuthAudit1763863000000 implements MigrationInterface {
  name = 'AuthAudit1763863000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(63) NOT NULL UNIQUE,
        role varchar(16) NOT NULL CHECK (role IN ('admin', 'readonly')),
        token_hash varchar(80) NOT NULL UNIQUE,
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz,
        created_by varchar(128) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE audit_events (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor varchar(128) NOT NULL,
        action varchar(64) NOT NULL,
        kind varchar(64) NOT NULL,
        name varchar(253) NOT NULL,
        before jsonb,
        after jsonb
      )`);
    await q.query(`CREATE INDEX audit_events_resource_idx ON audit_events (kind, name, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE audit_events');
    await q.query('DROP TABLE api_tokens');
  }
}
