import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';

/** KubernetesObjectApi plus discovery of whether a kind is namespaced (cached per apiVersion). */
export class AxleObjectApi extends KubernetesObjectApi {
  static create(kc: KubeConfig): AxleObjectApi {
    const c = kc.makeApiClient(AxleObjectApi);
    c.setDefaultNamespace(kc);
    return c;
  }

  async isNamespaced(apiVersion: string, kind: string): Promise<boolean> {
    const r = await this.resource(apiVersion, kind);
    if (!r) throw new KubeError(`the cluster has no kind ${kind} in ${apiVersion}`, 404);
    return r.namespaced;
  }
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  return kc;
}

/** An API error reduced to what a user needs: the API server's message and the HTTP code. */
export class KubeError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

export function kubeError(e: unknown): KubeError {
  if (e instanceof KubeError) return e;
  const err = e as { code?: number; body?: unknown; message?: string };
  let message = err.message ?? String(e);
  if (typeof err.body === 'string') {
    try {
      message = (JSON.parse(err.body) as { message?: string }).message ?? message;
    } catch {
      message = err.body.slice(0, 500) || message;
    }
  } else if (err.body && typeof err.body === 'object' && 'message' in err.body) {
    message = String(err.body.message);
  }
  return new KubeError(message, typeof err.code === 'number' ? err.code : 0);
}

export type { KubernetesObject };
