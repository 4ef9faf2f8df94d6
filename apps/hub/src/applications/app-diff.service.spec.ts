import { describe, expect, it } from 'vitest';
import {
  compressBundle,
  makeBundle,
  type KubeObject,
} from '../../../../libs/manifests/src/index.js';
import { AppDiffService } from './app-diff.service.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const MARKER = /^<redacted hmac-sha256:[0-9a-f]{12}>$/;

const secret = (password: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'db', namespace: 'prod' },
  data: { password: b64(password), user: b64('admin') },
  stringData: { token: `token-${password}` },
});
const configMap = (x: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cfg', namespace: 'prod' },
  data: { x },
});

/** A diff over the bundle applied on c1 (generation 1, in history) and the desired one (2). */
function service(applied: KubeObject[], desired: KubeObject[], reports: unknown[] = []) {
  const a = makeBundle(applied);
  const d = makeBundle(desired);
  const bundles = new Map([
    [a.hash, compressBundle(a.json)],
    [d.hash, compressBundle(d.json)],
  ]);
  const app = {
    id: 'a1',
    name: 'web',
    spec: { destination: { cluster: 'c1', namespace: 'prod' } },
  };
  const target = {
    clusterId: 'c1-id',
    appliedGeneration: 1,
    desiredGeneration: 2,
    desiredBundleHash: d.hash,
    appliedRevision: 'old',
    resources: reports,
  };
  return new AppDiffService(
    {
      entity: () => Promise.resolve(app),
      desired: () => Promise.resolve({ revision: 'new', bundleHash: d.hash }),
    } as never,
    {
      statusRows: () => Promise.resolve([{ cluster: 'c1', target }]),
      historyOf: () =>
        Promise.resolve([{ bundleHash: a.hash, targets: [{ clusterId: 'c1-id', generation: 1 }] }]),
    } as never,
    { getCompressed: (h: string) => Promise.resolve(bundles.get(h)) } as never,
  );
}

describe('AppDiffService', () => {
  it('shows Secret values as markers: changed keys differ, unchanged keys match', async () => {
    const svc = service(
      [secret('hunter2-prod'), configMap('1')],
      [secret('s3cret!'), configMap('2')],
    );
    const out = await svc.diff('web', {});
    const text = JSON.stringify(out);
    for (const clear of [
      'hunter2-prod',
      's3cret!',
      b64('hunter2-prod'),
      b64('s3cret!'),
      b64('admin'),
    ])
      expect(text).not.toContain(clear);
    const [c] = out.clusters;
    expect(c.liveKnown).toBe(true);
    const s = c.resources.find((r) => r.kind === 'Secret')!;
    const live = s.live as unknown as {
      data: Record<string, string>;
      stringData: Record<string, string>;
    };
    const desired = s.desired as unknown as typeof live;
    expect(Object.keys(desired.data)).toEqual(['password', 'user']);
    for (const v of [
      ...Object.values(desired.data),
      ...Object.values(live.data),
      desired.stringData.token,
    ])
      expect(v).toMatch(MARKER);
    expect(live.data.password).not.toBe(desired.data.password);
    expect(live.data.user).toBe(desired.data.user);
    expect(live.stringData.token).not.toBe(desired.stringData.token);
    // Other objects are shown as they are.
    const cm = c.resources.find((r) => r.kind === 'ConfigMap')!;
    expect(cm.live?.data).toEqual({ x: '1' });
    expect(cm.desired?.data).toEqual({ x: '2' });
  });

  it('leaves an unchanged Secret out, and redacts drift the agent reports on one', async () => {
    const same = service([secret('p')], [secret('p')]);
    expect((await same.diff('web', {})).clusters[0].resources).toEqual([]);

    // An agent that did not redact (an old or altered one): the hub does not show its values.
    const drift = service(
      [secret('p')],
      [secret('p')],
      [
        {
          group: '',
          version: 'v1',
          kind: 'Secret',
          namespace: 'prod',
          name: 'db',
          sync: 'OutOfSync',
          health: 'Healthy',
          drifted: true,
          diffs: [
            { path: '/data/password', desired: JSON.stringify(b64('p')), live: '"bGVha2Vk"' },
          ],
        },
      ],
    );
    const [r] = (await drift.diff('web', {})).clusters[0].resources;
    expect(JSON.stringify(r)).not.toContain('bGVha2Vk');
    const live = r.live as unknown as { data: Record<string, string> };
    const desired = r.desired as unknown as typeof live;
    expect(live.data.password).toMatch(MARKER);
    expect(live.data.password).not.toBe(desired.data.password);
    expect(live.data.user).toBe(desired.data.user);
  });

  it("compares resources only: hooks (Argo CD's and Helm's) and hook: Skip objects are left out", async () => {
    const annotated = (name: string, annotations: Record<string, string>): KubeObject => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: 'prod', annotations },
    });
    const hooks = [
      annotated('migrate', { 'argocd.argoproj.io/hook': 'PreSync' }),
      annotated('chart-test', { 'helm.sh/hook': 'test' }),
      annotated('never', { 'argocd.argoproj.io/hook': 'Skip' }),
    ];
    const out = await service([configMap('1')], [configMap('2'), ...hooks]).diff('web', {});
    expect(out.clusters[0].resources.map((r) => `${r.kind}/${r.name}`)).toEqual(['ConfigMap/cfg']);
  });
});
