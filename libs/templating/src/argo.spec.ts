import { describe, expect, it } from 'vitest';
import {
  TemplateError,
  flattenParams,
  parseGoTemplateOptions,
  renderFastTemplate,
  renderTemplateTree,
  sanitizeName,
  slugifyName,
} from './index.js';

const appTemplate = {
  metadata: {
    name: '{{ .cluster.name | normalize }}-guestbook',
    labels: { 'team-{{ .team }}': 'owner', static: 'x' },
  },
  spec: {
    project: 'default',
    source: { path: 'apps/{{ .app }}', helm: { valueFiles: ['values-{{ .env }}.yaml'] } },
    destination: { server: '{{ .cluster.server }}' },
    syncPolicy: { automated: { prune: true }, retry: { limit: 5 } },
    ignoreDifferences: null,
  },
};

describe('renderTemplateTree', () => {
  const params = {
    cluster: { name: 'In-Cluster_1', server: 'https://kubernetes.default.svc' },
    team: 'a',
    app: 'guestbook',
    env: 'prod',
  };

  it('renders every string and map key in Go mode', () => {
    const out = renderTemplateTree(appTemplate, params, {
      goTemplate: true,
      goTemplateOptions: ['missingkey=error'],
    });
    expect(out).toEqual({
      metadata: { name: 'in-cluster-1-guestbook', labels: { 'team-a': 'owner', static: 'x' } },
      spec: {
        project: 'default',
        source: { path: 'apps/guestbook', helm: { valueFiles: ['values-prod.yaml'] } },
        destination: { server: 'https://kubernetes.default.svc' },
        syncPolicy: { automated: { prune: true }, retry: { limit: 5 } },
        ignoreDifferences: null,
      },
    });
    expect(appTemplate.metadata.name).toContain('{{'); // input untouched
  });

  it('renders in fasttemplate mode with flattened params', () => {
    const tpl = { name: '{{cluster.name}}-{{ app }}', keep: '{{unknown}}', n: 3 };
    expect(renderTemplateTree(tpl, flattenParams(params), { goTemplate: false })).toEqual({
      name: 'In-Cluster_1-guestbook',
      keep: '{{unknown}}',
      n: 3,
    });
  });

  it('reports where in the tree an error happened', () => {
    let err: TemplateError | undefined;
    try {
      renderTemplateTree(
        appTemplate,
        { cluster: { name: 'x' } },
        { goTemplate: true, goTemplateOptions: ['missingkey=error'] },
      );
    } catch (e) {
      err = e as TemplateError;
    }
    expect(err).toBeInstanceOf(TemplateError);
    expect(err?.path).toBe('metadata.labels.team-{{ .team }}');
    expect(err?.message).toBe(
      'template: :1:8: executing "" at <.team>: map has no entry for key "team"',
    );
  });

  it('validates goTemplateOptions like Go', () => {
    expect(parseGoTemplateOptions(['missingkey=zero'])).toEqual({ missingKey: 'zero' });
    expect(parseGoTemplateOptions(['missingkey=invalid'])).toEqual({ missingKey: 'default' });
    expect(() => parseGoTemplateOptions(['missingkey=nope'])).toThrow(
      'unrecognized option: missingkey=nope',
    );
    expect(() => parseGoTemplateOptions(['foo'])).toThrow(TemplateError);
  });

  it('caches parsed templates, including parse errors', () => {
    const tpl = { a: '{{ .x }' };
    for (let i = 0; i < 3; i++) {
      expect(() => renderTemplateTree(tpl, {}, { goTemplate: true })).toThrow(
        'template: :1: unexpected "}" in operand',
      );
    }
  });
});

describe('Argo helpers', () => {
  it('sanitizeName (normalize)', () => {
    expect(sanitizeName('Hello_World.Foo Bar!')).toBe('hello-world.foo-bar');
    expect(sanitizeName('..--x--..')).toBe('x');
    expect(sanitizeName('a'.repeat(300))).toHaveLength(253);
  });

  it('slugifyName', () => {
    expect(slugifyName(['Hello World-Foo.Bar'])).toBe('hello-world-foo-bar');
    expect(slugifyName([10, 'hello world foo bar'])).toBe('hello');
    expect(slugifyName([10, false, 'hello world foo bar'])).toBe('hello-worl');
  });

  it('renderFastTemplate leaves unknown and non-string params alone', () => {
    expect(renderFastTemplate('{{a}} {{ b }} {{c}}', { a: '1', b: '2' })).toBe('1 2 {{c}}');
    expect(() => renderFastTemplate('{{a}} {{b', { a: '1' })).toThrow(
      'invalid template: Cannot find end tag="}}" in the template="{{a}} {{b" starting from "b"',
    );
  });

  it('flattenParams', () => {
    expect(flattenParams({ a: { b: [1, { c: 2.5 }] }, n: null, big: 1000000, e: {} })).toEqual({
      'a.b.0': '1',
      'a.b.1.c': '2.5',
      n: '<nil>',
      big: '1e+06',
    });
  });
});
