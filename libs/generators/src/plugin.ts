import { GeneratorError, errorMessage } from './errors.js';
import { flattenDotStyle, goSprintV } from './go.js';
import { appendValues, type Runtime } from './runtime.js';
import type { ParamSet, PluginGeneratorSpec } from './types.js';

/**
 * Plugin generator, as Argo CD's: the plugin answers `output.parameters`, a list of maps. In
 * goTemplate mode each map is a parameter set as it is; otherwise it is flattened (`a.b`) with
 * every value formatted by `%v`. Every set also gets `generator.input.parameters` (the input as
 * sent) and the generator's `values`.
 */
export async function pluginParams(
  spec: PluginGeneratorSpec,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const client = rt.ctx.plugins;
  const name = spec.configMapRef.name;
  if (!client)
    throw new GeneratorError(
      `${path}.configMapRef`,
      `generator plugin "${name}" is not configured on this hub (AXLE_GENERATOR_PLUGINS)`,
    );
  const parameters = spec.input?.parameters ?? {};
  let found: Record<string, unknown>[];
  try {
    found = await client.getParams(name, {
      applicationSetName: rt.ctx.appSetName ?? '',
      input: { parameters },
    });
  } catch (e) {
    throw new GeneratorError(path, `generator plugin "${name}": ${errorMessage(e)}`);
  }
  const out = found.map((object) => {
    let params: ParamSet;
    if (rt.renderer.goTemplate) params = { ...object };
    else {
      params = {};
      for (const [k, v] of flattenDotStyle(object)) params[k] = goSprintV(v);
    }
    params.generator = { input: { parameters } };
    return params;
  });
  return appendValues(spec.values, out, rt, path);
}
