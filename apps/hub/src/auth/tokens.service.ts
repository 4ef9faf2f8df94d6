import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { QueryFailedError } from 'typeorm';
import { AuditService } from '../audit/audit.service.js';
import { Conflict, NotFound } from '../common/validation.js';
import { hashToken, newToken } from '../common/tokens.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import type { ApiTokenEntity, Role } from './api-token.entity.js';
import { TokensRepository } from './tokens.repository.js';
import { currentActor } from './request-context.js';

export interface TokenView {
  name: string;
  role: Role;
  expiresAt: string | null;
  revoked: boolean;
  lastUsedAt: string | null;
  createdBy: string;
  createdAt: string;
}

export type Authentication =
  | { ok: true; name: string; role: Role; expiresAt?: Date | null }
  | {
      ok: false;
      reason: 'missing' | 'unknown' | 'expired' | 'revoked' | 'session-unknown' | 'session-expired';
    };

/**
 * API bearer tokens: created once (shown once, stored hashed), expiring, revocable, with a role.
 * At first start the hub makes an admin token and writes it to `<data dir>/admin-token` (0600),
 * unless AXLE_ADMIN_TOKEN provides one.
 */
@Injectable()
export class TokensService implements OnApplicationBootstrap {
  private readonly log = new Logger('Tokens');
  constructor(
    private readonly repo: TokensRepository,
    private readonly audit: AuditService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.adminToken) {
      const revoked = await this.repo.upsert({
        name: 'bootstrap-admin',
        role: 'admin',
        tokenHash: hashToken(this.config.adminToken),
        createdBy: 'AXLE_ADMIN_TOKEN',
      });
      if (revoked)
        this.log.warn(
          'AXLE_ADMIN_TOKEN was revoked (bootstrap-admin): it stays refused; set a new one',
        );
      return;
    }
    const admins = await this.repo.countActiveAdmins();
    if (admins > 0) return;
    const token = newToken('axle_api');
    await this.repo.insert({
      name: 'initial-admin',
      role: 'admin',
      tokenHash: hashToken(token),
      createdBy: 'hub',
    });
    mkdirSync(this.config.dataDir, { recursive: true });
    const file = join(this.config.dataDir, 'admin-token');
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    this.log.warn(
      `no admin API token existed: created one, written to ${file} (the CLI reads it from there)`,
    );
  }

  async authenticate(token: string | undefined): Promise<Authentication> {
    if (!token) return { ok: false, reason: 'missing' };
    const t = await this.repo.findByHash(hashToken(token));
    if (!t) return { ok: false, reason: 'unknown' };
    if (t.revokedAt) return { ok: false, reason: 'revoked' };
    if (t.expiresAt && t.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired' };
    if (!t.lastUsedAt || Date.now() - t.lastUsedAt.getTime() > 60_000) {
      await this.repo.touch(t.id);
    }
    return { ok: true, name: t.name, role: t.role, expiresAt: t.expiresAt };
  }

  async create(input: {
    name: string;
    role: Role;
    expiresInHours?: number;
  }): Promise<{ token: string; info: TokenView }> {
    const token = newToken('axle_api');
    const expiresAt = input.expiresInHours
      ? new Date(Date.now() + input.expiresInHours * 3_600_000)
      : null;
    try {
      await this.repo.insert({
        name: input.name,
        role: input.role,
        tokenHash: hashToken(token),
        expiresAt,
        createdBy: currentActor(),
      });
    } catch (e) {
      if (e instanceof QueryFailedError && (e as { code?: string }).code === '23505') {
        throw new Conflict(`API token "${input.name}" already exists`);
      }
      throw e;
    }
    const info = view(await this.get(input.name));
    await this.audit.record('token.create', 'ApiToken', input.name, undefined, info);
    return { token, info };
  }

  async list(): Promise<TokenView[]> {
    return (await this.repo.list()).map(view);
  }

  async revoke(name: string): Promise<void> {
    const t = await this.get(name);
    await this.repo.revoke(t.id);
    await this.audit.record('token.revoke', 'ApiToken', name, view(t), {
      ...view(t),
      revoked: true,
    });
  }

  private async get(name: string): Promise<ApiTokenEntity> {
    const t = await this.repo.findByName(name);
    if (!t) throw new NotFound(`API token "${name}" not found`);
    return t;
  }
}

function view(t: ApiTokenEntity): TokenView {
  return {
    name: t.name,
    role: t.role,
    expiresAt: t.expiresAt?.toISOString() ?? null,
    revoked: t.revokedAt !== null,
    lastUsedAt: t.lastUsedAt?.toISOString() ?? null,
    createdBy: t.createdBy,
    createdAt: t.createdAt.toISOString(),
  };
}
