import { describe, expect, it } from 'vitest';
import { qualifiedNameErrors } from '../../generators/src/index.js';
import { ClusterIndex, keyErrors } from './validate.js';

describe('keyErrors', () => {
  it('answers like qualifiedNameErrors, the first time and when remembered', () => {
    const keys = [
      'app',
      'fleet.example.com/owner',
      'app.kubernetes.io/name',
      '',
      '-bad',
      'Upper.Case/x',
      'a/b/c',
      '/x',
      'x'.repeat(64),
      'ok_key.1',
    ];
    for (let round = 0; round < 3; round++)
      for (const k of keys) expect(keyErrors(k), k).toEqual(qualifiedNameErrors(k));
  });

  it('keeps answering correctly once its memory is full', () => {
    for (let i = 0; i < 10_000; i++) expect(keyErrors(`key-${i}`)).toEqual([]);
    expect(keyErrors('key-1')).toEqual([]);
    expect(keyErrors('bad key')).toEqual(qualifiedNameErrors('bad key'));
    expect(keyErrors('bad key').length).toBeGreaterThan(0);
  });
});

describe('ClusterIndex', () => {
  const cluster = (name: string, server: string, inCluster?: boolean) => ({
    name,
    server,
    labels: {},
    annotations: {},
    ...(inCluster ? { inCluster } : {}),
  });
  const home = cluster('hub-home', 'https://kubernetes.default.svc', true);

  it("finds Argo CD's local cluster by its registered name, by in-cluster and by its server", () => {
    const index = new ClusterIndex([cluster('east', 'https://east:6443'), home]);
    expect(index.resolve({ name: 'hub-home' })).toBe(home);
    expect(index.resolve({ name: 'in-cluster' })).toBe(home);
    expect(index.resolve({ server: 'https://kubernetes.default.svc' })).toBe(home);
    expect(index.resolve({ name: 'west' })).toBe(
      'application references destination cluster west which does not exist',
    );
  });

  it('gives in-cluster to no one without a local cluster, else to it before a cluster of that name', () => {
    expect(
      new ClusterIndex([cluster('east', 'https://east:6443')]).resolve({ name: 'in-cluster' }),
    ).toBe('application references destination cluster in-cluster which does not exist');
    const named = cluster('in-cluster', 'https://other:6443');
    expect(new ClusterIndex([named]).resolve({ name: 'in-cluster' })).toBe(named);
    expect(new ClusterIndex([home, named]).resolve({ name: 'in-cluster' })).toBe(home);
  });
});
