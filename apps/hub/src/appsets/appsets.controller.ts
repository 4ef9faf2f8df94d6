import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { parseOrThrow } from '../common/validation.js';
import { AppSetPreviewService } from './appset-preview.service.js';
import { AppSetsService } from './appsets.service.js';

const APPSET_BODY = ApiBody({
  description:
    "An Argo CD `argoproj.io/v1alpha1` ApplicationSet (JSON, or YAML with Content-Type application/yaml) or Axle's JSON form `{name, spec}`",
  schema: { type: 'object' },
});

const previewQuerySchema = z
  .object({
    revision: z
      .string()
      .min(1)
      .max(255)
      .regex(/^[A-Za-z0-9._/-]+$/, 'must be a branch, tag or commit SHA')
      .refine(
        (r) => !r.startsWith('-') && !r.includes('..'),
        'must be a branch, tag or commit SHA',
      ),
    repo: z.string().min(1).max(2048).optional(),
  })
  .strict();

@ApiTags('applicationsets')
@Controller('api/v1/applicationsets')
export class AppSetsController {
  constructor(
    private readonly appsets: AppSetsService,
    private readonly previews: AppSetPreviewService,
  ) {}

  @Post()
  @APPSET_BODY
  @ApiOperation({
    summary: 'Create an ApplicationSet; unsupported fields come back as warnings, by path',
  })
  create(@Body() body: unknown) {
    return this.appsets.create(body);
  }

  @Post('dry-run')
  @HttpCode(200)
  @APPSET_BODY
  @ApiOperation({
    summary:
      'Generate without applying: the applications and what would be created, updated, deleted',
  })
  dryRun(@Body() body: unknown) {
    return this.appsets.dryRun(body);
  }

  @Get()
  list() {
    return this.appsets.list();
  }

  @Get(':name')
  get(@Param('name') name: string) {
    return this.appsets.get(name);
  }

  @Put(':name')
  @APPSET_BODY
  update(@Param('name') name: string, @Body() body: unknown) {
    return this.appsets.update(name, body);
  }

  @Delete(':name')
  @HttpCode(204)
  async delete(@Param('name') name: string): Promise<void> {
    await this.appsets.delete(name);
  }

  @Post(':name/confirm-deletion')
  @HttpCode(200)
  @ApiOperation({ summary: 'Confirm the deletions held back by the mass-deletion guard' })
  confirm(@Param('name') name: string) {
    return this.appsets.confirmDeletion(name);
  }

  @Get(':name/diff')
  @ApiOperation({
    summary:
      'Fleet-wide preview of a revision: apps added/removed, resources and fields changed per cluster, and how far each change reaches',
  })
  @ApiQuery({ name: 'revision', required: true })
  @ApiQuery({ name: 'repo', required: false })
  diff(@Param('name') name: string, @Query() query: unknown) {
    const q = parseOrThrow(previewQuerySchema, query, 'diff query');
    return this.previews.preview(name, q.revision, q.repo);
  }

  @Post(':name/refresh')
  @HttpCode(202)
  async refresh(@Param('name') name: string): Promise<void> {
    await this.appsets.refresh(name);
  }
}
