import { connect } from 'node:net';
import { existsSync } from 'node:fs';
import { ApiException, CoreV1Api, KubeConfig, VersionApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestClusters, type TestClusters } from './kube-cluster.js';

function coreApi(kubeconfig: string): CoreV1Api {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfig);
  return kc.makeApiClient(CoreV1Api);
}

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

describe('test clusters (etcd + kube-apiserver)', () => {
  let envs: TestClusters | undefined;

  beforeAll(async () => {
    envs = await startTestClusters({ count: 2, names: ['alpha', 'beta'] });
  });

  afterAll(async () => {
    await envs?.stop();
  });

  it('starts separate API servers with working kubeconfigs', async () => {
    const [a, b] = envs!.clusters;
    expect(a.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(b.server).not.toBe(a.server);
    expect(existsSync(a.kubeconfigPath)).toBe(true);

    const kc = new KubeConfig();
    kc.loadFromFile(a.kubeconfigPath);
    const version = await kc.makeApiClient(VersionApi).getCode();
    expect(`${version.major}.${version.minor}`).toBe('1.34');

    for (const c of envs!.clusters) {
      const ns = await coreApi(c.kubeconfig).readNamespace({ name: 'default' });
      expect(ns.metadata?.name).toBe('default');
    }
  });

  it('keeps clusters isolated', async () => {
    const [a, b] = envs!.clusters;
    const apiA = coreApi(a.kubeconfig);
    const apiB = coreApi(b.kubeconfig);
    const namespace = 'axle-e2e';

    await apiA.createNamespace({ body: { metadata: { name: namespace } } });
    await apiB.createNamespace({ body: { metadata: { name: namespace } } });
    await apiA.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'only-in-a' }, data: { hello: 'alpha' } },
    });

    const cm = await apiA.readNamespacedConfigMap({ namespace, name: 'only-in-a' });
    expect(cm.data).toEqual({ hello: 'alpha' });
    expect(await status(apiB.readNamespacedConfigMap({ namespace, name: 'only-in-a' }))).toBe(404);
    const listB = await apiB.listNamespacedConfigMap({ namespace });
    expect(listB.items.map((i) => i.metadata?.name)).not.toContain('only-in-a');

    // Credentials are per cluster too: A's token is rejected by B.
    const crossed = a.kubeconfig.replace(a.server, b.server).replace(a.caData, b.caData);
    expect(await status(coreApi(crossed).readNamespace({ name: 'default' }))).toBe(401);
  });

  it('stops everything', async () => {
    const ports = envs!.clusters.map((c) => Number(new URL(c.server).port));
    const paths = envs!.clusters.map((c) => c.kubeconfigPath);
    await envs!.stop();
    await envs!.stop(); // idempotent
    for (const port of ports) expect(await portOpen(port)).toBe(false);
    for (const p of paths) expect(existsSync(p)).toBe(false);
  });
});
