// The hub's REST API as TypeScript types, generated from its OpenAPI document (schema.gen.ts,
// `npm run api`); used by the web console (with openapi-fetch) and the CLI.
import type { components, paths } from './schema.gen.js';

export type { components, paths };
export type Schemas = components['schemas'];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** The JSON body of the success response of `method path`. */
export type ResponseOf<P extends keyof paths, M extends Method> = paths[P][M] extends {
  responses: infer R;
}
  ? {
      [C in keyof R]: C extends 200 | 201 | 202
        ? R[C] extends { content: { 'application/json': infer B } }
          ? B
          : never
        : never;
    }[keyof R]
  : never;
