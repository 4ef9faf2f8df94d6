import { describe, expect, it } from 'vitest';
import { ConfigError, loadHubConfig } from './hub-config.js';

describe('loadHubConfig', () => {
  it('has working defaults', () => {
    const c = loadHubConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.grpc.port).toBe(9090);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.gitCacheDir.endsWith('/.axle/git')).toBe(true);
    expect(c.gitTimeoutSeconds).toBe(120);
    expect(c.gitDeadlineSeconds).toBe(600);
  });

  it('derives the git deadline from the git timeout unless set', () => {
    expect(loadHubConfig({ AXLE_GIT_TIMEOUT_SECONDS: '30' }).gitDeadlineSeconds).toBe(150);
    expect(
      loadHubConfig({ AXLE_GIT_TIMEOUT_SECONDS: '30', AXLE_GIT_DEADLINE_SECONDS: '45' })
        .gitDeadlineSeconds,
    ).toBe(45);
  });

  it('takes a variable set to nothing as unset (its default), not as 0', () => {
    const c = loadHubConfig({
      AXLE_HTTP_PORT: '',
      AXLE_GRPC_PORT: ' ',
      AXLE_APPSET_MAX_DELETE_SHARE: '',
    });
    expect(c.http.port).toBe(8080);
    expect(c.grpc.port).toBe(9090);
  });

  it('lists every bad variable by name', () => {
    let err: unknown;
    try {
      loadHubConfig({
        AXLE_HTTP_PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        AXLE_GIT_POLL_SECONDS: '0',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toContain('AXLE_HTTP_PORT');
    expect(msg).toContain('DATABASE_URL: must be a postgres:// URL');
    expect(msg).toContain('AXLE_GIT_POLL_SECONDS');
  });

  it('never quotes a JSON variable in its error (it may hold tokens)', () => {
    expect(() =>
      loadHubConfig({ AXLE_GENERATOR_PLUGINS: '[{"name":"p","token":"SECRETTOKEN"},]' }),
    ).toThrow(/AXLE_GENERATOR_PLUGINS: must be a JSON list of .*: not valid JSON/);
    try {
      loadHubConfig({ AXLE_GENERATOR_PLUGINS: '[{"name":"p","token":"SECRETTOKEN"},]' });
    } catch (e) {
      expect((e as Error).message).not.toContain('SECRETTOKEN');
    }
    expect(() =>
      loadHubConfig({
        AXLE_DUCK_TYPES: '[{"name":"d","apiVersion":"v1","kind":"x","matchKey":"k"}]',
      }),
    ).toThrow(/AXLE_DUCK_TYPES: .*apiVersion: must be group\/version/);
  });
});
