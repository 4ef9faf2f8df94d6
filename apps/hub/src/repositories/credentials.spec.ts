import { describe, expect, it } from 'vitest';
import { prefixMatches } from './credentials.service.js';

describe('credential URL prefixes', () => {
  it('match the same scheme, host and port on path boundaries', () => {
    expect(prefixMatches('https://git.example.com', 'https://git.example.com/team/app.git')).toBe(
      true,
    );
    expect(
      prefixMatches('https://git.example.com/team', 'https://git.example.com/team/app.git'),
    ).toBe(true);
    expect(
      prefixMatches('https://git.example.com/team/', 'https://git.example.com/team/app.git'),
    ).toBe(true);
    expect(
      prefixMatches('ssh://git@git.example.com/team', 'git@git.example.com:team/app.git'),
    ).toBe(true);
  });

  it('never hand credentials to another host', () => {
    expect(prefixMatches('https://git.example.com', 'https://git.example.com.evil.io/x.git')).toBe(
      false,
    );
    expect(prefixMatches('https://git.example.com', 'https://git.example.com@evil.io/x.git')).toBe(
      false,
    );
    expect(prefixMatches('https://git.example.com', 'https://git.example.com:8443/x.git')).toBe(
      false,
    );
    expect(prefixMatches('https://git.example.com', 'http://git.example.com/x.git')).toBe(false);
    expect(
      prefixMatches('https://git.example.com/team', 'https://git.example.com/teamevil/x.git'),
    ).toBe(false);
  });
});
