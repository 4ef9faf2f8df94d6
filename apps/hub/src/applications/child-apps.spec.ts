import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import {
  childDocuments,
  childServers,
  holdsChildren,
  MAX_CHILD_APPLICATIONS,
  parseChildren,
} from './child-apps.js';

const REPO = 'https://git.example/apps.git';

function argoApp(name: string, over: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name,
      namespace: 'argocd',
      labels: { team: 'web' },
      finalizers: ['resources-finalizer.argocd.argoproj.io'],
    },
    spec: {
      project: 'default',
      source: { repoURL: REPO, targetRevision: 'HEAD', path: `apps/${name}` },
      destination: { name: 'east', namespace: name },
      syncPolicy: { automated: { prune: true } },
      ...over,
    },
  };
}

describe('child applications (app of apps)', () => {
  it('finds the Argo CD Applications among the objects, and only those', () => {
    const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } };
    const other: KubeObject = {
      apiVersion: 'example.com/v1',
      kind: 'Application',
      metadata: { name: 'not-argo' },
    };
    const a = argoApp('web');
    expect(childDocuments([cm, other, a])).toEqual([a]);
    expect(
      holdsChildren([
        { group: 'argoproj.io', kind: 'Application', namespace: 'argocd', name: 'w' },
      ]),
    ).toBe(true);
    expect(
      holdsChildren([{ group: 'example.com', kind: 'Application', namespace: '', name: 'w' }]),
    ).toBe(false);
  });

  it('parses each document as POST /applications does: name, labels and spec', () => {
    const { children, errors } = parseChildren([argoApp('web'), argoApp('api')], new Map());
    expect(errors).toEqual([]);
    expect(children.map((c) => c.name)).toEqual(['web', 'api']);
    expect(children[0].labels).toEqual({ team: 'web' });
    expect(children[0].spec.destination).toEqual({ cluster: 'east', namespace: 'web' });
    expect(children[0].spec.source.path).toBe('apps/web');
    expect(children[0].spec.syncPolicy.automated?.prune).toBe(true);
  });

  it('resolves destination servers to the registered cluster with that server', () => {
    const doc = argoApp('web', {
      destination: { server: 'https://east.example:6443', namespace: 'web' },
    });
    expect(childServers([doc, argoApp('api')])).toEqual(['https://east.example:6443']);
    const ok = parseChildren([doc], new Map([['https://east.example:6443', ['east']]]));
    expect(ok.children[0].spec.destination.cluster).toBe('east');
    const unknown = parseChildren([doc], new Map([['https://east.example:6443', []]]));
    expect(unknown.errors).toEqual([
      'child application "web": spec.destination.server: no registered cluster has server "https://east.example:6443"',
    ]);
  });

  it('refuses a broken document naming it and its fields, and keeps the others', () => {
    const broken = argoApp('broken', { source: { repoURL: REPO, path: '../../etc' } });
    const nameless = {
      ...argoApp('x'),
      metadata: { namespace: 'argocd' },
    } as unknown as KubeObject;
    const { children, errors } = parseChildren([broken, argoApp('web'), nameless], new Map());
    expect(children.map((c) => c.name)).toEqual(['web']);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^child application "broken": spec\.source\.\S+: /);
    expect(errors[1]).toMatch(/^child application #3 \(no name\): metadata\.name: /);
    // A refused document still names its child (pruning keeps it); one without a name might be
    // any child.
    const { named, unnamed } = parseChildren([broken, argoApp('web'), nameless], new Map());
    expect(named).toEqual(['broken', 'web']);
    expect(unnamed).toBe(true);
    expect(parseChildren([broken], new Map()).unnamed).toBe(false);
  });

  it('refuses a name given twice, dependencies, and what is beyond the bound', () => {
    const dup = parseChildren([argoApp('web'), argoApp('web')], new Map());
    expect(dup.children).toHaveLength(1);
    expect(dup.errors).toEqual(['child application "web": named twice in the manifests']);

    const many = Array.from({ length: MAX_CHILD_APPLICATIONS + 3 }, (_, i) => argoApp(`a-${i}`));
    const bounded = parseChildren(many, new Map());
    expect(bounded.children).toHaveLength(MAX_CHILD_APPLICATIONS);
    expect(bounded.errors).toEqual([
      `3 child application(s) beyond the first ${MAX_CHILD_APPLICATIONS} ignored`,
    ]);
  });
});
