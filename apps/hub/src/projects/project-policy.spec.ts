import { describe, expect, it } from 'vitest';
import { repoMatch } from '../../../../libs/glob/src/index.js';
import { globMatch, ProjectPolicy, projectSpecSchema } from './project-policy.js';

const prod = { name: 'east', labels: { env: 'prod' } };
const dev = { name: 'dev-1', labels: { env: 'dev' } };

describe('ProjectPolicy', () => {
  const p = new ProjectPolicy(
    'team-a',
    projectSpecSchema.parse({
      sourceRepos: ['https://git.example.com/team-a/*'],
      destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-a-*' }],
      deniedKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole*' }],
    }),
  );

  it('matches globs', () => {
    expect(globMatch('team-a-*', 'team-a-web')).toBe(true);
    expect(globMatch('team-a-*', 'team-b-web')).toBe(false);
    expect(globMatch('a.b', 'axb')).toBe(false);
  });

  it('checks sources and destinations', () => {
    expect(p.checkSource('https://git.example.com/team-a/apps.git')).toEqual([]);
    expect(p.checkSource('https://git.example.com/team-b/apps.git')).toEqual([
      'project "team-a" does not allow source repository https://git.example.com/team-b/apps.git',
    ]);
    // As Argo CD: `*` stays within a path segment, `**` crosses them; no climbing out.
    expect(p.checkSource('https://git.example.com/team-a/sub/apps.git')).toHaveLength(1);
    expect(p.checkSource('https://git.example.com/team-a/../team-b/apps.git')).toHaveLength(1);
    expect(p.checkSource('https://git.example.com/team-a/./apps.git')).toHaveLength(1);
    expect(
      repoMatch('https://git.example.com/team-a/**', 'https://git.example.com/team-a/sub/x.git'),
    ).toBe(true);
    expect(repoMatch('*', 'git@git.example.com:any/thing.git')).toBe(true);
    expect(p.checkDestination(dev, 'team-a-web')).toEqual([]);
    expect(p.checkDestination(prod, 'team-a-web')).toEqual([
      'project "team-a" does not allow namespace "team-a-web" on cluster "east"',
    ]);
  });

  it('checks kinds and explicit namespaces of resources', () => {
    expect(
      p.checkResources(
        [
          { group: '', kind: 'ConfigMap', namespace: '', name: 'c' },
          {
            group: 'rbac.authorization.k8s.io',
            kind: 'ClusterRoleBinding',
            namespace: '',
            name: 'x',
          },
          { group: 'apps', kind: 'Deployment', namespace: 'kube-system', name: 'd' },
        ],
        'team-a-web',
        dev,
      ),
    ).toEqual([
      'project "team-a" does not allow kind rbac.authorization.k8s.io/ClusterRoleBinding (ClusterRoleBinding/x)',
      'project "team-a" does not allow namespace "kube-system" on cluster "dev-1" (Deployment/d)',
    ]);
  });

  describe('cluster-scoped kinds', () => {
    const spec = {
      sourceRepos: ['*'],
      destinations: [{ namespace: 'team-a-*' }],
    };
    const limited = new ProjectPolicy('team-a', spec);
    // Disguised: its manifest names one of the project's namespaces, dropped when applied.
    const binding = {
      group: 'rbac.authorization.k8s.io',
      kind: 'ClusterRoleBinding',
      namespace: 'team-a-web',
      name: 'all-admin',
    };
    const refusal =
      'project "team-a" does not allow kind rbac.authorization.k8s.io/ClusterRoleBinding cluster-scoped (ClusterRoleBinding/all-admin; spec.clusterKinds)';

    it('are refused by a project limited to some namespaces, whatever namespace they name', () => {
      expect(limited.checkResources([binding], 'team-a-web', dev)).toEqual([refusal]);
      // Recorded when the bundle was stored (a CRD of the same bundle defines the kind so).
      const tenant = { group: 'example.com', kind: 'Tenant', namespace: '', name: 't' };
      expect(limited.checkResources([tenant], 'team-a-web', dev)).toEqual([]);
      expect(
        limited.checkResources([{ ...tenant, clusterScoped: true }], 'team-a-web', dev),
      ).toEqual([
        'project "team-a" does not allow kind example.com/Tenant cluster-scoped (Tenant/t; spec.clusterKinds)',
      ]);
    });

    it('are allowed when listed, or by default when the project allows every namespace', () => {
      const listed = new ProjectPolicy('team-a', {
        ...spec,
        clusterKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'Cluster*' }],
      });
      expect(listed.checkResources([binding], 'team-a-web', dev)).toEqual([]);
      const everywhere = new ProjectPolicy('default', {
        sourceRepos: ['*'],
        destinations: [{ namespace: '*' }],
      });
      expect(everywhere.checkResources([binding], 'x', dev)).toEqual([]);
      // Unless told otherwise.
      const none = new ProjectPolicy('p', {
        ...spec,
        destinations: [{ namespace: '*' }],
        clusterKinds: [],
      });
      expect(none.checkResources([binding], 'x', dev)).toHaveLength(1);
    });

    it('leave Namespace objects to the destinations', () => {
      expect(
        limited.checkResources(
          [{ group: '', kind: 'Namespace', namespace: '', name: 'team-a-jobs' }],
          'team-a-web',
          dev,
        ),
      ).toEqual([]);
    });
  });

  it('checks a Namespace object by its name, as a destination namespace', () => {
    expect(
      p.checkResources(
        [
          { group: '', kind: 'Namespace', namespace: '', name: 'team-a-jobs' },
          { group: '', kind: 'Namespace', namespace: '', name: 'kube-system' },
        ],
        'team-a-web',
        dev,
      ),
    ).toEqual([
      'project "team-a" does not allow namespace "kube-system" on cluster "dev-1" (Namespace/kube-system)',
    ]);
  });
});
