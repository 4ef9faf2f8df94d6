import { describe, expect, it } from 'vitest';
import { withoutUserInfo } from './webhooks.controller.js';

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
