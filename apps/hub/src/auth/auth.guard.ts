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
import { setActor } from './request-context.js';
import { TokensService } from './tokens.service.js';

const PUBLIC = 'axle:public';
const ROLE = 'axle:role';

/** No token needed (health, readiness, metrics, git webhooks). */
export const Public = () => SetMetadata(PUBLIC, true);
/** Require this role whatever the HTTP method. */
export const RequireRole = (role: Role) => SetMetadata(ROLE, role);

const MESSAGES = {
  missing: 'an API token is required: send "Authorization: Bearer <token>"',
  unknown: 'invalid API token',
  expired: 'the API token has expired',
  revoked: 'the API token has been revoked',
} as const;

/**
 * Every API route needs a bearer token: reading needs any role, changing anything needs admin.
 * 401 for a missing, unknown, expired or revoked token; 403 when the role does not allow it.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly log = new Logger('Auth');

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const auth = await this.tokens.authenticate(token);
    if (!auth.ok) {
      this.log.warn(
        `${req.method} ${req.path} refused: ${MESSAGES[auth.reason]} (${req.ip ?? 'unknown address'})`,
      );
      throw new UnauthorizedException(MESSAGES[auth.reason]);
    }
    setActor(`token:${auth.name}`);
    const needed: Role =
      this.reflector.getAllAndOverride<Role>(ROLE, targets) ??
      (['GET', 'HEAD'].includes(req.method) ? 'readonly' : 'admin');
    if (needed === 'admin' && auth.role !== 'admin') {
      this.log.warn(`${req.method} ${req.path} refused: token "${auth.name}" is ${auth.role}`);
      throw new ForbiddenException(`token "${auth.name}" has role ${auth.role}; this needs admin`);
    }
    return true;
  }
}
