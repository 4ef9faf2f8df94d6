import { describe, expect, it } from 'vitest';
import { fieldSetOfObject } from '../../../../libs/diff/src/index.js';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import { diffObject } from './diff.js';
import type { Prepared } from './resources.js';
import { AppRuntime, type Snapshot } from './runtime.js';
import type { AppInput } from './types.js';

const deployment = (replicas: number, image: string, rv = '1'): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: 'shop', resourceVersion: rv },
  spec: { replicas, template: { spec: { containers: [{ name: 'web', image }] } } },
});

const prepared = (obj: KubeObject): Prepared => ({
  obj,
  key: { group: 'apps', version: 'v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
  id: 'apps/Deployment/shop/web',
  hash: 'h1',
});

const app = (ignore: AppInput['policy']['ignoreDifferences'] = []): AppInput => ({
  appId: 'a',
  appName: 'shop',
  generation: 1,
  namespace: 'shop',
  policy: { automated: true, prune: false, selfHeal: false, ignoreDifferences: ignore },
  options: {} as AppInput['options'],
  inventory: [],
});

describe('diffObject', () => {
  const desired = deployment(2, 'web:1');
  const { metadata: _m, ...owned } = desired;
  const snap: Snapshot = {
    hash: 'h1',
    expected: desired,
    owned: fieldSetOfObject({ ...owned, metadata: { name: 'web', namespace: 'shop' } }),
    dryRun: false,
    seq: 1,
  };

  it('reports the fields the agent owns that differ live, and nothing when they match', () => {
    const rt = new AppRuntime('a');
    expect(diffObject(rt, app(), prepared(desired), snap, deployment(2, 'web:1', '2')).total).toBe(
      0,
    );
    const drifted = diffObject(rt, app(), prepared(desired), snap, deployment(5, 'web:1', '3'));
    expect(drifted.total).toBe(1);
    expect(JSON.stringify(drifted)).toContain('replicas');
  });

  it('leaves out ignoreDifferences pointers', () => {
    const rt = new AppRuntime('a');
    const ignoring = app([
      {
        group: 'apps',
        kind: 'Deployment',
        name: '',
        namespace: '',
        jsonPointers: ['/spec/replicas'],
        managedFieldsManagers: [],
      },
    ]);
    expect(
      diffObject(rt, ignoring, prepared(desired), snap, deployment(5, 'web:1', '4')).total,
    ).toBe(0);
    expect(
      diffObject(rt, ignoring, prepared(desired), snap, deployment(5, 'web:2', '5')).total,
    ).toBe(1);
  });

  it('is memoised per object, snapshot and live resourceVersion', () => {
    const rt = new AppRuntime('a');
    const first = diffObject(rt, app(), prepared(desired), snap, deployment(5, 'web:1', '6'));
    // The same resourceVersion is the same object: the memo answers.
    expect(diffObject(rt, app(), prepared(desired), snap, deployment(5, 'web:1', '6'))).toBe(first);
    // A newer one is compared again.
    expect(diffObject(rt, app(), prepared(desired), snap, deployment(2, 'web:1', '7')).total).toBe(
      0,
    );
  });
});
