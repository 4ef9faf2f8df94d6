import { describe, expect, it } from 'vitest';
import { ALLOW_ALL, checkAllowList, patterns, type AllowList } from './allow-list.js';

const obj = (apiVersion: string, kind: string, name: string, namespace?: string) => ({
  apiVersion,
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}) },
});

describe('agent allow-list', () => {
  const list: AllowList = {
    namespaces: ['team-*'],
    allowedKinds: ['*'],
    deniedKinds: ['rbac.authorization.k8s.io/ClusterRole*', 'core/Secret'],
  };

  it('allows everything by default', () => {
    expect(
      checkAllowList(
        ALLOW_ALL,
        [obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'x')],
        'kube-system',
      ),
    ).toEqual([]);
  });

  it('refuses denied kinds, namespaces outside the list, and says which object', () => {
    expect(
      checkAllowList(
        list,
        [
          obj('v1', 'ConfigMap', 'ok', 'team-a'),
          obj('v1', 'Secret', 's'),
          obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'crb'),
          obj('apps/v1', 'Deployment', 'd', 'kube-system'),
        ],
        'team-a',
      ),
    ).toEqual([
      'kind core/Secret is not allowed on this cluster (Secret/s)',
      'kind rbac.authorization.k8s.io/ClusterRoleBinding is not allowed on this cluster (ClusterRoleBinding/crb)',
      'namespace "kube-system" is not allowed on this cluster (Deployment/d)',
    ]);
    expect(checkAllowList(list, [], 'default')).toEqual([
      'namespace "default" is not allowed on this cluster',
    ]);
  });

  it('checks Namespace objects against the allowed namespaces', () => {
    const namespaces = { ...ALLOW_ALL, namespaces: ['team-a*'] };
    expect(
      checkAllowList(
        namespaces,
        [obj('v1', 'Namespace', 'team-a-dev'), obj('v1', 'Namespace', 'team-b')],
        'team-a-dev',
      ),
    ).toEqual(['namespace "team-b" is not allowed on this cluster (Namespace/team-b)']);
  });

  it('reads comma-separated patterns', () => {
    expect(patterns(' a, b ,,', ['*'])).toEqual(['a', 'b']);
    expect(patterns('', ['*'])).toEqual(['*']);
  });

  it('matches a pattern with many stars in time pattern × value (no backtracking)', () => {
    // As a regular expression (`*` → `.*`) this ran past the test's time-out against a
    // 63-character namespace.
    const many: AllowList = {
      namespaces: ['*a*a*a*a*a*a*a*a*a*a*b'],
      allowedKinds: ['*'],
      deniedKinds: [],
    };
    const ns = 'a'.repeat(63);
    expect(checkAllowList(many, [obj('v1', 'ConfigMap', 'c', ns)], ns)).toHaveLength(2);
    expect(checkAllowList(many, [obj('v1', 'ConfigMap', 'c', `${ns}b`)], `${ns}b`)).toEqual([]);
  });
});
