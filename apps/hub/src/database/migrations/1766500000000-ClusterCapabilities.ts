import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What each cluster's API server serves (its version and API versions, as its agent reports
 * them), for Helm's `.Capabilities` and plugins. Identical sets are stored once
 * (`cluster_capabilities`, by content hash): 10,000 clusters of a few kinds hold a few rows. A set
 * no cluster names is marked (`unreferenced_since`) and deleted some minutes later, so that a
 * batch that read a cluster's hash still finds its set.
 *
 * `app_renders.capabilities` names the sets an application was rendered for ('' for none), valid
 * for the bundle in `capabilities_of`: a render written without it (a hub of the version before,
 * during a rolling upgrade) is not taken for one made for those sets.
 */
export class ClusterCapabilities1766500000000 implements MigrationInterface {
  name = 'ClusterCapabilities1766500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE cluster_capabilities (
         hash varchar(64) PRIMARY KEY,
         kube_version varchar(64) NOT NULL,
         api_versions text[] NOT NULL,
         api_version_count integer NOT NULL,
         created_at timestamptz NOT NULL DEFAULT now(),
         unreferenced_since timestamptz NULL
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
    // Applications by the clusters they name in destination.clusters (a change of one cluster's
    // capabilities marks them, as the expression index on destination.cluster does for the others).
    await q.query(
      `CREATE INDEX applications_destination_clusters_idx ON applications
         USING gin ((spec->'destination'->'clusters'))`,
    );
    await q.query(
      `ALTER TABLE app_renders
         ADD COLUMN capabilities varchar(64) NOT NULL DEFAULT '',
         ADD COLUMN capabilities_of varchar(100) NOT NULL DEFAULT ''`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE app_renders DROP COLUMN capabilities, DROP COLUMN capabilities_of');
    await q.query('DROP INDEX applications_destination_clusters_idx');
    await q.query(
      'ALTER TABLE clusters DROP COLUMN capabilities_hash, DROP COLUMN capabilities_at',
    );
    await q.query('DROP TABLE cluster_capabilities');
  }
}
