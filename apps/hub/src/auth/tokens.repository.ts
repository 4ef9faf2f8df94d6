import { Injectable } from '@nestjs/common';
import { DataSource, IsNull, type Repository } from 'typeorm';
import { ApiTokenEntity } from './api-token.entity.js';

/** API tokens (table `api_tokens`), stored by hash. */
@Injectable()
export class TokensRepository {
  private readonly repo: Repository<ApiTokenEntity>;

  constructor(ds: DataSource) {
    this.repo = ds.getRepository(ApiTokenEntity);
  }

  /** Inserts, or replaces the hash, role and validity of the token with this name. */
  async upsert(
    t: Pick<ApiTokenEntity, 'name' | 'role' | 'tokenHash' | 'createdBy'>,
  ): Promise<void> {
    await this.repo
      .createQueryBuilder()
      .insert()
      .values(t)
      .orUpdate(['token_hash', 'role', 'revoked_at', 'expires_at'], ['name'])
      .execute();
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
