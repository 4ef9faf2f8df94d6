import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { GeneratorContext, PluginGeneratorClient } from './types.js';

function client(answer: Record<string, unknown>[] | Error) {
  const calls: unknown[] = [];
  const c: PluginGeneratorClient = {
    getParams(plugin, request) {
      calls.push({ plugin, request });
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
  };
  return { c, calls };
}

const ctx = (goTemplate: boolean, plugins?: PluginGeneratorClient): GeneratorContext => ({
  clusters: [],
  git: new MemoryGitTree({}),
  goTemplate,
  plugins,
  appSetName: 'fleet',
});

const spec = {
  plugin: {
    configMapRef: { name: 'inventory' },
    input: { parameters: { team: 'payments' } },
    values: { env: '{{.region}}-prod' },
  },
};

describe('plugin generator', () => {
  it('asks the plugin with the ApplicationSet name and input, as Argo CD does', async () => {
    const { c, calls } = client([{ region: 'eu', size: { replicas: 3 } }]);
    const params = await generate(spec, ctx(true, c));
    expect(calls).toEqual([
      {
        plugin: 'inventory',
        request: { applicationSetName: 'fleet', input: { parameters: { team: 'payments' } } },
      },
    ]);
    expect(params).toEqual([
      {
        region: 'eu',
        size: { replicas: 3 },
        generator: { input: { parameters: { team: 'payments' } } },
        values: { env: 'eu-prod' },
      },
    ]);
  });

  it('flattens the output with %v in fasttemplate mode', async () => {
    const { c } = client([{ region: 'eu', size: { replicas: 3, big: 1000000 } }]);
    const params = await generate(
      { plugin: { ...spec.plugin, values: { env: '{{region}}-prod' } } },
      ctx(false, c),
    );
    expect(params[0]).toMatchObject({
      region: 'eu',
      'size.replicas': '3',
      'size.big': '1e+06',
      'values.env': 'eu-prod',
    });
  });

  it('names the generator when the plugin fails or is not configured', async () => {
    await expect(generate(spec, ctx(true, client(new Error('HTTP 401')).c))).rejects.toThrow(
      'generators[0].plugin: generator plugin "inventory": HTTP 401',
    );
    await expect(generate(spec, ctx(true))).rejects.toThrow(
      'generator plugin "inventory" is not configured on this hub',
    );
  });
});
