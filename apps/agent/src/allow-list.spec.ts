import { describe, expect, it } from 'vitest';
import {
  ALLOW_ALL,
  allowListRefusal,
  checkAllowList,
  clusterKindRefusal,
  defaultClusterKinds,
  patterns,
  projectClusterScopedRefusal,
  restrictsClusterKinds,
  scopeMatters,
  scopesOf,
  type AllowList,
} from './allow-list.js';

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

  describe('cluster-scoped kinds', () => {
    const CLUSTER = new Set([
      'Namespace',
      'ClusterRole',
      'ClusterRoleBinding',
      'CustomResourceDefinition',
    ]);
    const scope = (o: { kind: string }) => !CLUSTER.has(o.kind);
    const teamA: AllowList = { namespaces: ['team-a*'], allowedKinds: ['*'], deniedKinds: [] };
    const crb = obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'admin-for-all');

    it('are refused by an agent limited to some namespaces, unless listed', () => {
      expect(restrictsClusterKinds(teamA)).toBe(true);
      expect(restrictsClusterKinds(ALLOW_ALL)).toBe(false);
      expect(checkAllowList(teamA, [crb, obj('v1', 'ConfigMap', 'c')], 'team-a', scope)).toEqual([
        'kind rbac.authorization.k8s.io/ClusterRoleBinding may not be applied cluster-scoped on this cluster (ClusterRoleBinding/admin-for-all; AXLE_AGENT_ALLOWED_CLUSTER_KINDS)',
      ]);
      const listed = { ...teamA, clusterKinds: ['rbac.authorization.k8s.io/ClusterRole'] };
      expect(
        checkAllowList(
          listed,
          [obj('rbac.authorization.k8s.io/v1', 'ClusterRole', 'reader'), crb],
          'team-a',
          scope,
        ),
      ).toHaveLength(1);
      // Everything, when the namespaces are not limited (or the kinds are listed as "*").
      expect(checkAllowList({ ...teamA, namespaces: ['*'] }, [crb], 'x', scope)).toEqual([]);
      expect(checkAllowList({ ...teamA, clusterKinds: ['*'] }, [crb], 'team-a', scope)).toEqual([]);
    });

    it('are refused whatever namespace the manifest names (it is dropped when applied)', () => {
      const disguised = obj('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'x', 'team-a');
      expect(allowListRefusal(teamA, [disguised], 'team-a', scope)).toContain(
        'may not be applied cluster-scoped',
      );
      // Without knowing the scope, only what the manifest says is checked.
      expect(allowListRefusal(teamA, [disguised], 'team-a')).toBeUndefined();
    });

    it('leave Namespace objects to the namespace patterns', () => {
      expect(
        checkAllowList(
          teamA,
          [obj('v1', 'Namespace', 'team-a-dev'), obj('v1', 'Namespace', 'b')],
          'team-a-dev',
          scope,
        ),
      ).toEqual(['namespace "b" is not allowed on this cluster (Namespace/b)']);
    });

    it("are bounded by the application's project too, when the hub sends its bound", () => {
      const tenant = obj('example.com/v1', 'Tenant', 't');
      const tenantScope = (o: { kind: string }) => o.kind !== 'Tenant';
      const project = [{ group: 'rbac.authorization.k8s.io', kind: '*' }];
      expect(scopeMatters(ALLOW_ALL, project)).toBe(true);
      expect(scopeMatters(ALLOW_ALL, undefined)).toBe(false);
      expect(scopeMatters(ALLOW_ALL, [{ group: '*', kind: '*' }])).toBe(false);
      expect(allowListRefusal(ALLOW_ALL, [tenant, crb], 'x', tenantScope, project)).toBe(
        "refused by the application's project: kind example.com/Tenant may not be applied cluster-scoped (Tenant/t; the project's spec.clusterKinds)",
      );
      // Both say no: both are named.
      expect(allowListRefusal(teamA, [tenant], 'team-a', tenantScope, project)).toMatch(
        /^refused by this cluster's allow-list: .*Tenant.*; refused by the application's project: /,
      );
    });

    it("read a project's kinds as the hub sends them: group '' is the core group, '*' any", () => {
      const pv = { group: '', kind: 'PersistentVolume', name: 'pv' };
      const coreOnly = [{ group: '', kind: 'PersistentVolume' }];
      expect(projectClusterScopedRefusal(coreOnly, pv)).toBeUndefined();
      expect(projectClusterScopedRefusal(coreOnly, { ...pv, group: 'storage.k8s.io' })).toMatch(
        /^kind storage.k8s.io\/PersistentVolume may not be applied cluster-scoped \(/,
      );
      expect(
        projectClusterScopedRefusal([{ group: '*', kind: 'Persistent*' }], pv),
      ).toBeUndefined();
      expect(projectClusterScopedRefusal([], pv)).toMatch(/the project's spec.clusterKinds\)$/);
      expect(projectClusterScopedRefusal(undefined, pv)).toBeUndefined();
      // Namespaces are the project's namespace list's business (checked at the hub).
      expect(projectClusterScopedRefusal([], { group: '', kind: 'Namespace', name: 'n' })).toBe(
        undefined,
      );
      expect(clusterKindRefusal(teamA, [], pv)).toMatch(/^refused by this cluster's allow-list: /);
      expect(clusterKindRefusal(undefined, [], pv)).toMatch(
        /^refused by the application's project: /,
      );
    });

    it('default to every kind only when every namespace is allowed', () => {
      expect(defaultClusterKinds(['*'])).toEqual(['*']);
      expect(defaultClusterKinds(['team-*'])).toEqual([]);
    });

    it('are told by discovery, else by a CRD among the objects, else not known', async () => {
      const crd = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: 'tenants.example.com' },
        spec: { group: 'example.com', names: { kind: 'Tenant' }, scope: 'Cluster' },
      };
      const tenant = obj('example.com/v1', 'Tenant', 't');
      const widget = obj('example.com/v1', 'Widget', 'w');
      const asked: string[] = [];
      const served = (apiVersion: string, kind: string) => {
        asked.push(`${apiVersion} ${kind}`);
        return Promise.resolve(
          kind === 'ConfigMap' ? true : kind === 'CustomResourceDefinition' ? false : undefined,
        );
      };
      const objects = [
        crd,
        tenant,
        widget,
        obj('v1', 'ConfigMap', 'a'),
        obj('v1', 'ConfigMap', 'b'),
      ];
      const of = await scopesOf(objects, served);
      expect([crd, tenant, widget, objects[3]].map(of)).toEqual([false, false, undefined, true]);
      expect(asked).toHaveLength(4); // once per kind
      expect(checkAllowList(teamA, [crd, tenant], 'team-a', of)).toHaveLength(2);
    });
  });
});
