/**
 * `npm run api`: regenerates the API contract.
 *  1. apps/hub/src/common/api-responses.gen.ts: response schemas from the controllers' types;
 *  2. libs/api-client/src/schema.gen.ts: TypeScript types of the whole OpenAPI document
 *     (openapi-typescript), used by the web console (openapi-fetch) and the CLI.
 * test/e2e/api-contract.e2e.ts fails when either is out of date.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientModule, documentOfHub } from './client.js';
import { collectResponseSchemas, repoRoot, responseModule } from './response-schemas.js';

async function main(): Promise<void> {
  const here = fileURLToPath(import.meta.url);
  const root = repoRoot(here);
  const generator = join(root, 'libs/api-contract/src/generate.ts');
  const responses = collectResponseSchemas(root, 'apps/hub/src');
  writeFileSync(
    join(root, 'apps/hub/src/common/api-responses.gen.ts'),
    responseModule(responses, generator, root),
  );
  const doc = await documentOfHub(responses);
  writeFileSync(join(root, 'libs/api-client/src/schema.gen.ts'), await clientModule(doc));
  console.log(
    `api: ${Object.keys(responses.operations).length} responses, ${Object.keys(responses.schemas).length} schemas`,
  );
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
