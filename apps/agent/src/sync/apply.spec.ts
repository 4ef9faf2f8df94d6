import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import { ALLOW_ALL, type AllowList } from '../allow-list.js';
import type { KubeClient } from '../kube/kube-client.js';
import type { WatchCache } from '../kube/watch-cache.js';
import { Applier } from './apply.js';
import { buildPlan } from './plan.js';
import { AppRuntime } from './runtime.js';
import type { AppInput } from './types.js';

// Tenants are cluster-scoped here: what discovery says of a CRD established during the sync,
// after the pass's allow-list check could not tell.
const client = {
  isNamespaced: (_v: string, kind: string) => Promise.resolve(kind !== 'Tenant'),
} as unknown as KubeClient;

const tenant: KubeObject = {
  apiVersion: 'example.com/v1',
  kind: 'Tenant',
  metadata: { name: 't', namespace: 'shop' },
};
const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };
const app = {
  appId: 'a',
  appName: 'app-a',
  generation: 1,
  namespace: 'shop',
  policy: { automated: true, prune: true, selfHeal: false },
  inventory: [],
} as unknown as AppInput;

async function prepared(allowList: AllowList, input: AppInput = app) {
  const applier = new Applier(client, {} as WatchCache, {
    fieldManager: 'axle',
    agentName: 'east',
    applyConcurrency: 1,
    allowList,
  });
  const rt = new AppRuntime('a');
  rt.resetPlan('k', buildPlan([tenant, cm]));
  const of = (kind: string) => rt.plan.resources.find((i) => i.raw.kind === kind)!;
  return Promise.all(
    [of('Tenant'), of('ConfigMap')].map((item) => applier.prepare(rt, input, item)),
  );
}

describe('Applier.prepare and the allow-list', () => {
  it('refuses an object only preparing finds cluster-scoped, when the list limits such kinds', async () => {
    const [t, c] = await prepared({ namespaces: ['shop'], allowedKinds: ['*'], deniedKinds: [] });
    expect(t).toBeInstanceOf(Error);
    expect((t as Error).message).toBe(
      "refused by this cluster's allow-list: kind example.com/Tenant may not be applied cluster-scoped on this cluster (Tenant/t; AXLE_AGENT_ALLOWED_CLUSTER_KINDS)",
    );
    expect(c).not.toBeInstanceOf(Error);
  });

  it("refuses it when the application's project does not list the kind", async () => {
    const bounded = (kinds: { group: string; kind: string }[]) =>
      ({
        ...app,
        policy: { automated: true, prune: true, selfHeal: false, clusterKinds: kinds },
      }) as AppInput;
    const [t, c] = await prepared(ALLOW_ALL, bounded([{ group: '', kind: 'PersistentVolume' }]));
    expect((t as Error).message).toBe(
      "refused by the application's project: kind example.com/Tenant may not be applied cluster-scoped (Tenant/t; the project's spec.clusterKinds)",
    );
    expect(c).not.toBeInstanceOf(Error);
    const [listed] = await prepared(ALLOW_ALL, bounded([{ group: 'example.com', kind: '*' }]));
    expect(listed).not.toBeInstanceOf(Error);
  });

  it('prepares it when the list allows it', async () => {
    for (const list of [
      ALLOW_ALL,
      {
        namespaces: ['shop'],
        allowedKinds: ['*'],
        deniedKinds: [],
        clusterKinds: ['example.com/*'],
      },
    ]) {
      const [t] = await prepared(list);
      expect(t).not.toBeInstanceOf(Error);
      expect((t as { key: { namespace: string } }).key.namespace).toBe('');
    }
  });
});
