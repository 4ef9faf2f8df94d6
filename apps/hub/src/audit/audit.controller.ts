import { Controller, Get, Query } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { bigserialId, parseOrThrow } from '../common/validation.js';
import { AuditService } from './audit.service.js';

const querySchema = z
  .object({
    kind: z.string().max(64).optional(),
    name: z.string().max(253).optional(),
    actor: z.string().max(128).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
    before: bigserialId('an event id').optional(),
  })
  .strict();

@ApiTags('events')
@Controller('api/v1/events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiQuery({ name: 'kind', required: false })
  @ApiQuery({ name: 'name', required: false })
  @ApiQuery({ name: 'actor', required: false })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'before', required: false })
  list(@Query() query: unknown) {
    return this.audit.list(parseOrThrow(querySchema, query, 'query'));
  }
}
