import { describe, expect, it } from 'vitest';
import { sharedConstant } from '../../generators/src/index.js';
import {
  applicationSpecHash,
  nameIndex,
  planChanges,
  planOptionsFor,
  SpecHashMemo,
} from './plan.js';
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

  it('plans the same with the index of what exists given as without it', () => {
    const existing = [
      { name: 'same', specHash: applicationSpecHash(app('same')) },
      { name: 'same', specHash: 'stale duplicate' },
      { name: 'gone', specHash: 'x' },
    ];
    const again = [app('fresh'), app('same'), app('same', 'other')];
    const index = nameIndex(existing);
    expect([...index]).toEqual([
      ['same', 0],
      ['gone', 2],
    ]);
    expect(planChanges(existing, again, 'sync', { index })).toEqual(
      planChanges(existing, again, 'sync'),
    );
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

describe('SpecHashMemo', () => {
  // An application hashed, then changed in place (what callers must not do): the memo's answer
  // for an equal application shows whether it came from the memo or from hashing.
  const sabotaged = (memo: SpecHashMemo, name: string) => {
    const a = app(name);
    const before = memo.hash(a);
    a.spec.source.path = 'changed-after-hashing';
    return { stale: before, fresh: applicationSpecHash(app(name, 'changed-after-hashing')) };
  };

  it('gives the hash of the application, remembered from the previous round when equal', () => {
    const memo = new SpecHashMemo(1e9);
    memo.round();
    const { stale } = sabotaged(memo, 'a');
    memo.round();
    // Equal in content to what was hashed as "a" (as it is now): answered from the memo.
    expect(memo.hash(app('a', 'changed-after-hashing'))).toBe(stale);
    // Anything else is hashed.
    const other = app('a', 'elsewhere');
    expect(memo.hash(other)).toBe(applicationSpecHash(other));
    expect(memo.hash(app('b'))).toBe(applicationSpecHash(app('b')));
  });

  it('tells apart every field the hash covers, at any depth', () => {
    const memo = new SpecHashMemo(1);
    const variants: ((x: GeneratedApplication) => void)[] = [
      (x) => (x.metadata.labels = { env: 'prod' }),
      (x) => (x.metadata.annotations = { owner: 'team-a' }),
      (x) => (x.metadata.finalizers = []),
      (x) => (x.spec.project = 'other'),
      (x) => (x.spec.destination.namespace = 'ns-2'),
      (x) => (x.spec.source.helm = { valueFiles: ['a.yaml'] }),
      (x) => (x.spec.syncPolicy = { syncOptions: ['CreateNamespace=true'] }),
      (x) => (x.spec.syncPolicy = { syncOptions: ['CreateNamespace=false'] }),
      (x) => (x.spec.syncPolicy = { syncOptions: ['CreateNamespace=true', 'Prune=false'] }),
      (x) => (x.spec.source = { path: 'a', repoURL: 'https://x/r.git' }),
    ];
    let prev: string | undefined;
    for (const change of variants) {
      memo.round();
      const x = app('a');
      change(x);
      const h = memo.hash(x);
      expect(h).toBe(applicationSpecHash(x));
      expect(h).not.toBe(prev);
      prev = h;
    }
    expect(memo.mismatches).toBe(0);
  });

  it('keeps two rounds: what a round did not see is gone after the next', () => {
    const memo = new SpecHashMemo(1e9);
    memo.round();
    const { fresh } = sabotaged(memo, 'a');
    memo.round(); // "a" not generated in this round
    memo.round();
    expect(memo.hash(app('a', 'changed-after-hashing'))).toBe(fresh);
    expect(memo.applications).toBe(1);
  });

  it("finds the last round's applications in any order, and those it did not have", () => {
    const memo = new SpecHashMemo(1e9);
    memo.round();
    const stale = ['a', 'b', 'c', 'd'].map((n) => sabotaged(memo, n).stale);
    memo.round();
    // Out of order, one missing and one new: each one the memo had is answered from it.
    for (const [i, n] of [
      [2, 'c'],
      [0, 'a'],
      [1, 'b'],
    ] as const)
      expect(memo.hash(app(n, 'changed-after-hashing')), n).toBe(stale[i]);
    const e = app('e');
    expect(memo.hash(e)).toBe(applicationSpecHash(e));
    memo.round();
    // "d" was not asked for in the round before: gone. The others are kept, in their new order.
    expect(memo.hash(app('d', 'changed-after-hashing'))).toBe(
      applicationSpecHash(app('d', 'changed-after-hashing')),
    );
    for (const [i, n] of [
      [0, 'a'],
      [1, 'b'],
      [2, 'c'],
    ] as const)
      expect(memo.hash(app(n, 'changed-after-hashing')), n).toBe(stale[i]);
    expect(memo.applications).toBe(4);
  });

  it("takes a template's constant parts of another generation as equal when their JSON is", () => {
    const memo = new SpecHashMemo(1e9);
    const withPolicy = (policy: GeneratedApplication['spec']['syncPolicy']) => {
      const x = app('a');
      x.spec.syncPolicy = policy;
      return x;
    };
    const policy = { automated: { prune: true }, syncOptions: ['CreateNamespace=true'] };
    memo.round();
    const first = withPolicy(sharedConstant(policy));
    const hashed = memo.hash(first);
    first.spec.source.path = 'changed-after-hashing';
    // The constants of another generation: equal JSON is the same (here with a key that JSON
    // leaves out, which a walk would tell apart), other JSON is not.
    memo.round();
    const equal = withPolicy(sharedConstant({ ...policy, retry: undefined }));
    equal.spec.source.path = 'changed-after-hashing';
    expect(memo.hash(equal)).toBe(hashed);
    memo.round();
    const other = withPolicy(sharedConstant({ ...policy, syncOptions: [] }));
    other.spec.source.path = 'changed-after-hashing';
    expect(memo.hash(other)).toBe(applicationSpecHash(other));
  });

  it('takes over, and checks, an application given again in a later round as it is', () => {
    const memo = new SpecHashMemo(1e9);
    memo.round();
    const { stale } = sabotaged(memo, 'a');
    memo.round();
    const again = app('a', 'changed-after-hashing');
    expect(memo.hash(again)).toBe(stale);
    // The same object in the round after: kept for the one after that.
    memo.round();
    expect(memo.hash(again)).toBe(stale);
    memo.round();
    expect(memo.hash(app('a', 'changed-after-hashing'))).toBe(stale);
    // Checked like any other hit: a change in place is found.
    const checked = new SpecHashMemo(1);
    checked.round();
    const x = app('b');
    checked.hash(x);
    x.spec.source.path = 'changed-after-hashing';
    checked.round();
    expect(checked.hash(x)).toBe(applicationSpecHash(x));
    expect(checked.mismatches).toBe(1);
  });

  it('answers again for the same application within a round', () => {
    const memo = new SpecHashMemo(1e9);
    memo.round();
    const a = app('a');
    const h = memo.hash(a);
    expect(memo.hash(a)).toBe(h);
    memo.round();
    const b = app('a', 'new-path');
    const hb = memo.hash(b);
    expect(hb).toBe(applicationSpecHash(b));
    expect(memo.hash(b)).toBe(hb);
  });

  it('finds an application changed after it was hashed when it checks, and turns itself off', () => {
    const memo = new SpecHashMemo(1);
    memo.round();
    const { fresh } = sabotaged(memo, 'a');
    memo.round();
    expect(memo.hash(app('a', 'changed-after-hashing'))).toBe(fresh);
    expect(memo.mismatches).toBe(1);
    memo.round();
    const { fresh: fresh2 } = sabotaged(memo, 'b');
    memo.round();
    expect(memo.hash(app('b', 'changed-after-hashing'))).toBe(fresh2);
  });

  it('takes values other than plain JSON as equal only to themselves', () => {
    const memo = new SpecHashMemo(1e9);
    const withValue = (v: unknown) => {
      const x = app('a');
      (x.spec.source as unknown as Record<string, unknown>).extra = v;
      return x;
    };
    memo.round();
    memo.hash(withValue(new Date(0)));
    memo.round();
    const later = withValue(new Date(86_400_000));
    expect(memo.hash(later)).toBe(applicationSpecHash(later));
  });

  it('is what planChanges compares with when given', () => {
    const memo = new SpecHashMemo(1e9);
    memo.round();
    const { stale } = sabotaged(memo, 'same');
    memo.round();
    const stored = [{ name: 'same', specHash: stale }];
    const again = [app('same', 'changed-after-hashing')];
    expect(planChanges(stored, again, 'sync', { hashOf: (x) => memo.hash(x) }).unchanged).toEqual([
      'same',
    ]);
    expect(planChanges(stored, again, 'sync').update).toEqual(['same']);
  });
});
