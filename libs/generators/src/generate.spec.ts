import { describe, expect, it } from 'vitest';
import { GeneratorError } from './errors.js';
import { generate } from './generate.js';
import { checkGeneratorSpec } from './schema.js';
import { MemoryGitTree } from './testing.js';
import type { GeneratorContext } from './types.js';

const ctx: GeneratorContext = { clusters: [], git: new MemoryGitTree({}), goTemplate: false };

describe('generator spec validation', () => {
  it('names an unknown generator key', async () => {
    const err = await generate(
      { lists: { elements: [] } } as never,
      ctx,
      'spec.generators[0]',
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GeneratorError);
    expect((err as GeneratorError).path).toBe('spec.generators[0].lists');
    expect((err as Error).message).toMatch(/unknown generator "lists"/);
  });

  it('names an unknown generator nested in a matrix', async () => {
    await expect(
      generate(
        { matrix: { generators: [{ list: { elements: [] } }, { foo: {} }] } } as never,
        ctx,
        'spec.generators[0]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.matrix\.generators\[1\]\.foo: unknown generator "foo"/,
    );
  });

  it('refuses a cluster decision resource generator with both or neither of name and selector', async () => {
    await expect(
      generate({ clusterDecisionResource: { configMapRef: 'ocm' } }, ctx, 'spec.generators[1]'),
    ).rejects.toThrow(
      /^spec\.generators\[1\]\.clusterDecisionResource: give either name or labelSelector/,
    );
  });

  it('rejects entries with zero or several generators', async () => {
    await expect(generate({}, ctx, 'g')).rejects.toThrow(/^g: no generator specified/);
    await expect(generate({ list: { elements: [] }, clusters: {} }, ctx, 'g')).rejects.toThrow(
      /^g: only one generator may be specified per entry, found: list, clusters/,
    );
  });

  it('rejects an invalid post-selector operator', async () => {
    await expect(
      generate(
        {
          list: { elements: [{ a: 'b' }] },
          selector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] },
        },
        ctx,
        'g',
      ),
    ).rejects.toThrow(
      /^g\.selector: matchExpressions\[0\]\.operator: "Gt" is not a valid label selector operator/,
    );
  });

  it('reports missing required fields and wrong types', () => {
    const r = checkGeneratorSpec(
      { matrix: {}, selector: { matchLabels: { a: 1 } } },
      'spec.generators[0]',
    );
    expect(r.errors.map((e) => e.path)).toEqual([
      'spec.generators[0].matrix.generators',
      'spec.generators[0].selector.matchLabels.a',
    ]);
    expect(r.errors[0].message).toMatch(/required field is missing/);
    expect(r.errors[1].message).toBe('expected string, got number');
  });

  it('warns about unsupported fields and refuses unknown ones', () => {
    const r = checkGeneratorSpec(
      {
        git: {
          repoURL: 'r',
          revision: 'HEAD',
          directories: [{ path: '*', flag: true }],
          requeueAfterSeconds: 30,
        },
      },
      'spec.generators[0]',
    );
    expect(r.errors).toEqual([
      { path: 'spec.generators[0].git.directories[0].flag', message: 'unknown field' },
    ]);
    expect(r.warnings.map((w) => w.path)).toEqual(['spec.generators[0].git.requeueAfterSeconds']);
  });

  it('rejects unknown goTemplateOptions', async () => {
    await expect(
      generate(
        { list: { elements: [] } },
        { ...ctx, goTemplate: true, goTemplateOptions: ['missingkey=maybe'] },
        'g',
      ),
    ).rejects.toThrow(/unrecognized goTemplateOptions entry "missingkey=maybe"/);
  });
});
