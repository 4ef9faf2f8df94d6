import { Injectable } from '@nestjs/common';
import { DataSource, IsNull, type Repository } from 'typeorm';
import { ApiTokenEntity } from './api-token.entity.js';

/** API tokens (table `api_tokens`), stored by hash. */
@Injectable()
export class TokensRepository {
  private readonly repo: Repository<ApiTokenEntity>;

  constructor(private readonly ds: DataSource) {
    this.repo = ds.getRepository(ApiTokenEntity);
  }

  /**
   * Inserts, or replaces the hash and role of the token with this name. A new secret is valid
   * again (not revoked, no expiry); the same secret keeps its revocation: a token revoked through
   * the API stays revoked whatever restarts with it in its configuration. Returns whether the
   * token is revoked.
   */
  async upsert(
    t: Pick<ApiTokenEntity, 'name' | 'role' | 'tokenHash' | 'createdBy'>,
  ): Promise<boolean> {
    const rows = await this.ds.query<{ revoked: boolean }[]>(
      `INSERT INTO api_tokens (name, role, token_hash, created_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, token_hash = EXCLUDED.token_hash,
         revoked_at = CASE WHEN api_tokens.token_hash = EXCLUDED.token_hash THEN api_tokens.revoked_at END,
         expires_at = CASE WHEN api_tokens.token_hash = EXCLUDED.token_hash THEN api_tokens.expires_at END
       RETURNING revoked_at IS NOT NULL AS revoked`,
      [t.name, t.role, t.tokenHash, t.createdBy],
    );
    return rows[0]?.revoked ?? false;
  }

  async insert(
    t: Pick<ApiTokenEntity, 'name' | 'role' | 'tokenHash' | 'createdBy'> & {
      expiresAt?: Date | null;
    },
  ): Promise<void> {
    await this.repo.insert(t);
  }

  countActiveAdmins(): Promise<number> {
    return this.repo.countBy({ role: 'admin', revokedAt: IsNull() });
  }

  findByHash(tokenHash: string): Promise<ApiTokenEntity | null> {
    return this.repo.findOneBy({ tokenHash });
  }

  findByName(name: string): Promise<ApiTokenEntity | null> {
    return this.repo.findOneBy({ name });
  }

  list(): Promise<ApiTokenEntity[]> {
    return this.repo.find({ order: { name: 'ASC' } });
  }

  async touch(id: string): Promise<void> {
    await this.repo.update({ id }, { lastUsedAt: new Date() });
  }

  async revoke(id: string): Promise<void> {
    await this.repo.update({ id }, { revokedAt: new Date() });
  }
}
