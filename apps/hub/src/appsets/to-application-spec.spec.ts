import { describe, expect, it } from 'vitest';
import type { GeneratedApplication } from '../../../../libs/appset/src/index.js';
import {
  readsClockOrChance,
  requeueSeconds,
  serviceGenerators,
  toApplicationSpec,
} from './to-application-spec.js';

const doc = (generators: unknown[]) => ({ spec: { generators } });

describe('requeue of ApplicationSets that ask services', () => {
  it("takes the shortest requeueAfterSeconds, Argo CD's defaults otherwise, at any depth", () => {
    expect(requeueSeconds(doc([{ list: { elements: [] } }]))).toBeNull();
    expect(requeueSeconds(doc([{ pullRequest: { github: {} } }]))).toBe(1800);
    expect(
      requeueSeconds(doc([{ clusterDecisionResource: { configMapRef: 'x', name: 'y' } }])),
    ).toBe(180);
    expect(
      requeueSeconds(
        doc([
          {
            matrix: {
              generators: [
                { plugin: { configMapRef: { name: 'p' }, requeueAfterSeconds: 60 } },
                { scmProvider: { github: {}, requeueAfterSeconds: 30 } },
              ],
            },
          },
        ]),
      ),
    ).toBe(30);
    // 0: never by itself (but still never skipped by the input fingerprint).
    const never = doc([{ plugin: { configMapRef: { name: 'p' }, requeueAfterSeconds: 0 } }]);
    expect(requeueSeconds(never)).toBeNull();
    expect(serviceGenerators(never)).toHaveLength(1);
  });
});

describe('ApplicationSets evaluated every time', () => {
  it('finds a service generator nested as deep as the document goes', () => {
    let g: unknown = { plugin: { configMapRef: { name: 'p' } } };
    for (let i = 0; i < 30; i++) g = { matrix: { generators: [{ list: { elements: [] } }, g] } };
    expect(serviceGenerators(doc([g]))).toEqual([{ type: 'plugin', requeueSeconds: 1800 }]);
  });

  it('finds the clock or chance in any template, and nothing else', () => {
    const withTemplate = (template: unknown, more: object = {}) => ({
      spec: { generators: [{ list: { elements: [] } }], template, ...more },
    });
    const meta = (labels: Record<string, string>) => withTemplate({ metadata: { labels } });
    expect(readsClockOrChance(meta({ day: '{{ now | date "2006-01-02" }}' }))).toBe(true);
    expect(readsClockOrChance(meta({ id: '{{ randAlphaNum 5 }}' }))).toBe(true);
    expect(readsClockOrChance(meta({ id: '{{uuidv4}}' }))).toBe(true);
    expect(readsClockOrChance(meta({ age: '{{ ago .since }}' }))).toBe(true);
    expect(readsClockOrChance(meta({ day: '{{ date "2006-01-02" "" }}' }))).toBe(true);
    expect(readsClockOrChance(meta({ day: '{{ htmlDate "x" }}' }))).toBe(true);
    expect(readsClockOrChance(withTemplate({}, { templatePatch: 'x: {{ now }}' }))).toBe(true);
    const inGenerator = {
      spec: {
        generators: [{ git: { repoURL: 'r', values: { at: '{{ now | unixEpoch }}' } } }],
        template: {},
      },
    };
    expect(readsClockOrChance(inGenerator)).toBe(true);
    // A field or variable named like one, a word outside a template.
    expect(readsClockOrChance(meta({ a: '{{ .now }}', b: '{{ $now }}', c: 'now' }))).toBe(false);
    expect(readsClockOrChance(meta({ e: '{{ .nowhere }}-{{ randomly }}' }))).toBe(false);
  });
});

describe('generated applications as the hub stores them', () => {
  const generated = (spec: Partial<GeneratedApplication['spec']>): GeneratedApplication => ({
    metadata: { name: 'web-east' },
    spec: {
      project: 'default',
      source: { repoURL: 'https://git.example/r.git', targetRevision: 'main', path: 'web' },
      destination: { name: 'east', server: 'https://east', namespace: '' },
      ...spec,
    },
  });

  it("keeps Argo CD's automated options, with no namespace for an empty one", () => {
    const out = toApplicationSpec(
      generated({
        syncPolicy: {
          automated: { prune: true, allowEmpty: true },
          retry: { backoff: { duration: '5' } },
        },
      }),
    );
    if ('error' in out) throw new Error(out.error);
    expect(out.spec.syncPolicy.automated).toEqual({
      prune: true,
      selfHeal: false,
      allowEmpty: true,
    });
    expect(out.spec.syncPolicy.retry?.backoff?.duration).toBe('5s');
    expect(out.spec.destination).toEqual({ cluster: 'east' });
    const off = toApplicationSpec(generated({ syncPolicy: { automated: { enabled: false } } }));
    expect('spec' in off && off.spec.syncPolicy.automated).toBeUndefined();
  });

  it('says which Argo CD fields Axle does not support', () => {
    const out = toApplicationSpec(
      generated({
        source: {
          repoURL: 'https://git.example/r.git',
          targetRevision: 'main',
          path: 'web',
          kustomize: { patches: [] },
        },
      }),
    );
    expect(out).toEqual({
      error:
        'spec.source.kustomize.patches: not supported by Axle (put the patches in the kustomization in git)',
    });
  });
});
