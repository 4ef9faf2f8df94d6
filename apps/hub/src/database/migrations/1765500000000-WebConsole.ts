import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Tables whose changes the web console hears about, and the id column naming the application. */
const APP_TABLES: [table: string, appColumn: string][] = [
  ['app_targets', 'app_id'],
  ['app_renders', 'app_id'],
  ['applications', 'id'],
];
const OTHER_TABLES = ['clusters', 'application_sets', 'audit_events', 'rollouts'];
/** A trigger with transition tables has one event: one trigger per operation. */
const OPS = [
  ['INSERT', 'NEW'],
  ['UPDATE', 'NEW'],
  ['DELETE', 'OLD'],
] as const;

export class WebConsole1765500000000 implements MigrationInterface {
  name = 'WebConsole1765500000000';

  async up(q: QueryRunner): Promise<void> {
    // Web console sessions: an API token exchanged for an HttpOnly cookie. Only the hash of the
    // session id is stored; the session ends with its token (revoked, expired or deleted).
    await q.query(`
      CREATE TABLE web_sessions (
        id_hash varchar(80) PRIMARY KEY,
        token_id uuid NOT NULL REFERENCES api_tokens(id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX web_sessions_expires_idx ON web_sessions (expires_at)`);
    // The live stream: statement-level triggers say which table changed, and for the tables of
    // applications the operation and which applications (`table/OP:id,…`; more than 100 ids is
    // "many", an empty list). One notification per statement and table (PostgreSQL folds
    // duplicates within a transaction); statements that change no row say nothing.
    await q.query(`
      CREATE FUNCTION axle_console_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM changed) THEN
          PERFORM pg_notify('axle_console', TG_TABLE_NAME);
        END IF;
        RETURN NULL;
      END $$`);
    for (const [table, column] of APP_TABLES) {
      for (const [op, transition] of OPS) {
        const fn = `axle_console_${table}_${op.toLowerCase()}`;
        await q.query(`
          CREATE FUNCTION ${fn}() RETURNS trigger LANGUAGE plpgsql AS $$
          DECLARE ids text[];
          BEGIN
            SELECT array_agg(x.id::text) INTO ids
              FROM (SELECT DISTINCT ${column} AS id FROM changed LIMIT 101) x;
            IF ids IS NULL THEN RETURN NULL; END IF;
            IF cardinality(ids) > 100 THEN ids := '{}'; END IF;
            PERFORM pg_notify('axle_console',
              TG_TABLE_NAME || '/' || TG_OP || ':' || array_to_string(ids, ','));
            RETURN NULL;
          END $$`);
        await q.query(`
          CREATE TRIGGER ${fn} AFTER ${op} ON ${table}
            REFERENCING ${transition} TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION ${fn}()`);
      }
    }
    for (const table of OTHER_TABLES) {
      for (const [op, transition] of OPS) {
        await q.query(`
          CREATE TRIGGER axle_console_${table}_${op.toLowerCase()} AFTER ${op} ON ${table}
            REFERENCING ${transition} TABLE AS changed
            FOR EACH STATEMENT EXECUTE FUNCTION axle_console_changed()`);
      }
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of OTHER_TABLES) {
      for (const [op] of OPS) {
        await q.query(`DROP TRIGGER axle_console_${table}_${op.toLowerCase()} ON ${table}`);
      }
    }
    for (const [table] of APP_TABLES) {
      for (const op of ['insert', 'update', 'delete']) {
        await q.query(`DROP TRIGGER axle_console_${table}_${op} ON ${table}`);
        await q.query(`DROP FUNCTION axle_console_${table}_${op}()`);
      }
    }
    await q.query('DROP FUNCTION axle_console_changed()');
    await q.query('DROP TABLE web_sessions');
  }
}
