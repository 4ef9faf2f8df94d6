import { describe, expect, it } from 'vitest';
import { ConfigError, loadHubConfig } from './hub-config.js';

describe('loadHubConfig', () => {
  it('has working defaults', () => {
    const c = loadHubConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.grpc.port).toBe(9090);
    expect(c.databaseUrl).toBeUndefined();
    expect(c.gitCacheDir.endsWith('/.axle/git')).toBe(true);
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
});
