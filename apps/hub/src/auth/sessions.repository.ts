import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Role } from './api-token.entity.js';

export interface SessionRow {
  name: string;
  role: Role;
  revokedAt: Date | null;
  tokenExpiresAt: Date | null;
  expiresAt: Date;
}

/** Web console sessions (table `web_sessions`), stored by the hash of their id. */
@Injectable()
export class SessionsRepository {
  constructor(private readonly ds: DataSource) {}

  async insert(idHash: string, tokenHash: string, expiresAt: Date): Promise<void> {
    await this.ds.query(
      `INSERT INTO web_sessions (id_hash, token_id, expires_at)
       SELECT $1, id, $3 FROM api_tokens WHERE token_hash = $2`,
      [idHash, tokenHash, expiresAt],
    );
  }

  /** The session with its token, or undefined; sessions past their end are removed on the way. */
  async find(idHash: string): Promise<SessionRow | undefined> {
    const rows = await this.ds.query<
      {
        name: string;
        role: Role;
        revoked_at: Date | null;
        token_expires_at: Date | null;
        expires_at: Date;
      }[]
    >(
      `SELECT t.name, t.role, t.revoked_at, t.expires_at AS token_expires_at, s.expires_at
         FROM web_sessions s JOIN api_tokens t ON t.id = s.token_id
        WHERE s.id_hash = $1`,
      [idHash],
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      name: r.name,
      role: r.role,
      revokedAt: r.revoked_at,
      tokenExpiresAt: r.token_expires_at,
      expiresAt: r.expires_at,
    };
  }

  async delete(idHash: string): Promise<void> {
    await this.ds.query('DELETE FROM web_sessions WHERE id_hash = $1', [idHash]);
  }

  async deleteExpired(): Promise<void> {
    await this.ds.query('DELETE FROM web_sessions WHERE expires_at <= now()');
  }
}
