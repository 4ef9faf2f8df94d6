import { Public } from '../auth/auth.guard.js';
import {
  Body,
  Controller,
  HttpCode,
  Inject,
  Logger,
  OnModuleInit,
  Post,
  Req,
  UnauthorizedException,
} from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { parseOrThrow } from '../common/validation.js';
import { GitService, normalizeRepoUrl } from './git.service.js';

/** Longest repository URL a push may name (as long as an application's `repoURL` may be). */
const MAX_URL = 2048;
const url = z.string().max(MAX_URL).optional();

/** Accepts `{repoURL}` or a GitHub / GitLab / Gitea push payload (repository URLs in it). */
const webhookSchema = z.looseObject({
  repoURL: url,
  repository: z
    .looseObject({
      clone_url: url,
      html_url: url,
      ssh_url: url,
      git_http_url: url,
      git_ssh_url: url,
      url,
    })
    .optional(),
  project: z.looseObject({ git_http_url: url, git_ssh_url: url }).optional(),
});

@ApiTags('webhooks')
@Public()
@Controller('api/v1/webhooks')
export class WebhooksController implements OnModuleInit {
  private readonly log = new Logger('Webhooks');

  constructor(
    private readonly git: GitService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  onModuleInit(): void {
    if (!this.config.webhookSecret)
      this.log.warn(
        'git webhooks are taken unsigned (AXLE_WEBHOOK_SECRET is not set): anyone who reaches the hub can make it fetch the repositories it knows, and learn which those are',
      );
  }

  @Post('git')
  @HttpCode(202)
  @ApiOperation({ summary: 'Refresh the repositories a push names, now' })
  async push(
    @Body() body: unknown,
    @Req() req: Request & { rawBody?: Buffer },
  ): Promise<{ refreshed: string[] }> {
    if (this.config.webhookSecret) verifySignature(req, this.config.webhookSecret);
    const b = parseOrThrow(webhookSchema, body ?? {}, 'webhook');
    const named = [
      b.repoURL,
      ...Object.values(b.repository ?? {}),
      b.project?.git_http_url,
      b.project?.git_ssh_url,
    ].filter((u): u is string => typeof u === 'string' && u.length > 0 && u.length <= MAX_URL);
    const wanted = new Set(named.map(normalizeRepoUrl));
    const known = await this.git.knownRepositories();
    const matches = known.filter((u) => wanted.has(normalizeRepoUrl(u)));
    await Promise.all(matches.map((u) => this.git.refresh(u)));
    // Named as the caller named them: a stored URL's user part (a credential) is not echoed.
    return { refreshed: matches.map(withoutUserInfo) };
  }
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * With a webhook secret configured, a push must prove it: GitHub's `X-Hub-Signature-256`
 * (`sha256=` + HMAC of the body), Gitea's `X-Gitea-Signature` (hex HMAC), or GitLab's
 * `X-Gitlab-Token` (the secret itself).
 */
function verifySignature(req: Request & { rawBody?: Buffer }, secret: string): void {
  const raw = req.rawBody ?? Buffer.alloc(0);
  const hmac = createHmac('sha256', secret).update(raw).digest('hex');
  const github = req.header('x-hub-signature-256');
  const gitea = req.header('x-gitea-signature');
  const gitlab = req.header('x-gitlab-token');
  const ok =
    (github !== undefined && sameText(github, `sha256=${hmac}`)) ||
    (gitea !== undefined && sameText(gitea, hmac)) ||
    (gitlab !== undefined && sameText(gitlab, secret));
  if (!ok) {
    throw new UnauthorizedException(
      github || gitea || gitlab
        ? 'webhook signature does not match'
        : 'webhook signature missing (X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token)',
    );
  }
}

/** `url` without `user[:password]@` after its scheme. */
export function withoutUserInfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
