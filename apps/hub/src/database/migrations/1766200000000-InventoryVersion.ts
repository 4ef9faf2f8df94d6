import type { MigrationInterface, QueryRunner } from 'typeorm';

/** What of a cluster the generators read: a change to any of these is an inventory change. */
const INVENTORY_COLUMNS = ['name', 'server', 'labels', 'annotations'];

/**
 * A version of the cluster inventory, raised in the transaction of every statement that changes
 * what generators read of the clusters (added, deleted, renamed, relabelled, annotated, moved to
 * another server); heartbeats and connections leave it alone. A replica keeps the inventory it
 * read with the version read before it, and reads it again only when the version moved: one
 * ApplicationSet evaluation after another, over 10,000 clusters, no longer reads them all each
 * time. The triggers catch every writer (truncation too), not only the hub's code. Each statement
 * that changes the inventory locks the one version row: two transactions that each change several
 * clusters in separate statements could deadlock (PostgreSQL then aborts one); the hub changes one
 * cluster per transaction.
 */
export class InventoryVersion1766200000000 implements MigrationInterface {
  name = 'InventoryVersion1766200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE inventory_version (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        version bigint NOT NULL DEFAULT 0
      )`);
    await q.query(`INSERT INTO inventory_version (id, version) VALUES (1, 0)`);
    const cols = INVENTORY_COLUMNS.map((c) => `n.${c}`).join(', ');
    const old = INVENTORY_COLUMNS.map((c) => `o.${c}`).join(', ');
    await q.query(`
      CREATE FUNCTION axle_inventory_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'TRUNCATE' THEN
          UPDATE inventory_version SET version = version + 1 WHERE id = 1;
          RETURN NULL;
        ELSIF TG_OP = 'UPDATE' THEN
          IF NOT EXISTS (
            SELECT 1 FROM changed n JOIN before o ON o.id = n.id
             WHERE (${cols}) IS DISTINCT FROM (${old})
          ) THEN
            RETURN NULL;
          END IF;
        ELSIF NOT EXISTS (SELECT 1 FROM changed) THEN
          RETURN NULL;
        END IF;
        UPDATE inventory_version SET version = version + 1 WHERE id = 1;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER axle_inventory_update AFTER UPDATE ON clusters
        REFERENCING OLD TABLE AS before NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION axle_inventory_changed()`);
    await q.query(`
      CREATE TRIGGER axle_inventory_insert AFTER INSERT ON clusters
        REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION axle_inventory_changed()`);
    await q.query(`
      CREATE TRIGGER axle_inventory_delete AFTER DELETE ON clusters
        REFERENCING OLD TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION axle_inventory_changed()`);
    await q.query(`
      CREATE TRIGGER axle_inventory_truncate AFTER TRUNCATE ON clusters
        FOR EACH STATEMENT EXECUTE FUNCTION axle_inventory_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const op of ['update', 'insert', 'delete', 'truncate'])
      await q.query(`DROP TRIGGER axle_inventory_${op} ON clusters`);
    await q.query('DROP FUNCTION axle_inventory_changed()');
    await q.query('DROP TABLE inventory_version');
  }
}
