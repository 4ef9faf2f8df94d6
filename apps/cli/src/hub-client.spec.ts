import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { HubClient } from './hub-client.js';

describe('HubClient tokens', () => {
  let server: Server;
  let url = '';
  const seen: (string | undefined)[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => server.close());

  it.each([
    ['a line break', 'axle_secret_abc\nX-Injected: 1'],
    ['a carriage return inside', 'axle_secret\rabc'],
    ['a NUL', 'axle_secret_abc\u0000'],
    ['a tab', 'axle_secret\tabc'],
    ['a character beyond Latin-1', 'axle_secret_abc€'],
  ])('refuses a token with %s, without printing it or sending anything', async (_, token) => {
    seen.length = 0;
    const client = new HubClient(url, token, { tokenFrom: 'AXLE_TOKEN' });
    const err = await client.request('GET', '/api/v1/clusters').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(
      'the API token (from AXLE_TOKEN) contains a control character (a line break, say) or one an HTTP header cannot carry; it was not sent',
    );
    expect(err?.message).not.toContain('secret');
    expect(seen).toEqual([]);
  });

  it('the CLI says where the token came from, and not what it is', async () => {
    let out = '';
    let err = '';
    const code = await runCli(['--server', url, '--token', 'axle\nsecret', 'cluster', 'list'], {
      stdout: (s) => (out += s),
      stderr: (s) => (err += s),
      env: {},
    });
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(
      'error: the API token (from --token) contains a control character (a line break, say) or one an HTTP header cannot carry; it was not sent\n',
    );
  });

  it('sends a good token as a bearer token', async () => {
    seen.length = 0;
    await new HubClient(url, 'axle_api_Zm9v-_x').request('GET', '/api/v1/clusters');
    expect(seen).toEqual(['Bearer axle_api_Zm9v-_x']);
  });

  it('sends a token pasted with a line break around it without it, as fetch would', async () => {
    seen.length = 0;
    await new HubClient(url, ' axle_api_Zm9v-_x\r\n').request('GET', '/api/v1/clusters');
    expect(seen).toEqual(['Bearer axle_api_Zm9v-_x']);
  });
});
