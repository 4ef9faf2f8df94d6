import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { apiResponses } from './api-responses.gen.js';

type Responses = { schemas: Record<string, unknown>; operations: Record<string, unknown> };

/**
 * The hub's OpenAPI document: routes, parameters and request bodies from the controllers (zod
 * schemas), response bodies from the views they return (api-responses.gen.ts, `npm run api`),
 * and the bearer scheme so that "Try it out" works. The console's and CLI's client types are
 * generated from this document (libs/api-client).
 */
export function openApiDocument(
  app: INestApplication,
  responses: Responses = apiResponses,
): OpenAPIObject {
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Axle hub')
      .setDescription(
        'Multi-cluster GitOps hub: clusters, applications and their per-cluster status.',
      )
      .setVersion('v1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API token' }, 'bearer')
      .addSecurityRequirements('bearer')
      .build(),
  );
  for (const [key, schema] of Object.entries(responses.operations)) {
    const [verb, path] = key.split(' ');
    const op = doc.paths[path]?.[verb.toLowerCase() as 'get'];
    if (!op) continue;
    const code = Object.keys(op.responses).find((c) => c.startsWith('2')) ?? '200';
    op.responses[code] = {
      description: (op.responses[code] as { description?: string })?.description || 'OK',
      content: { 'application/json': { schema: schema as never } },
    };
  }
  doc.components = {
    ...doc.components,
    schemas: Object.assign({}, doc.components?.schemas ?? {}, responses.schemas),
  };
  return doc;
}
