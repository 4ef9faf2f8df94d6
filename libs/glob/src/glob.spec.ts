import { describe, expect, it } from 'vitest';
import { globMatch, repoMatch } from './glob.js';

const escape = (p: string) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
/** What these globs meant when they were regular expressions (exponential, fine on small input). */
const globRegExp = (pattern: string) =>
  new RegExp(`^${pattern.split('*').map(escape).join('.*')}$`);
const repoRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('**')
      .map((part) => part.split('*').map(escape).join('[^/]*'))
      .join('.*')}$`,
  );

describe('globMatch and repoMatch', () => {
  it('match as the regular expressions they stand for, on random patterns and values', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const alphabet = ['a', 'b', '/', '*', '.', '\n', 'é', '?'];
    const text = (n: number, withStars: boolean) =>
      Array.from({ length: rand(n) }, () => alphabet[rand(withStars ? 8 : 7)])
        .filter((c) => withStars || c !== '*')
        .join('');
    for (let k = 0; k < 5000; k++) {
      const pattern = text(7, true);
      const value = text(9, false);
      expect([pattern, value, globMatch(pattern, value)]).toEqual([
        pattern,
        value,
        globRegExp(pattern).test(value),
      ]);
      if (pattern !== '*' && !/(^|[/:])\.\.?(\/|$)/.test(value))
        expect([pattern, value, repoMatch(pattern, value)]).toEqual([
          pattern,
          value,
          repoRegExp(pattern).test(value),
        ]);
    }
  });

  it('keep their meaning on the usual patterns', () => {
    expect(globMatch('team-*', 'team-a')).toBe(true);
    expect(globMatch('team-*', 'other')).toBe(false);
    expect(globMatch('*', 'a\nb')).toBe(false);
    expect(globMatch('', '')).toBe(true);
    expect(repoMatch('https://github.com/org/*', 'https://github.com/org/repo')).toBe(true);
    expect(repoMatch('https://github.com/org/*', 'https://github.com/org/a/b')).toBe(false);
    expect(repoMatch('https://github.com/org/**', 'https://github.com/org/a/b')).toBe(true);
    expect(repoMatch('https://github.com/**', 'https://github.com/team-a/../team-b')).toBe(false);
  });

  it('take time in pattern × value, not exponential, on patterns built to backtrack', () => {
    const started = performance.now();
    expect(globMatch('*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(63))).toBe(false);
    expect(repoMatch('**a**a**a**a**a**a**a**a**b', `https://x/${'a'.repeat(2000)}`)).toBe(false);
    expect(repoMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(2000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
