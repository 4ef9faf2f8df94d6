import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { Conflict, NotFound, ValidationFailed } from './validation.js';

/**
 * The hub's one exception filter. Client mistakes become 4xx with a message that names the
 * field or resource; anything unexpected is logged with its stack and answered with a bare 500.
 */
@Catch()
export class HubExceptionFilter implements ExceptionFilter {
  private readonly log = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = this.toResponse(exception);
    // Deliberate answers (HttpException, e.g. 502 from a destination) are not the hub's faults.
    if (status >= 500 && !(exception instanceof HttpException))
      this.log.error((exception as Error)?.stack ?? String(exception));
    res.status(status).json(body);
  }

  private toResponse(e: unknown): { status: number; body: Record<string, unknown> } {
    if (e instanceof ValidationFailed) {
      return {
        status: 400,
        body: { statusCode: 400, error: 'Bad Request', message: e.message, fields: e.fields },
      };
    }
    if (e instanceof NotFound) return plain(404, 'Not Found', e.message);
    if (e instanceof Conflict) return plain(409, 'Conflict', e.message);
    if (e instanceof HttpException) {
      const status = e.getStatus();
      const r = e.getResponse();
      return {
        status,
        body:
          typeof r === 'object'
            ? (r as Record<string, unknown>)
            : { statusCode: status, message: r },
      };
    }
    // body-parser and friends mark client errors with a 4xx status (bad JSON, too large, …).
    const s =
      (e as { status?: unknown; statusCode?: unknown })?.status ??
      (e as { statusCode?: unknown })?.statusCode;
    if (typeof s === 'number' && s >= 400 && s < 500) {
      const type = (e as { type?: string }).type;
      const message =
        type === 'entity.parse.failed'
          ? `request body is not valid JSON: ${(e as Error).message}`
          : type === 'entity.too.large'
            ? 'request body is too large'
            : (e as Error).message;
      return plain(s, HttpStatus[s] ?? 'Bad Request', message);
    }
    // PostgreSQL refused a value of the request itself (SQLSTATE class 22, data exception: NUL in
    // a name or text, a malformed id): the client's mistake, with PostgreSQL's reason.
    const code = (e as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && code.startsWith('22')) {
      return plain(
        400,
        'Bad Request',
        `a value in the request cannot be stored: ${(e as Error).message}`,
      );
    }
    return plain(500, 'Internal Server Error', 'internal error');
  }
}

function plain(status: number, error: string, message: string) {
  return { status, body: { statusCode: status, error, message } };
}
