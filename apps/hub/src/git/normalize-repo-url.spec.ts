import { describe, expect, it } from 'vitest';
import { normalizeRepoUrl } from './git.service.js';

describe('normalizeRepoUrl', () => {
  it('compares repository URLs without credentials, trailing slashes, .git or host case', () => {
    expect(normalizeRepoUrl(' https://User:pw@GitHub.com/Org/Repo.git/// ')).toBe(
      'https://github.com/Org/Repo',
    );
    expect(normalizeRepoUrl('file:///srv/repo/')).toBe('file:///srv/repo');
    expect(normalizeRepoUrl('///')).toBe('');
  });

  it('takes time in the length of the URL, also for a long run of slashes not at its end', () => {
    // What anyone may send to the git webhook: /\/+$/ took seconds over this.
    const started = performance.now();
    expect(normalizeRepoUrl(`${'/'.repeat(200_000)}x`)).toBe(`${'/'.repeat(200_000)}x`);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
