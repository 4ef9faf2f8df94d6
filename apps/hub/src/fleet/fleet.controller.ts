import { Controller, Get, Req, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { readCookie, SESSION_COOKIE } from '../auth/cookies.js';
import { SessionsService } from '../auth/sessions.service.js';
import { TokensService } from '../auth/tokens.service.js';
import { FleetFeed, type ConsoleEvent } from './fleet.feed.js';
import { FleetService } from './fleet.service.js';

/** Open live streams per replica; more are refused (503) rather than starving the hub. */
const MAX_STREAMS = 1000;
const HEARTBEAT_MS = 15_000;
/** A stream checks its session or token this often and ends with it. */
const SESSION_CHECK_MS = 30_000;
/** A client this far behind is dropped; it reconnects and refetches. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;

@ApiTags('fleet')
@Controller('api/v1')
export class FleetController {
  constructor(
    private readonly fleet: FleetService,
    private readonly feed: FleetFeed,
    private readonly sessions: SessionsService,
    private readonly tokens: TokensService,
  ) {}

  /** @response FleetView */
  @Get('fleet')
  @ApiOperation({
    summary: 'Every application × cluster as compact cells (sync, health, drift, revision)',
  })
  async view(@Res() res: Response): Promise<void> {
    const json = await this.fleet.json();
    res.status(200).type('application/json').setHeader('Cache-Control', 'no-store').send(json);
  }

  @Get('stream')
  @ApiOperation({
    summary:
      'Server-sent events: changed fleet rows (`apps`) and what to refetch (`invalidate`), live',
  })
  stream(@Req() req: Request, @Res() res: Response): void {
    if (this.feed.size >= MAX_STREAMS) {
      throw new ServiceUnavailableException(
        `this hub serves ${MAX_STREAMS} live streams already; try another replica or later`,
      );
    }
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const send = (event: string, data: unknown) => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
    };
    send('ready', {});
    const unsubscribe = this.feed.subscribe(
      (e: ConsoleEvent) => send(e.type, e),
      () => res.end(),
    );
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    // The stream ends with its credentials: a session signed out or expired, a token revoked.
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const session = bearer ? undefined : readCookie(req, SESSION_COOKIE);
    const check = setInterval(() => {
      const auth = bearer
        ? this.tokens.authenticate(bearer)
        : this.sessions.authenticate(session ?? '');
      auth.then(
        (a) => {
          if (a.ok) return;
          send('signed-out', { reason: a.reason });
          res.end();
        },
        () => undefined,
      );
    }, SESSION_CHECK_MS);
    res.on('close', () => {
      unsubscribe();
      clearInterval(heartbeat);
      clearInterval(check);
    });
  }
}
