import { describe, expect, it } from 'vitest';
import { ProjectGate } from './project-gate.js';
import { ProjectPolicy } from './project-policy.js';

const team = new ProjectPolicy('team', {
  sourceRepos: ['https://git.example/team/*'],
  destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-*' }],
  deniedKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }],
});
const dev = { name: 'dev-1', labels: { env: 'dev' } };
const prod = { name: 'prod-1', labels: { env: 'prod' } };

describe('ProjectGate', () => {
  const gate = new ProjectGate(new Map([['team', team]]));

  it('allows what the project allows', () => {
    expect(
      gate.check({
        project: 'team',
        repoURL: 'https://git.example/team/apps',
        cluster: dev,
        namespace: 'team-a',
        bundle: {
          hash: 'h1',
          resources: [{ group: '', kind: 'ConfigMap', namespace: '', name: 'x' }],
        },
      }),
    ).toEqual([]);
  });

  it('names each refusal: unknown project, source, destination, kind, namespace', () => {
    expect(gate.check({ project: 'nope', namespace: 'x' })).toEqual([
      'project "nope" does not exist',
    ]);
    expect(
      gate.check({ project: 'team', repoURL: 'https://elsewhere/x', namespace: 'team-a' }),
    ).toEqual(['project "team" does not allow source repository https://elsewhere/x']);
    expect(gate.check({ project: 'team', cluster: prod, namespace: 'team-a' })).toEqual([
      'project "team" does not allow namespace "team-a" on cluster "prod-1"',
    ]);
    const why = gate.check({
      project: 'team',
      cluster: dev,
      namespace: 'team-a',
      bundle: {
        hash: 'h2',
        resources: [
          { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole', namespace: '', name: 'admin' },
          { group: '', kind: 'ConfigMap', namespace: 'kube-system', name: 'c' },
        ],
      },
    });
    expect(why).toEqual([
      'project "team" does not allow kind rbac.authorization.k8s.io/ClusterRole (ClusterRole/admin)',
      'project "team" does not allow namespace "kube-system" on cluster "dev-1" (ConfigMap/c)',
    ]);
  });

  it('checks each distinct combination once', () => {
    let calls = 0;
    const counting = new ProjectPolicy('team', team.spec);
    const orig = counting.checkResources.bind(counting);
    counting.checkResources = (...a) => {
      calls++;
      return orig(...a);
    };
    const g = new ProjectGate(new Map([['team', counting]]));
    const bundle = { hash: 'same', resources: [] };
    for (let i = 0; i < 1000; i++)
      g.check({ project: 'team', cluster: dev, namespace: 'team-a', bundle });
    g.check({
      project: 'team',
      cluster: { ...dev, labels: { env: 'dev', x: '1' } },
      namespace: 'team-a',
      bundle,
    });
    expect(calls).toBe(2);
  });

  it('lets an allow-everything project through without a look, and still checks its bundles', () => {
    const open = new ProjectPolicy('open', {
      sourceRepos: ['*'],
      destinations: [{ namespace: '*' }],
      deniedKinds: [{ group: '', kind: 'Secret' }],
    });
    expect(open.allowsAll).toEqual({ source: true, destination: true });
    expect(team.allowsAll).toEqual({ source: false, destination: false });
    const g = new ProjectGate(new Map([['open', open]]));
    expect(g.check({ project: 'open', repoURL: 'https://any/where', namespace: 'x' })).toEqual([]);
    expect(g.check({ project: 'open', cluster: prod, namespace: 'anything' })).toEqual([]);
    // Exactly globMatch's answer: `*` does not match across a line break.
    expect(g.check({ project: 'open', repoURL: 'https://a\nb', namespace: 'x' })).toEqual([
      'project "open" does not allow source repository https://a\nb',
    ]);
    expect(
      g.check({
        project: 'open',
        cluster: prod,
        namespace: 'x',
        bundle: { hash: 'h', resources: [{ group: '', kind: 'Secret', namespace: '', name: 's' }] },
      }),
    ).toEqual(['project "open" does not allow kind core/Secret (Secret/s)']);
  });
});
