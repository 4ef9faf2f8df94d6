import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { DuckTypeReader, GeneratorContext } from './types.js';

const reader = (decisions: Record<string, unknown>[]): DuckTypeReader => ({
  decisions: () => Promise.resolve({ matchKey: 'clusterName', decisions }),
});
const ctx = (r: DuckTypeReader): GeneratorContext => ({
  clusters: [
    { name: 'east', server: 'https://east:6443', labels: {}, annotations: {} },
    { name: 'west', server: 'axle://west', labels: {}, annotations: {} },
  ],
  git: new MemoryGitTree({}),
  goTemplate: true,
  duckTypes: r,
});

describe('cluster decision resource generator', () => {
  it('gives the registered clusters the decisions name, with the entries fields', async () => {
    const ps = await generate(
      {
        clusterDecisionResource: {
          configMapRef: 'ocm',
          name: 'placement',
          values: { x: '{{.name}}-v' },
        },
      },
      ctx(
        reader([
          { clusterName: 'east', reason: 'picked' },
          { clusterName: 'nowhere' },
          { other: 'no match key' },
          { clusterName: 'west', score: 3 },
        ]),
      ),
    );
    expect(ps).toEqual([
      {
        name: 'east',
        server: 'https://east:6443',
        clusterName: 'east',
        reason: 'picked',
        values: { x: 'east-v' },
      },
      { name: 'west', server: 'axle://west', clusterName: 'west', values: { x: 'west-v' } },
    ]);
  });

  it('names the generator when the resources cannot be read', async () => {
    const failing: DuckTypeReader = {
      decisions: () => Promise.reject(new Error('no duck type "ocm"')),
    };
    await expect(
      generate({ clusterDecisionResource: { configMapRef: 'ocm', name: 'p' } }, ctx(failing)),
    ).rejects.toThrow('generators[0].clusterDecisionResource: no duck type "ocm"');
  });
});
