import { describe, expect, it } from 'vitest';
import { destinationRefs, resolveDestination } from './in-cluster.js';

const clusters = [
  { name: 'hub-local', server: 'axle://hub-local' },
  { name: 'east', server: 'https://east.example.com:6443' },
];

describe('destinations', () => {
  it('address the in-cluster by Argo CD’s name or server when one is designated', () => {
    expect(resolveDestination({ name: 'in-cluster' }, clusters, 'hub-local')).toEqual({
      name: 'hub-local',
    });
    expect(
      resolveDestination({ server: 'https://kubernetes.default.svc' }, clusters, 'hub-local'),
    ).toEqual({
      name: 'hub-local',
    });
    expect(
      resolveDestination({ server: 'https://kubernetes.default.svc' }, clusters, undefined),
    ).toEqual({
      error: expect.stringContaining('set AXLE_IN_CLUSTER'),
    });
    // Without a designated in-cluster, the name is a name like any other.
    expect(resolveDestination({ name: 'in-cluster' }, clusters, undefined)).toEqual({
      name: 'in-cluster',
    });
  });

  it('find other clusters by their registered server, a name first, and refuse neither', () => {
    expect(
      resolveDestination({ server: 'https://east.example.com:6443' }, clusters, undefined),
    ).toEqual({
      name: 'east',
    });
    expect(resolveDestination({ server: 'https://west.example.com' }, clusters, undefined)).toEqual(
      {
        error:
          'spec.destination.server: no registered cluster has server "https://west.example.com"',
      },
    );
    expect(resolveDestination({ name: 'east', server: 'https://x' }, clusters, undefined)).toEqual({
      name: 'east',
    });
    expect(resolveDestination({}, clusters, undefined)).toMatchObject({
      error: expect.stringContaining('required'),
    });
  });
});

describe('destinationRefs', () => {
  const registered = [
    { id: '1', name: 'hub-local' },
    { id: '2', name: 'east' },
    { id: '3', name: 'in-cluster' },
  ];
  const byNames = (names: string[]) =>
    Promise.resolve(registered.filter((c) => names.includes(c.name)));

  it('answers in-cluster with the cluster AXLE_IN_CLUSTER designates, under the name written', async () => {
    expect(await destinationRefs(['east', 'in-cluster'], 'hub-local', byNames)).toEqual([
      { id: '2', name: 'east' },
      { id: '1', name: 'in-cluster' },
    ]);
    // Named both ways: each as written.
    expect(await destinationRefs(['hub-local', 'in-cluster'], 'hub-local', byNames)).toEqual([
      { id: '1', name: 'hub-local' },
      { id: '1', name: 'in-cluster' },
    ]);
  });

  it('lists the clusters in the order they are named, whatever order their rows come in', async () => {
    const reversed = (names: string[]) => byNames(names).then((r) => r.reverse());
    expect(await destinationRefs(['hub-local', 'east', 'east'], undefined, reversed)).toEqual([
      { id: '1', name: 'hub-local' },
      { id: '2', name: 'east' },
    ]);
    expect(await destinationRefs(['in-cluster', 'east'], 'hub-local', reversed)).toEqual([
      { id: '1', name: 'in-cluster' },
      { id: '2', name: 'east' },
    ]);
  });

  it('is the cluster registered by that name without AXLE_IN_CLUSTER, and nothing else', async () => {
    expect(await destinationRefs(['in-cluster'], undefined, byNames)).toEqual([
      { id: '3', name: 'in-cluster' },
    ]);
    expect(await destinationRefs(['in-cluster'], 'gone', byNames)).toEqual([]);
  });
});
