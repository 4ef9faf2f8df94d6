import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { clientModule } from '../../libs/api-contract/src/client.js';
import {
  collectResponseSchemas,
  responseModule,
} from '../../libs/api-contract/src/response-schemas.js';
import { api, createTestDatabase, startTestHub, tempDir } from '../support/hub-harness.js';

const root = process.cwd();

/** As committed: generated, then formatted by the repository's Prettier configuration. */
async function formatted(text: string, file: string): Promise<string> {
  return format(text, { ...(await resolveConfig(join(root, file))), filepath: join(root, file) });
}

/**
 * One API contract: the response schemas in the hub's OpenAPI document come from the types its
 * controllers return, and the client types the console and the CLI use come from that
 * document. Either file out of date fails here: run `npm run api`.
 */
describe('API contract', () => {
  let hub: RunningHub;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    dir = await tempDir('axle-hub-contract-');
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
  });
  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it('documents every response from the controllers’ types', async () => {
    const file = 'apps/hub/src/common/api-responses.gen.ts';
    const generated = responseModule(
      collectResponseSchemas(root, 'apps/hub/src'),
      join(root, 'libs/api-contract/src/generate.ts'),
      root,
    );
    expect(await formatted(generated, file)).toBe(readFileSync(join(root, file), 'utf8'));
  });

  it('generates the client from the document the hub serves', async () => {
    const doc = (await api(hub, null).get('/api/docs/openapi.json')).body;
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(
      doc.paths['/api/v1/clusters'].get.responses['200'].content['application/json'].schema,
    ).toEqual({ type: 'array', items: { $ref: '#/components/schemas/ClusterView' } });
    const file = 'libs/api-client/src/schema.gen.ts';
    expect(await formatted(await clientModule(doc), file)).toBe(
      readFileSync(join(root, file), 'utf8'),
    );
  });
});
