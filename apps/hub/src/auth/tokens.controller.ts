import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { dns1123Label, parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import { RequireRole } from './auth.guard.js';
import { TokensService } from './tokens.service.js';

const createTokenSchema = z
  .object({
    name: dns1123Label,
    role: z.enum(['admin', 'readonly']),
    expiresInHours: z
      .number()
      .positive()
      .max(24 * 366)
      .optional(),
  })
  .strict();

@ApiTags('tokens')
@Controller('api/v1/tokens')
@RequireRole('admin')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  @Post()
  @ApiZodBody(createTokenSchema)
  create(@Body() body: unknown) {
    return this.tokens.create(parseOrThrow(createTokenSchema, body, 'API token'));
  }

  @Get()
  list() {
    return this.tokens.list();
  }

  @Delete(':name')
  @HttpCode(204)
  async revoke(@Param('name') name: string): Promise<void> {
    await this.tokens.revoke(name);
  }
}
