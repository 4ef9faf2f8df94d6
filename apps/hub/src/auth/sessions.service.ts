import { Injectable, UnauthorizedException } from '@nestjs/common';
import { hashToken, newToken } from '../common/tokens.js';
import { AuditService } from '../audit/audit.service.js';
import type { Role } from './api-token.entity.js';
import { SessionsRepository } from './sessions.repository.js';
import { TokensService, type Authentication } from './tokens.service.js';
import { runWithActor } from './request-context.js';

/** The longest a web console session lasts (never beyond its token). */
export const SESSION_HOURS = 12;

export interface SessionView {
  name: string;
  role: Role;
  expiresAt: string;
}

export const SESSION_MESSAGES = {
  missing: 'an API token is required: send "Authorization: Bearer <token>" or sign in',
  unknown: 'invalid API token',
  expired: 'the API token has expired',
  revoked: 'the API token has been revoked',
  'session-unknown': 'the session is not known (signed out?): sign in again',
  'session-expired': 'the session has expired: sign in again',
} as const;

/**
 * Web console sign-in: an API token typed once is exchanged for a session id carried by an
 * HttpOnly, SameSite=Strict cookie. The session acts with the token's name and role and ends
 * when it expires, at sign-out, or when its token is revoked or expires.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly repo: SessionsRepository,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
  ) {}

  async start(token: string): Promise<{ id: string; session: SessionView }> {
    const auth = await this.tokens.authenticate(token);
    if (!auth.ok) throw new UnauthorizedException(SESSION_MESSAGES[auth.reason]);
    await this.repo.deleteExpired();
    const id = newToken('axle_session');
    let expires = Date.now() + SESSION_HOURS * 3_600_000;
    if (auth.expiresAt) expires = Math.min(expires, auth.expiresAt.getTime());
    const expiresAt = new Date(expires);
    await this.repo.insert(hashToken(id), hashToken(token), expiresAt);
    const session = { name: auth.name, role: auth.role, expiresAt: expiresAt.toISOString() };
    await runWithActor(`token:${auth.name}`, () =>
      this.audit.record('session.start', 'ApiToken', auth.name, undefined, session),
    );
    return { id, session };
  }

  async authenticate(id: string): Promise<Authentication & { expiresAt?: Date | null }> {
    const s = await this.repo.find(hashToken(id));
    if (!s) return { ok: false, reason: 'session-unknown' };
    if (s.expiresAt.getTime() <= Date.now()) {
      await this.repo.delete(hashToken(id));
      return { ok: false, reason: 'session-expired' };
    }
    if (s.revokedAt) return { ok: false, reason: 'revoked' };
    if (s.tokenExpiresAt && s.tokenExpiresAt.getTime() <= Date.now())
      return { ok: false, reason: 'expired' };
    return { ok: true, name: s.name, role: s.role, expiresAt: s.expiresAt };
  }

  async end(id: string): Promise<void> {
    await this.repo.delete(hashToken(id));
  }
}
