import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { returned } from '../database/sql.js';

/** The replicas alive on this database (table `hub_replicas`). */
@Injectable()
export class ReplicasRepository {
  constructor(private readonly ds: DataSource) {}

  async heartbeat(id: string, info: Record<string, unknown>): Promise<void> {
    await this.ds.query(
      `INSERT INTO hub_replicas (id, info) VALUES ($1, $2)
       ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), info = EXCLUDED.info`,
      [id, JSON.stringify(info)],
    );
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
