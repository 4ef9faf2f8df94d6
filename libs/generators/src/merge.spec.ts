import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { ClusterInfo, GeneratorContext } from './types.js';

const clusters: ClusterInfo[] = [
  {
    name: 'staging',
    server: 'https://1.2.3.4',
    labels: { 'use-kafka': 'false', environment: 'staging' },
    annotations: {},
  },
  {
    name: 'production',
    server: 'https://2.4.6.8',
    labels: { environment: 'production' },
    annotations: {},
  },
];
const ctx = (goTemplate: boolean): GeneratorContext => ({
  clusters,
  git: new MemoryGitTree({}),
  goTemplate,
});

describe('merge generator', () => {
  it('merges the Generators-Merge.md example (fasttemplate)', async () => {
    const params = await generate(
      {
        merge: {
          mergeKeys: ['server'],
          generators: [
            { clusters: { values: { kafka: 'true', redis: 'false' } } },
            {
              clusters: {
                selector: { matchLabels: { 'use-kafka': 'false' } },
                values: { kafka: 'false' },
              },
            },
            { list: { elements: [{ server: 'https://2.4.6.8', 'values.redis': 'true' }] } },
          ],
        },
      },
      ctx(false),
    );
    expect(params.map((p) => [p.name, p.server, p['values.kafka'], p['values.redis']])).toEqual([
      ['staging', 'https://1.2.3.4', 'false', 'false'],
      ['production', 'https://2.4.6.8', 'true', 'true'],
    ]);
  });

  it('deep-merges with later generators overriding (goTemplate)', async () => {
    const params = await generate(
      {
        merge: {
          mergeKeys: ['name'],
          generators: [
            { clusters: { values: { kafka: 'true', redis: 'false' } } },
            {
              list: {
                elements: [
                  { name: 'production', values: { redis: 'true' }, extra: 1 },
                  { name: 'unknown', extra: 2 },
                ],
              },
            },
          ],
        },
      },
      ctx(true),
    );
    expect(params.map((p) => [p.name, p.values, p.extra])).toEqual([
      ['staging', { kafka: 'true', redis: 'false' }, undefined],
      ['production', { kafka: 'true', redis: 'true' }, 1],
    ]);
  });

  it('matches on several keys and keeps the base order', async () => {
    const params = await generate(
      {
        merge: {
          mergeKeys: ['a', 'b'],
          generators: [
            {
              list: {
                elements: [
                  { a: '1', b: 'x', v: 'base' },
                  { a: '1', b: 'y', v: 'base' },
                  { a: '2', b: 'x', v: 'base' },
                ],
              },
            },
            { list: { elements: [{ b: 'x', a: '2', v: 'override' }] } },
          ],
        },
      },
      ctx(false),
    );
    expect(params.map((p) => p.v)).toEqual(['base', 'base', 'override']);
  });

  it('rejects non-unique param sets in overriding generators', async () => {
    await expect(
      generate(
        {
          merge: {
            mergeKeys: ['server'],
            generators: [
              { clusters: {} },
              { list: { elements: [{ server: 'a' }, { server: 'a' }] } },
            ],
          },
        },
        ctx(false),
        'spec.generators[0]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.merge\.generators\[1\]: the parameters from a generator were not unique by the given mergeKeys/,
    );
  });

  it('rejects non-unique param sets in the base generator too', async () => {
    await expect(
      generate(
        {
          merge: {
            mergeKeys: ['k'],
            generators: [
              { list: { elements: [{ k: 'a' }, { k: 'a' }] } },
              { list: { elements: [] } },
            ],
          },
        },
        ctx(false),
        'spec.generators[0]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.merge\.generators\[0\]: .*Duplicate key was \{"k":"a"\}/,
    );
  });

  it('requires mergeKeys', async () => {
    await expect(
      generate(
        { merge: { mergeKeys: [], generators: [{ clusters: {} }] } },
        ctx(false),
        'spec.generators[3]',
      ),
    ).rejects.toThrow(/^spec\.generators\[3\]\.merge\.mergeKeys: no merge keys were specified/);
  });
});
