import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RepositoryCredentials1763866000000 implements MigrationInterface {
  name = 'RepositoryCredentials1763866000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE repository_credentials (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        url_prefix varchar(2048) NOT NULL UNIQUE,
        type varchar(8) NOT NULL CHECK (type IN ('https', 'ssh')),
        username varchar(255),
        -- AES-256-GCM (SecretBox): the password/token for https, the private key for ssh.
        secret_sealed text NOT NULL,
        known_hosts text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE repository_credentials');
  }
}
