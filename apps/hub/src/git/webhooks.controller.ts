import { Public } from '../auth/auth.guard.js';
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { parseOrThrow } from '../common/validation.js';
import { GitService, normalizeRepoUrl } from './git.service.js';

/** Accepts `{repoURL}` or a GitHub / GitLab / Gitea push payload (repository URLs in it). */
const webhookSchema = z.looseObject({
  repoURL: z.string().max(2048).optional(),
  repository: z
    .looseObject({
      clone_url: z.string().optional(),
      html_url: z.string().optional(),
      ssh_url: z.string().optional(),
      git_http_url: z.string().optional(),
      git_ssh_url: z.string().optional(),
      url: z.string().optional(),
    })
    .optional(),
  project: z
    .looseObject({ git_http_url: z.string().optional(), git_ssh_url: z.string().optional() })
    .optional(),
});

@ApiTags('webhooks')
@Public()
@Controller('api/v1/webhooks')
export class WebhooksController {
  constructor(private readonly git: GitService) {}

  @Post('git')
  @HttpCode(202)
  @ApiOperation({ summary: 'Refresh the repositories a push names, now' })
  async push(@Body() body: unknown): Promise<{ refreshed: string[] }> {
    const b = parseOrThrow(webhookSchema, body ?? {}, 'webhook');
    const named = [
      b.repoURL,
      ...Object.values(b.repository ?? {}),
      b.project?.git_http_url,
      b.project?.git_ssh_url,
    ].filter((u): u is string => typeof u === 'string' && u.length > 0);
    const wanted = new Set(named.map(normalizeRepoUrl));
    const known = await this.git.knownRepositories();
    const matches = known.filter((u) => wanted.has(normalizeRepoUrl(u)));
    await Promise.all(matches.map((u) => this.git.refresh(u)));
    return { refreshed: matches };
  }
}
