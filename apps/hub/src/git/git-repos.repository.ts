import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Db } from '../database/sql.js';

/** Git repositories read by applications and generators (table `repositories`): refs last seen. */
@Injectable()
export class GitReposRepository {
  constructor(private readonly ds: DataSource) {}

  /** ref name → commit as last fetched by any replica, per repository (those known). */
  async refs(urls: string[]): Promise<Map<string, Record<string, string>>> {
    const rows = await this.ds.query<{ url: string; refs: Record<string, string> }[]>(
      'SELECT url, refs FROM repositories WHERE url = ANY($1)',
      [[...new Set(urls)]],
    );
    return new Map(rows.map((r) => [r.url, r.refs]));
  }

  async recordFetch(db: Db, url: string, refs: Record<string, string>): Promise<void> {
    await db.query(
      `INSERT INTO repositories (url, refs, last_error, last_fetched_at) VALUES ($1, $2, NULL, now())
       ON CONFLICT (url) DO UPDATE SET refs = EXCLUDED.refs, last_error = NULL, last_fetched_at = now(), updated_at = now()`,
      [url, JSON.stringify(refs)],
    );
  }

  async recordFailure(url: string, error: string): Promise<void> {
    await this.ds.query(
      `INSERT INTO repositories (url, last_error, last_fetched_at) VALUES ($1, $2, now())
       ON CONFLICT (url) DO UPDATE SET last_error = EXCLUDED.last_error, last_fetched_at = now(), updated_at = now()`,
      [url, error],
    );
  }

  /** Every repository some application or ApplicationSet generator reads. */
  async known(): Promise<string[]> {
    const rows = await this.ds.query<{ url: string }[]>(
      `SELECT spec->'source'->>'repoURL' AS url FROM applications
       UNION SELECT unnest(repos) FROM application_sets ORDER BY 1`,
    );
    return rows.map((r) => r.url).filter((u) => u && u !== '*');
  }
}
