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
  // Row by row, each update committed: a large table is not held in one transaction, and a hub
  // stopped half-way goes on where it was (rows done carry the flag and are not read again).
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    const rows = (await q.query(
      `SELECT hash FROM manifest_bundles
        WHERE resources @> '[{"kind": "CustomResourceDefinition"}]'
          AND NOT resources @> '[{"kind": "CustomResourceDefinition", "clusterScoped": true}]'`,
    )) as { hash: string }[];
    for (const { hash } of rows) {
      const [row] = (await q.query('SELECT content FROM manifest_bundles WHERE hash = $1', [
        hash,
      ])) as { content: Buffer }[];
      let objects;
      try {
        objects = decompressBundle(row.content, hash).objects;
      } catch (e) {
        // Unreadable: it fails where it is used, as before.
        console.warn(`bundle ${hash}: not read again (${(e as Error).message})`);
        continue;
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
