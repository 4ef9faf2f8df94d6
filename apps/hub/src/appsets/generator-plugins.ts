import { Inject, Injectable } from '@nestjs/common';
import { fetchWithin, readBody } from '../common/http-body.js';
import type { PluginGeneratorClient } from '../../../../libs/generators/src/index.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';

/** The most a plugin may answer. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
/** The most parameter sets one call may return. */
const MAX_PARAMETER_SETS = 10_000;

/**
 * Argo CD's generator plugin protocol over HTTP: `POST <baseUrl>/api/v1/getparams.execute` with
 * `Authorization: Bearer <token>` and `{"applicationSetName", "input": {"parameters"}}`; the answer
 * is `{"output": {"parameters": [{…}, …]}}`. Plugins are configured on the hub
 * (AXLE_GENERATOR_PLUGINS) and named by `configMapRef.name`, as Argo names its ConfigMap.
 */
@Injectable()
export class GeneratorPlugins implements PluginGeneratorClient {
  constructor(@Inject(HUB_CONFIG) private readonly config: HubConfig) {}

  async getParams(
    name: string,
    request: { applicationSetName: string; input: { parameters: Record<string, unknown> } },
  ): Promise<Record<string, unknown>[]> {
    const plugin = this.config.generatorPlugins.find((p) => p.name === name);
    if (!plugin)
      throw new Error(`no generator plugin "${name}" is configured (AXLE_GENERATOR_PLUGINS)`);
    const url = `${plugin.baseUrl.replace(/\/+$/, '')}/api/v1/getparams.execute`;
    const timeoutS = plugin.requestTimeoutSeconds ?? 30;
    const res = await fetchWithin(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(plugin.token ? { authorization: `Bearer ${plugin.token}` } : {}),
        },
        body: JSON.stringify(request),
      },
      timeoutS * 1000,
      url,
    );
    const text = await readBody(res, MAX_RESPONSE_BYTES);
    if (res.status < 200 || res.status >= 300)
      throw new Error(`HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error('the answer is not JSON');
    }
    const params = (body as { output?: { parameters?: unknown } } | null)?.output?.parameters;
    if (!Array.isArray(params) || !params.every(isMap))
      throw new Error('the answer has no output.parameters list of maps');
    if (params.length > MAX_PARAMETER_SETS)
      throw new Error(`more than ${MAX_PARAMETER_SETS} parameter sets`);
    return params;
  }
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
