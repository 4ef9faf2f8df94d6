import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Notifications1765200000000 implements MigrationInterface {
  name = 'Notifications1765200000000';

  async up(q: QueryRunner): Promise<void> {
    // Where messages go. Secret parts (webhook HMAC secret, Slack/Teams URLs, SMTP password) are
    // sealed with the hub's SecretBox, like repository credentials.
    await q.query(`
      CREATE TABLE notification_destinations (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(63) NOT NULL UNIQUE,
        type varchar(16) NOT NULL,
        config jsonb NOT NULL DEFAULT '{}',
        secret_sealed text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Who hears what: triggers, a selector (project, application, appset, cluster labels), a
    // message template and the window in which repeated events collapse into one summary.
    await q.query(`
      CREATE TABLE notification_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name varchar(63) NOT NULL UNIQUE,
        destination_id uuid NOT NULL REFERENCES notification_destinations(id) ON DELETE RESTRICT,
        spec jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // What was last noticed per trigger and subject (level-triggered detection: an event fires
    // when this changes, once, whichever replica looks and however often the hub restarts).
    await q.query(`
      CREATE TABLE notification_state (
        key text PRIMARY KEY,
        value text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // The outbox: one row per message to send, written in the transaction that notices the event.
    await q.query(`
      CREATE TABLE notification_deliveries (
        id bigserial PRIMARY KEY,
        idempotency_key varchar(64) NOT NULL UNIQUE,
        group_key text NOT NULL,
        subscription_id uuid REFERENCES notification_subscriptions(id) ON DELETE SET NULL,
        subscription varchar(63) NOT NULL,
        destination_id uuid NOT NULL REFERENCES notification_destinations(id) ON DELETE CASCADE,
        trigger varchar(48) NOT NULL,
        event jsonb NOT NULL,
        count integer NOT NULL DEFAULT 1,
        first_at timestamptz NOT NULL DEFAULT now(),
        last_at timestamptz NOT NULL DEFAULT now(),
        status varchar(16) NOT NULL DEFAULT 'Pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        last_error text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz
      )`);
    await q.query(
      `CREATE INDEX notification_deliveries_due ON notification_deliveries (next_attempt_at) WHERE status = 'Pending'`,
    );
    await q.query(
      `CREATE INDEX notification_deliveries_group ON notification_deliveries (group_key, created_at DESC)`,
    );
    await q.query(`CREATE INDEX app_targets_updated_idx ON app_targets (updated_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX app_targets_updated_idx');
    await q.query('DROP TABLE notification_deliveries');
    await q.query('DROP TABLE notification_state');
    await q.query('DROP TABLE notification_subscriptions');
    await q.query('DROP TABLE notification_destinations');
  }
}
