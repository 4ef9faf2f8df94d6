import { describe, expect, it } from 'vitest';
import { applicationSpecHash, planChanges, planOptionsFor } from './plan.js';
import type { ApplicationsSyncPolicy, GeneratedApplication } from './types.js';

const app = (name: string, path = name): GeneratedApplication => ({
  metadata: { name, finalizers: ['resources-finalizer.argocd.argoproj.io'] },
  spec: {
    project: 'default',
    source: { repoURL: 'https://x/r.git', path },
    destination: { name: 'in-cluster', server: 'https://kubernetes.default.svc', namespace: name },
  },
});

// existing: same (identical), changed (different spec), gone (no longer generated); generated: same, changed, fresh
const current = [
  { name: 'same', specHash: applicationSpecHash(app('same')) },
  { name: 'changed', specHash: applicationSpecHash(app('changed', 'old-path')) },
  { name: 'gone', specHash: 'whatever' },
];
const generated = [app('same'), app('changed'), app('fresh')];

describe('planChanges', () => {
  it.each<
    [
      ApplicationsSyncPolicy,
      { create: string[]; update: string[]; delete: string[]; unchanged: string[] },
    ]
  >([
    ['sync', { create: ['fresh'], update: ['changed'], delete: ['gone'], unchanged: ['same'] }],
    [
      'create-update',
      { create: ['fresh'], update: ['changed'], delete: [], unchanged: ['same', 'gone'] },
    ],
    [
      'create-delete',
      { create: ['fresh'], update: [], delete: ['gone'], unchanged: ['same', 'changed'] },
    ],
    [
      'create-only',
      { create: ['fresh'], update: [], delete: [], unchanged: ['same', 'changed', 'gone'] },
    ],
  ])('honours applicationsSync=%s', (policy, want) => {
    expect(planChanges(current, generated, policy)).toEqual(want);
  });

  it('defaults to sync', () => {
    expect(planChanges(current, generated).delete).toEqual(['gone']);
  });

  it('never deletes kept names nor anything when generation was incomplete', () => {
    expect(planChanges(current, generated, 'sync', { keep: ['gone'] })).toMatchObject({
      delete: [],
      unchanged: ['same', 'gone'],
    });
    expect(planChanges(current, generated, 'sync', { skipDelete: true }).delete).toEqual([]);
  });

  it('derives safe options from a generation result', () => {
    expect(planOptionsFor({ errors: [{ name: 'gone' }, {}], complete: true })).toEqual({
      keep: ['gone'],
      skipDelete: false,
    });
    expect(planOptionsFor({ errors: [], complete: false })).toEqual({ keep: [], skipDelete: true });
    expect(
      planChanges(
        current,
        generated,
        'sync',
        planOptionsFor({ errors: [{ name: 'gone' }], complete: true }),
      ).delete,
    ).toEqual([]);
  });

  it('hashes content, ignores the name, and sees every controlled field', () => {
    const a = app('x');
    const renamed: GeneratedApplication = { ...a, metadata: { ...a.metadata, name: 'y' } };
    expect(applicationSpecHash(a)).toBe(applicationSpecHash(renamed));
    expect(applicationSpecHash(a)).toMatch(/^[0-9a-f]{64}$/);
    const variants: GeneratedApplication[] = [
      { ...a, metadata: { ...a.metadata, labels: { l: 'v' } } },
      { ...a, metadata: { ...a.metadata, annotations: { k: 'v' } } },
      { ...a, metadata: { ...a.metadata, finalizers: [] } },
      { ...a, spec: { ...a.spec, project: 'other' } },
      { ...a, spec: { ...a.spec, source: { ...a.spec.source, path: 'elsewhere' } } },
      { ...a, spec: { ...a.spec, destination: { ...a.spec.destination, namespace: 'n2' } } },
      { ...a, spec: { ...a.spec, syncPolicy: { automated: { prune: true } } } },
    ];
    const hashes = new Set([a, ...variants].map(applicationSpecHash));
    expect(hashes.size).toBe(variants.length + 1);
  });
});

describe('planChanges with repeated names', () => {
  it('plans each name once: the first generated and the first existing entry count', () => {
    const plan = planChanges(
      [
        { name: 'same', specHash: applicationSpecHash(app('same')) },
        { name: 'same', specHash: 'stale duplicate' },
        { name: 'gone', specHash: 'x' },
        { name: 'gone', specHash: 'y' },
        { name: 'changed', specHash: 'old' },
      ],
      [
        app('fresh'),
        app('same'),
        app('fresh'),
        app('same', 'other'),
        app('changed'),
        app('changed'),
      ],
    );
    expect(plan).toEqual({
      create: ['fresh'],
      update: ['changed'],
      delete: ['gone'],
      unchanged: ['same'],
    });
  });
});

describe('applicationSpecHash', () => {
  it('is the sha256 of the JSON of labels, annotations, finalizers and spec', async () => {
    const { createHash } = await import('node:crypto');
    const { sharedConstant } = await import('../../generators/src/index.js');
    const a = app('a');
    a.metadata.labels = { team: 'x' };
    a.spec.syncPolicy = sharedConstant({ automated: { prune: true }, syncOptions: ['x=y'] });
    const plain = JSON.parse(JSON.stringify(a)) as GeneratedApplication;
    const m = a.metadata;
    const want = createHash('sha256')
      .update(JSON.stringify([m.labels, m.annotations, m.finalizers, a.spec]))
      .digest('hex');
    expect(applicationSpecHash(a)).toBe(want);
    // Shared constants or plain copies: equal content, equal hash.
    expect(applicationSpecHash(plain)).toBe(want);
    expect(applicationSpecHash({ ...a, metadata: { ...m, name: 'other' } })).toBe(want);
  });
});
