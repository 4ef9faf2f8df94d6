import { describe, expect, it } from 'vitest';
import { findCycle, waitingFor, type DependencyState } from './dependencies.js';

const graph: Record<string, string[]> = {
  api: ['db', 'cache'],
  db: ['storage'],
  cache: [],
  storage: [],
};

describe('dependencies', () => {
  it('finds a cycle through an application and names it', () => {
    expect(findCycle('api', (n) => graph[n] ?? [])).toBeUndefined();
    const cyclic: Record<string, string[]> = { ...graph, storage: ['api'] };
    expect(findCycle('api', (n) => cyclic[n] ?? [])).toEqual(['api', 'db', 'storage', 'api']);
    expect(findCycle('self', () => ['self'])).toEqual(['self', 'self']);
  });

  const db = (health: 'Healthy' | 'Progressing', bundle = 'b2'): DependencyState => ({
    name: 'db',
    bundleHash: 'b2',
    destinations: ['data-east', 'data-west'],
    clusterLabels: new Map([
      ['data-east', { region: 'east' }],
      ['data-west', { region: 'west' }],
    ]),
    targets: [
      {
        cluster: 'data-east',
        labels: {},
        bundleHash: bundle,
        applied: true,
        sync: 'Synced',
        health,
      },
      {
        cluster: 'data-west',
        labels: {},
        bundleHash: 'b2',
        applied: true,
        sync: 'Synced',
        health: 'Healthy',
      },
    ],
  });

  it('waits for the dependency Synced and Healthy at its current bundle, on the clusters named', () => {
    const on = (s: DependencyState) => (n: string) => (n === 'db' ? s : undefined);
    expect(
      waitingFor([{ application: 'db', cluster: 'data-east' }], 'edge-1', on(db('Healthy'))),
    ).toBeUndefined();
    expect(
      waitingFor([{ application: 'db', cluster: 'data-east' }], 'edge-1', on(db('Progressing'))),
    ).toBe('waiting for db on data-east');
    // Healthy, but at the previous bundle: not ready (never stale status).
    expect(
      waitingFor([{ application: 'db', cluster: 'data-east' }], 'edge-1', on(db('Healthy', 'b1'))),
    ).toBe('waiting for db on data-east');
    // By label.
    expect(
      waitingFor(
        [{ application: 'db', cluster: { matchLabels: { region: 'west' } } }],
        'edge-1',
        on(db('Progressing')),
      ),
    ).toBeUndefined();
    // No cluster named: the same cluster when the dependency targets it, else all of its clusters.
    expect(waitingFor([{ application: 'db' }], 'data-west', on(db('Progressing')))).toBeUndefined();
    expect(waitingFor([{ application: 'db' }], 'edge-1', on(db('Progressing')))).toBe(
      'waiting for db on data-east',
    );
    expect(waitingFor([{ application: 'ghost' }], 'edge-1', () => undefined)).toBe(
      'waiting for ghost (no such application)',
    );
  });
});
