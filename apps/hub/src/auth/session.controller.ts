import { Body, Controller, Delete, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import { type AuthenticatedRequest, Public } from './auth.guard.js';
import { readCookie, SESSION_COOKIE, writeSessionCookie } from './cookies.js';
import { SessionsService } from './sessions.service.js';

const signInSchema = z.object({ token: z.string().min(1).max(512) }).strict();

@ApiTags('session')
@Controller('api/v1/session')
export class SessionController {
  constructor(private readonly sessions: SessionsService) {}

  @Post()
  @Public()
  @ApiOperation({ summary: 'Sign in to the web console: an API token for a session cookie' })
  @ApiZodBody(signInSchema)
  async signIn(
    @Body() body: unknown,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const { token } = parseOrThrow(signInSchema, body, 'sign-in');
    const { id, session } = await this.sessions.start(token);
    writeSessionCookie(req, res, id, (Date.parse(session.expiresAt) - Date.now()) / 1000);
    return session;
  }

  @Get()
  @ApiOperation({ summary: 'Who the request acts as (token name, role, expiry)' })
  whoAmI(@Req() req: AuthenticatedRequest) {
    return req.auth;
  }

  @Delete()
  @Public()
  @HttpCode(204)
  @ApiOperation({ summary: 'Sign out: ends the session and clears its cookie' })
  async signOut(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<void> {
    const id = readCookie(req, SESSION_COOKIE);
    if (id) await this.sessions.end(id);
    writeSessionCookie(req, res, '', 0);
  }
}
