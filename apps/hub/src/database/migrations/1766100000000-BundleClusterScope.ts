import type { MigrationInterface, QueryRunner } from 'typeorm';
import { decompressBundle, objectRefs } from '../../../../../libs/manifests/src/index.js';

/**
 * Bundles stored before their objects' scope was recorded: those with a CRD get their resources
 * again, so the kinds it defines cluster-scoped are bound by projects' `spec.clusterKinds` (built-in
 * kinds are looked up by kind when checked). A bundle is content-addressed: rendering it again
 * does not rewrite its row.
 */
export class BundleClusterScope1766100000000 implements MigrationInterface {
  name = 'BundleClusterScope1766100000000';

  async up(q: QueryRunner): Promise<void> {
    const rows = (await q.query(
      `SELECT hash FROM manifest_bundles WHERE resources @> '[{"kind": "CustomResourceDefinition"}]'`,
    )) as { hash: string }[];
    for (const { hash } of rows) {
      const [row] = (await q.query('SELECT content FROM manifest_bundles WHERE hash = $1', [
        hash,
      ])) as { content: Buffer }[];
      let objects;
      try {
        objects = decompressBundle(row.content, hash).objects;
      } catch {
        continue; // unreadable: it fails where it is used, as before
      }
      await q.query('UPDATE manifest_bundles SET resources = $2 WHERE hash = $1', [
        hash,
        JSON.stringify(objectRefs(objects)),
      ]);
    }
  }

  async down(): Promise<void> {
    // Older hubs ignore the field.
  }
}
