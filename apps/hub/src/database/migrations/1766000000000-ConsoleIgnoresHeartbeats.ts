import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The web console's trigger on `clusters` updates fires only when something besides
 * `last_seen_at` changed. Every agent heartbeat moves it (each cluster every 15 s, in batches):
 * each one told every open console to refetch the whole fleet view, and dropped the view the hub
 * keeps, so with 100 clusters it was rebuilt and sent to every console several times a second.
 * Connecting, disconnecting, a new agent version, labels and the rest still notify.
 */
export class ConsoleIgnoresHeartbeats1766000000000 implements MigrationInterface {
  name = 'ConsoleIgnoresHeartbeats1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER axle_console_clusters_update ON clusters');
    await q.query(`
      CREATE FUNCTION axle_console_clusters_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (
          SELECT 1 FROM changed n JOIN before o ON o.id = n.id
           WHERE to_jsonb(n) - 'last_seen_at' IS DISTINCT FROM to_jsonb(o) - 'last_seen_at'
        ) THEN
          PERFORM pg_notify('axle_console', TG_TABLE_NAME);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER axle_console_clusters_update AFTER UPDATE ON clusters
        REFERENCING OLD TABLE AS before NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION axle_console_clusters_update()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TRIGGER axle_console_clusters_update ON clusters');
    await q.query('DROP FUNCTION axle_console_clusters_update()');
    await q.query(`
      CREATE TRIGGER axle_console_clusters_update AFTER UPDATE ON clusters
        REFERENCING NEW TABLE AS changed
        FOR EACH STATEMENT EXECUTE FUNCTION axle_console_changed()`);
  }
}
