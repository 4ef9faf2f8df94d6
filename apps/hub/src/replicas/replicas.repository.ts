import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { returned } from '../database/sql.js';

/** The recorded backend of replica row `h` is running on the server. */
const RUNNING = `SELECT 1 FROM pg_stat_activity s WHERE s.pid = h.backend_pid
                   AND (s.backend_start IS NULL OR s.backend_start = h.backend_start)`;

/** The replicas alive on this database (table `hub_replicas`). */
@Injectable()
export class ReplicasRepository {
  constructor(private readonly ds: DataSource) {}

  /** Says replica `id` is alive, with the server process of its listening connection. */
  async heartbeat(
    id: string,
    info: Record<string, unknown>,
    backend?: { pid: number; start: string },
  ): Promise<void> {
    await this.ds.query(
      `INSERT INTO hub_replicas (id, info, backend_pid, backend_start)
       VALUES ($1, $2, $3, $4::timestamptz)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), info = EXCLUDED.info,
         backend_pid = EXCLUDED.backend_pid, backend_start = EXCLUDED.backend_start`,
      [id, JSON.stringify(info), backend?.pid ?? null, backend?.start ?? null],
    );
  }

  /**
   * Replicas (never `self`) whose recorded listening backend the server no longer runs, each with
   * that backend as a key (pid alone when the server hides other users' start times). Nothing
   * when `own`, the caller's listening backend, is not running either: its view is stale.
   */
  async backendsGone(
    self: string,
    own: { pid: number; start: string },
  ): Promise<{ id: string; backend: string }[]> {
    return this.ds.query(
      `SELECT h.id, h.backend_pid || '@' || h.backend_start::text AS backend FROM hub_replicas h
        WHERE h.id <> $1 AND h.backend_pid IS NOT NULL AND NOT EXISTS (${RUNNING})
          AND EXISTS (SELECT 1 FROM pg_stat_activity m WHERE m.pid = $2 AND m.backend_start = $3::timestamptz)`,
      [self, own.pid, own.start],
    );
  }

  /**
   * Removes the replicas of `gone` whose recorded backend is still that key and still not running
   * (checked again here: one that re-registered meanwhile stays); returns their ids.
   */
  async removeGone(self: string, gone: { id: string; backend: string }[]): Promise<string[]> {
    if (gone.length === 0) return [];
    return returned<{ id: string }>(
      await this.ds.query(
        `DELETE FROM hub_replicas h USING unnest($2::text[], $3::text[]) AS g(id, backend)
          WHERE h.id = g.id AND h.id <> $1 AND h.backend_pid || '@' || h.backend_start::text = g.backend
            AND NOT EXISTS (${RUNNING}) RETURNING h.id`,
        [self, gone.map((g) => g.id), gone.map((g) => g.backend)],
      ),
    ).map((r) => r.id);
  }

  /** Removes replicas silent for longer than `staleSeconds` (never `self`); returns their ids. */
  async removeStale(self: string, staleSeconds: number): Promise<string[]> {
    return returned<{ id: string }>(
      await this.ds.query(
        `DELETE FROM hub_replicas WHERE id <> $1 AND heartbeat_at < now() - make_interval(secs => $2) RETURNING id`,
        [self, staleSeconds],
      ),
    ).map((r) => r.id);
  }

  async remove(id: string): Promise<void> {
    await this.ds.query('DELETE FROM hub_replicas WHERE id = $1', [id]);
  }

  async list(): Promise<{ id: string; startedAt: Date; heartbeatAt: Date; info: unknown }[]> {
    const rows = await this.ds.query<
      { id: string; started_at: Date; heartbeat_at: Date; info: unknown }[]
    >('SELECT id, started_at, heartbeat_at, info FROM hub_replicas ORDER BY started_at');
    return rows.map((r) => ({
      id: r.id,
      startedAt: r.started_at,
      heartbeatAt: r.heartbeat_at,
      info: r.info,
    }));
  }
}
