import { describe, expect, it } from 'vitest';
import { GeneratorError } from './errors.js';
import { generate, generateWithTemplate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { GeneratorContext } from './types.js';

const ctx = (goTemplate: boolean): GeneratorContext => ({
  clusters: [],
  git: new MemoryGitTree({}),
  goTemplate,
});

describe('list generator', () => {
  // Generators-List.md
  const docsElements = [
    { cluster: 'engineering-dev', url: 'https://kubernetes.default.svc' },
    { cluster: 'engineering-prod', url: 'https://kubernetes.default.svc', foo: 'bar' },
  ];

  it('passes elements through as param sets (fasttemplate)', async () => {
    expect(await generate({ list: { elements: docsElements } }, ctx(false))).toEqual(docsElements);
  });

  it('exposes a values map as values.<key> in fasttemplate mode', async () => {
    const params = await generate(
      {
        list: {
          elements: [
            { cluster: 'engineering-dev', url: 'https://1.2.3.4', values: { additional: 'value' } },
          ],
        },
      },
      ctx(false),
    );
    expect(params).toEqual([
      { cluster: 'engineering-dev', url: 'https://1.2.3.4', 'values.additional': 'value' },
    ]);
  });

  it('keeps structured values in goTemplate mode', async () => {
    const el = {
      cluster: 'dev',
      replicas: 3,
      valueFiles: ['a.yaml', 'b.yaml'],
      nested: { on: true },
    };
    expect(await generate({ list: { elements: [el] } }, ctx(true))).toEqual([el]);
  });

  it('rejects non-string values in fasttemplate mode, naming the element', async () => {
    await expect(
      generate({ list: { elements: [{ replicas: 3 }] } }, ctx(false), 'spec.generators[0]'),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.list\.elements\[0\]\.replicas: error parsing value as string/,
    );
  });

  it('appends elementsYaml', async () => {
    const params = await generate(
      {
        list: {
          elements: [{ a: 'x' }],
          elementsYaml: '- cluster: one\n  replicas: 2\n- cluster: two\n',
        },
      },
      ctx(true),
    );
    expect(params).toEqual([{ a: 'x' }, { cluster: 'one', replicas: 2 }, { cluster: 'two' }]);
  });

  it('reports broken elementsYaml', async () => {
    await expect(generate({ list: { elementsYaml: 'a: b' } }, ctx(true))).rejects.toThrow(
      /elementsYaml: .*expected a YAML list of maps/,
    );
    await expect(generate({ list: { elementsYaml: '- [' } }, ctx(true))).rejects.toThrow(
      /elementsYaml: error unmarshalling/,
    );
  });

  it('applies a post-selector on string parameters (Generators-Post-Selector.md)', async () => {
    const params = await generate(
      {
        list: {
          elements: [
            { cluster: 'engineering-dev', url: 'https://kubernetes.default.svc', env: 'staging' },
            { cluster: 'engineering-prod', url: 'https://kubernetes.default.svc', env: 'prod' },
          ],
        },
        selector: { matchLabels: { env: 'staging' } },
      },
      ctx(false),
    );
    expect(params).toEqual([
      { cluster: 'engineering-dev', url: 'https://kubernetes.default.svc', env: 'staging' },
    ]);
  });

  it('post-selectors match the flattened parameters in goTemplate mode', async () => {
    const elements = [
      { app: 'a', nested: { env: 'prod' }, replicas: 3 },
      { app: 'b', nested: { env: 'dev' }, replicas: 3 },
      { app: 'c', nested: { env: 'prod' }, replicas: 1 },
    ];
    const params = await generate(
      { list: { elements }, selector: { matchLabels: { 'nested.env': 'prod', replicas: '3' } } },
      ctx(true),
    );
    expect(params.map((p) => p.app)).toEqual(['a']);
    const none = await generate(
      {
        list: { elements },
        selector: { matchExpressions: [{ key: 'nested', operator: 'Exists' }] },
      },
      ctx(true),
    );
    expect(none).toEqual([]);
  });

  it('returns the per-generator template override', async () => {
    const template = { metadata: {}, spec: { source: { path: 'override' } } };
    const out = await generateWithTemplate(
      { list: { elements: [{ a: 'b' }], template } },
      ctx(false),
    );
    expect(out.template).toEqual(template);
    expect(out.params).toEqual([{ a: 'b' }]);
  });

  it('throws GeneratorError instances', async () => {
    await expect(generate({ list: { elements: 'x' } } as never, ctx(true))).rejects.toBeInstanceOf(
      GeneratorError,
    );
  });
});
