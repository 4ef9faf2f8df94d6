import { describe, expect, it } from 'vitest';
import { crdScopes, knownClusterScoped } from './scope.js';

const crd = (group: string, kind: string, scope: string) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${kind.toLowerCase()}s.${group}` },
  spec: { group, names: { kind }, scope },
});

describe('scope of kinds without a cluster', () => {
  it('knows the built-in cluster-scoped kinds', () => {
    expect(knownClusterScoped('rbac.authorization.k8s.io', 'ClusterRoleBinding')).toBe(true);
    expect(knownClusterScoped('', 'PersistentVolume')).toBe(true);
    expect(knownClusterScoped('rbac.authorization.k8s.io', 'RoleBinding')).toBe(false);
    expect(knownClusterScoped('', 'ConfigMap')).toBe(false);
    // Same kind name, another group: not the built-in one.
    expect(knownClusterScoped('example.com', 'ClusterRole')).toBe(false);
  });

  it('reads the scope of the kinds CRDs beside them define', () => {
    const crds = crdScopes([
      crd('example.com', 'Tenant', 'Cluster'),
      crd('example.com', 'Widget', 'Namespaced'),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
      // Not a CRD (another group), nor a complete one.
      { ...crd('example.com', 'Fake', 'Cluster'), apiVersion: 'example.com/v1' },
      { ...crd('example.com', 'Half', 'Cluster'), spec: { scope: 'Cluster' } },
    ]);
    expect([...crds]).toEqual([
      ['example.com/Tenant', false],
      ['example.com/Widget', true],
    ]);
    expect(knownClusterScoped('example.com', 'Tenant', crds)).toBe(true);
    expect(knownClusterScoped('example.com', 'Widget', crds)).toBe(false);
    expect(knownClusterScoped('example.com', 'Fake', crds)).toBe(false);
  });
});
