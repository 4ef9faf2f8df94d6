import { createServer, type Server } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeClient, retryAfterMs } from './kube-client.js';

/** A client of the API server `server` stands in for, once it listens on loopback. */
async function clientOf(server: Server): Promise<KubeClient> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new KubeClient(kc);
}

describe('retryAfterMs', () => {
  it('retries 429 always and a 5xx only when the server says when', () => {
    expect(retryAfterMs(429, '2')).toBe(2000);
    expect(retryAfterMs(429, undefined)).toBe(1000);
    expect(retryAfterMs(429, '3600')).toBe(10_000); // capped
    expect(retryAfterMs(503, '1')).toBe(1000);
    expect(retryAfterMs(503, undefined)).toBeUndefined();
    expect(retryAfterMs(409, '1')).toBeUndefined();
    expect(retryAfterMs(500, 'Wed, 21 Oct 2026 07:28:00 GMT')).toBeUndefined();
  });
});

describe('KubeClient.request', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  /** An API server on loopback that answers the first `refusals` requests with `status`. */
  async function client(refusals: number, status: number, retryAfter?: string) {
    let seen = 0;
    server = createServer((req, res) => {
      seen++;
      if (seen <= refusals) {
        res.writeHead(status, {
          'content-type': 'application/json',
          ...(retryAfter !== undefined ? { 'retry-after': retryAfter } : {}),
        });
        res.end(
          JSON.stringify({
            kind: 'Status',
            message: 'too many requests',
            reason: 'TooManyRequests',
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Namespace', metadata: { name: 'default' } }));
    });
    return { kube: await clientOf(server), seen: () => seen };
  }

  it('sends a request the server throttled again after the delay it asks for', async () => {
    const { kube, seen } = await client(2, 429, '0');
    const ns = await kube.request<{ metadata: { name: string } }>(
      'GET',
      '/api/v1/namespaces/default',
    );
    expect(ns.metadata.name).toBe('default');
    expect(seen()).toBe(3);
    kube.close();
  });

  it('gives up after a few attempts, and does not retry what retrying cannot fix', async () => {
    const throttled = await client(100, 429, '0');
    await expect(throttled.kube.request('GET', '/api/v1/namespaces/default')).rejects.toThrow(
      'too many requests',
    );
    expect(throttled.seen()).toBe(6);
    throttled.kube.close();
    await new Promise<void>((r) => server!.close(() => r()));
    const broken = await client(100, 500);
    await expect(broken.kube.request('GET', '/api/v1/namespaces/default')).rejects.toThrow();
    expect(broken.seen()).toBe(1);
    broken.kube.close();
  });

  it('remembers an API group that is not served: one discovery request, not two per lookup', async () => {
    const { kube, seen } = await client(100, 404);
    await expect(kube.isNamespaced('example.com/v1', 'Tenant')).rejects.toThrow();
    await expect(kube.isNamespaced('example.com/v1', 'Tenant')).rejects.toThrow();
    expect(seen()).toBe(1);
    // Asked again after a second (a CRD may have been established meanwhile), or when told to.
    kube.invalidate('example.com/v1');
    await expect(kube.isNamespaced('example.com/v1', 'Tenant')).rejects.toThrow();
    expect(seen()).toBe(2);
    kube.close();
  });
});

describe('KubeClient.serverCapabilities', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('lists every group version and kind, and keeps the kinds of one that cannot be read now', async () => {
    let metricsUp = true;
    const resources = (...r: [string, string][]) => ({
      resources: r.map(([name, kind]) => ({ name, kind, namespaced: true, verbs: [] })),
    });
    const answers: Record<string, unknown> = {
      '/version': { gitVersion: 'v1.34.2' },
      '/api': { versions: ['v1'] },
      '/apis': {
        groups: [
          { versions: [{ groupVersion: 'apps/v1' }] },
          { versions: [{ groupVersion: 'metrics.k8s.io/v1beta1' }] },
        ],
      },
      '/api/v1': resources(['pods', 'Pod'], ['pods/log', 'Pod'], ['configmaps', 'ConfigMap']),
      '/apis/apps/v1': resources(['deployments', 'Deployment'], ['deployments/scale', 'Scale']),
      '/apis/metrics.k8s.io/v1beta1': resources(['pods', 'PodMetrics']),
    };
    server = createServer((req, res) => {
      const body = answers[req.url ?? ''];
      const down = req.url === '/apis/metrics.k8s.io/v1beta1' && !metricsUp;
      res.writeHead(body && !down ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body && !down ? body : { kind: 'Status', message: 'unavailable' }));
    });
    const kube = await clientOf(server);
    const first = await kube.serverCapabilities();
    expect(first).toEqual({
      kubeVersion: 'v1.34.2',
      apiVersions: [
        'apps/v1',
        'apps/v1/Deployment',
        'metrics.k8s.io/v1beta1',
        'metrics.k8s.io/v1beta1/PodMetrics',
        'v1',
        'v1/ConfigMap',
        'v1/Pod',
      ],
    });
    metricsUp = false;
    expect(await kube.serverCapabilities()).toEqual(first);
    kube.close();
  });
});
