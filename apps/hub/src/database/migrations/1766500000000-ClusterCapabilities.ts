import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What each cluster's API server serves (its version and API versions, as its agent reports
 * them), for Helm's `.Capabilities` and plugins. Identical sets are stored once
 * (`cluster_capabilities`, by content hash): 10,000 clusters of a few kinds hold a few rows.
 * `app_renders.capabilities` names the set an application was rendered for ('' for none), so a
 * change of its clusters' capabilities renders it again.
 */
export class ClusterCapabilities1766500000000 implements MigrationInterface {
  name = 'ClusterCapabilities1766500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE cluster_capabilities (
         hash varchar(64) PRIMARY KEY,
         kube_version varchar(64) NOT NULL,
         api_versions text[] NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    await q.query(
      `ALTER TABLE clusters
         ADD COLUMN capabilities_hash varchar(64) NULL REFERENCES cluster_capabilities(hash),
         ADD COLUMN capabilities_at timestamptz NULL`,
    );
    await q.query(
      `CREATE INDEX clusters_capabilities_idx ON clusters (capabilities_hash)
         WHERE capabilities_hash IS NOT NULL`,
    );
    await q.query(
      `ALTER TABLE app_renders ADD COLUMN capabilities varchar(64) NOT NULL DEFAULT ''`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_renders DROP COLUMN capabilities');
    await q.query(
      'ALTER TABLE clusters DROP COLUMN capabilities_hash, DROP COLUMN capabilities_at',
    );
    await q.query('DROP TABLE cluster_capabilities');
  }
}
