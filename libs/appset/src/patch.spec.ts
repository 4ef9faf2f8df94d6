import { describe, expect, it } from 'vitest';
import { applyTemplatePatch } from './patch.js';

const app = () => ({
  metadata: {
    name: 'a',
    labels: { keep: 'x', drop: 'y' },
    finalizers: ['resources-finalizer.argocd.argoproj.io'],
  },
  spec: {
    project: 'default',
    source: {
      repoURL: 'r',
      path: 'p',
      helm: { valueFiles: ['a.yaml', 'b.yaml'], releaseName: 'rel' },
    },
    destination: { server: 's', namespace: 'n' },
  },
});

describe('applyTemplatePatch', () => {
  it('merges maps, replaces lists, deletes nulls', () => {
    const out = applyTemplatePatch(
      app(),
      'metadata:\n  labels:\n    drop: null\n    new: z\nspec:\n  source:\n    helm:\n      valueFiles: [c.yaml]\n  syncPolicy:\n    automated: {prune: true}\n',
    );
    expect(out).toEqual({
      metadata: {
        name: 'a',
        labels: { keep: 'x', new: 'z' },
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      spec: {
        project: 'default',
        source: { repoURL: 'r', path: 'p', helm: { valueFiles: ['c.yaml'], releaseName: 'rel' } },
        destination: { server: 's', namespace: 'n' },
        syncPolicy: { automated: { prune: true } },
      },
    });
  });

  it('treats a patch that renders to nothing, or to null, as no change (as Argo CD does)', () => {
    for (const text of ['', '\n  \n', 'null', '~', '# only a comment\n'])
      expect(applyTemplatePatch(app(), text)).toEqual(app());
    expect(() => applyTemplatePatch(app(), 'just a string')).toThrow(/expected a map/);
  });

  it('merges finalizers as a set (ObjectMeta patch strategy)', () => {
    const out = applyTemplatePatch(
      app(),
      '{"metadata": {"finalizers": ["x", "resources-finalizer.argocd.argoproj.io"]}}',
    );
    expect((out.metadata as { finalizers: string[] }).finalizers).toEqual([
      'resources-finalizer.argocd.argoproj.io',
      'x',
    ]);
  });

  it('honours $patch directives', () => {
    const out = applyTemplatePatch(
      app(),
      'spec:\n  source:\n    helm:\n      $patch: delete\n  destination:\n    $patch: replace\n    name: other\n',
    );
    expect(out.spec).toEqual({
      project: 'default',
      source: { repoURL: 'r', path: 'p' },
      destination: { name: 'other' },
    });
  });

  it('applies RFC 6902 JSON patches', () => {
    const out = applyTemplatePatch(
      app(),
      JSON.stringify([
        { op: 'add', path: '/spec/source/helm/valueFiles/-', value: 'z.yaml' },
        { op: 'remove', path: '/metadata/labels/drop' },
        { op: 'replace', path: '/spec/destination/namespace', value: 'm' },
        { op: 'copy', from: '/spec/destination/namespace', path: '/metadata/labels/ns' },
        { op: 'test', path: '/spec/source/path', value: 'p' },
      ]),
    );
    expect(out).toMatchObject({
      metadata: { labels: { keep: 'x', ns: 'm' } },
      spec: {
        source: { helm: { valueFiles: ['a.yaml', 'b.yaml', 'z.yaml'] } },
        destination: { namespace: 'm' },
      },
    });
    expect(() =>
      applyTemplatePatch(app(), '[{"op": "add", "path": "/spec/missing/x", "value": 1}]'),
    ).toThrow(/does not exist/);
    expect(() =>
      applyTemplatePatch(app(), '[{"op": "test", "path": "/spec/source/path", "value": "q"}]'),
    ).toThrow(/test failed/);
  });

  it('never changes the project', () => {
    expect(applyTemplatePatch(app(), 'spec: {project: evil}').spec).toMatchObject({
      project: 'default',
    });
    expect(
      applyTemplatePatch(app(), '[{"op": "replace", "path": "/spec/project", "value": "evil"}]')
        .spec,
    ).toMatchObject({ project: 'default' });
  });

  it('rejects patches that are neither maps nor lists', () => {
    expect(() => applyTemplatePatch(app(), 'just a string')).toThrow(/invalid templatePatch/);
  });
});
