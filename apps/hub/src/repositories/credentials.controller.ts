import { Body, Controller, Delete, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireRole } from '../auth/auth.guard.js';
import { parseOrThrow } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import { createCredentialSchema, deleteCredentialQuery } from './credentials.schemas.js';
import { CredentialsService } from './credentials.service.js';

@ApiTags('repositories')
@Controller('api/v1/repositories/credentials')
@RequireRole('admin')
export class CredentialsController {
  constructor(private readonly creds: CredentialsService) {}

  @Post()
  @ApiZodBody(createCredentialSchema)
  create(@Body() body: unknown) {
    return this.creds.create(parseOrThrow(createCredentialSchema, body, 'repository credentials'));
  }

  @Get()
  list() {
    return this.creds.list();
  }

  @Delete()
  @HttpCode(204)
  @ApiQuery({
    name: 'urlPrefix',
    required: true,
    description: 'the prefix the credentials are for',
  })
  async delete(@Query() query: unknown): Promise<void> {
    const { urlPrefix } = parseOrThrow(deleteCredentialQuery, query, 'query');
    await this.creds.delete(urlPrefix);
  }
}
