import { describe, expect, it } from 'vitest';
import { ValidationFailed } from '../common/validation.js';
import type { HubConfig } from '../config/hub-config.js';
import type { GitService } from './git.service.js';
import { WebhooksController, withoutUserInfo } from './webhooks.controller.js';

describe('withoutUserInfo', () => {
  it('drops a URL user part (a credential) before it is echoed to a webhook caller', () => {
    expect(withoutUserInfo('https://bot:ghp_secret@github.com/org/repo')).toBe(
      'https://github.com/org/repo',
    );
    expect(withoutUserInfo('ssh://git@github.com/org/repo.git')).toBe(
      'ssh://github.com/org/repo.git',
    );
    expect(withoutUserInfo('https://github.com/org/a@b')).toBe('https://github.com/org/a@b');
    expect(withoutUserInfo('git@github.com:org/repo.git')).toBe('git@github.com:org/repo.git');
  });
});

describe('WebhooksController.push', () => {
  const refreshed: string[] = [];
  const controller = new WebhooksController(
    {
      knownRepositories: () => Promise.resolve(['https://github.com/org/repo.git']),
      refresh: (u: string) => (refreshed.push(u), Promise.resolve()),
    } as unknown as GitService,
    { webhookSecret: undefined } as unknown as HubConfig,
  );
  const push = (body: unknown) => controller.push(body, {} as never);

  it('refreshes the repository a push names, in any of its URL forms', async () => {
    await expect(
      push({ repository: { html_url: 'https://GitHub.com/org/repo/' } }),
    ).resolves.toEqual({ refreshed: ['https://github.com/org/repo.git'] });
  });

  it('refuses a URL longer than 2048 characters, naming the field', async () => {
    const err = await push({ repository: { clone_url: `https://x/${'a'.repeat(3000)}` } }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationFailed);
    expect((err as ValidationFailed).fields.map((f) => f.field)).toEqual(['repository.clone_url']);
  });

  it('ignores other long strings in the payload, in time in their length', async () => {
    const started = performance.now();
    await expect(
      push({ repository: { name: `${'/'.repeat(200_000)}x`, clone_url: 'https://x/y' } }),
    ).resolves.toEqual({ refreshed: [] });
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
