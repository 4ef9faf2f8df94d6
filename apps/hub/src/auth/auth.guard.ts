import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  Logger,
  SetMetadata,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Role } from './api-token.entity.js';
import { CONSOLE_HEADER, readCookie, SESSION_COOKIE } from './cookies.js';
import { setActor } from './request-context.js';
import { SESSION_MESSAGES, SessionsService } from './sessions.service.js';
import { TokensService, type Authentication } from './tokens.service.js';

const PUBLIC = 'axle:public';
const ROLE = 'axle:role';

/** Who a request acts as, set by the guard. */
export interface AuthenticatedRequest extends Request {
  auth?: { name: string; role: Role; expiresAt: string | null };
}

/** No token needed (health, readiness, metrics, git webhooks). */
export const Public = () => SetMetadata(PUBLIC, true);
/** Require this role whatever the HTTP method. */
export const RequireRole = (role: Role) => SetMetadata(ROLE, role);

const MESSAGES = SESSION_MESSAGES;

/**
 * Every API route needs a bearer token, or the web console's session cookie: reading needs any
 * role, changing anything needs admin. 401 for a missing, unknown, expired or revoked token or
 * session; 403 when the role does not allow it. A request authenticated by the cookie alone
 * must also carry the console's header to change anything (SameSite=Strict is the first guard
 * against cross-site requests; a custom header cannot be sent cross-site without CORS).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly log = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
    private readonly sessions: SessionsService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const auth = await this.authenticate(req);
    if (!auth.ok) {
      this.log.warn(
        `${req.method} ${req.path} refused: ${MESSAGES[auth.reason]} (${req.ip ?? 'unknown address'})`,
      );
      throw new UnauthorizedException(MESSAGES[auth.reason]);
    }
    setActor(`token:${auth.name}`);
    (req as AuthenticatedRequest).auth = {
      name: auth.name,
      role: auth.role,
      expiresAt: auth.expiresAt?.toISOString() ?? null,
    };
    const reading = ['GET', 'HEAD'].includes(req.method);
    if (auth.cookie && !reading && req.headers[CONSOLE_HEADER] !== '1') {
      throw new ForbiddenException(
        `a request authenticated by the session cookie must carry "${CONSOLE_HEADER}: 1"`,
      );
    }
    const needed: Role =
      this.reflector.getAllAndOverride<Role>(ROLE, targets) ?? (reading ? 'readonly' : 'admin');
    if (needed === 'admin' && auth.role !== 'admin') {
      this.log.warn(`${req.method} ${req.path} refused: token "${auth.name}" is ${auth.role}`);
      throw new ForbiddenException(`token "${auth.name}" has role ${auth.role}; this needs admin`);
    }
    return true;
  }

  /** The bearer token when one is sent, else the session cookie. */
  private async authenticate(req: Request): Promise<Authentication & { cookie?: boolean }> {
    const header = req.headers.authorization;
    if (header) return this.tokens.authenticate(/^Bearer\s+(\S+)$/i.exec(header)?.[1]);
    const session = readCookie(req, SESSION_COOKIE);
    if (!session) return { ok: false, reason: 'missing' };
    return { ...(await this.sessions.authenticate(session)), cookie: true };
  }
}
