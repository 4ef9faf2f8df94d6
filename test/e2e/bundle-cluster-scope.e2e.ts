import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BundleClusterScope1766100000000 } from '../../apps/hub/src/database/migrations/1766100000000-BundleClusterScope.js';
import {
  compressBundle,
  makeBundle,
  resourceKey,
  type KubeObject,
} from '../../libs/manifests/src/index.js';
import { migratedDataSource } from '../support/hub-harness.js';

const tenantCrd: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'tenants.example.com' },
  spec: { group: 'example.com', names: { kind: 'Tenant', plural: 'tenants' }, scope: 'Cluster' },
};
const tenant: KubeObject = {
  apiVersion: 'example.com/v1',
  kind: 'Tenant',
  metadata: { name: 'everyone', namespace: 'team-a-web' },
};
const cm: KubeObject = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } };

describe('migration: the scope of bundles stored before it was recorded', () => {
  let ds: DataSource;
  beforeAll(async () => {
    ds = await migratedDataSource();
  });
  afterAll(async () => {
    await ds?.destroy();
  });

  /** A bundle row as hubs before the migration stored it (no clusterScoped). */
  const storeOld = async (objects: KubeObject[]) => {
    const b = makeBundle(objects);
    const old = b.objects.map((o) => {
      const k = resourceKey(o);
      return { group: k.group, kind: k.kind, namespace: k.namespace, name: k.name };
    });
    await ds.query(
      `INSERT INTO manifest_bundles (hash, content, size_bytes, object_count, resources)
       VALUES ($1, $2, $3, $4, $5)`,
      [b.hash, compressBundle(b.json), b.json.length, b.objects.length, JSON.stringify(old)],
    );
    return b.hash;
  };
  const resources = async (hash: string) => {
    const rows = await ds.query<{ resources: { kind: string; clusterScoped?: boolean }[] }[]>(
      'SELECT resources FROM manifest_bundles WHERE hash = $1',
      [hash],
    );
    return rows[0].resources;
  };

  it('records the kinds a CRD of the bundle defines cluster-scoped, and leaves the others', async () => {
    const withCrd = await storeOld([tenantCrd, tenant, cm]);
    const plain = await storeOld([cm]);
    const before = await resources(plain);
    const runner = ds.createQueryRunner();
    try {
      await new BundleClusterScope1766100000000().up(runner);
    } finally {
      await runner.release();
    }
    const after = await resources(withCrd);
    expect(
      after
        .filter((r) => r.clusterScoped)
        .map((r) => r.kind)
        .sort(),
    ).toEqual(['CustomResourceDefinition', 'Tenant']);
    expect(after.find((r) => r.kind === 'ConfigMap')?.clusterScoped).toBeUndefined();
    expect(await resources(plain)).toEqual(before);
  });
});
