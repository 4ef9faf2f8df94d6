import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { api, createTestDatabase, startTestHub, tempDir, waitFor } from '../support/hub-harness.js';
import { objectApi, patchStatus } from './agent-support.js';

const GROUP = 'cluster.open-cluster-management.io';
const NS = 'ocm-decisions';

describe("Argo CD's clusterDecisionResource generator, reading OCM PlacementDecisions from a real kube-apiserver", () => {
  const [east] = inject('clusters');
  let hub: RunningHub;
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const k = objectApi(east);
    // Open Cluster Management's PlacementDecision, as far as the generator reads it.
    await k
      .create({
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `placementdecisions.${GROUP}` },
        spec: {
          group: GROUP,
          names: {
            kind: 'PlacementDecision',
            plural: 'placementdecisions',
            singular: 'placementdecision',
          },
          scope: 'Namespaced',
          versions: [
            {
              name: 'v1beta1',
              served: true,
              storage: true,
              subresources: { status: {} },
              schema: {
                openAPIV3Schema: {
                  type: 'object',
                  properties: {
                    spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                    status: {
                      type: 'object',
                      properties: {
                        decisions: {
                          type: 'array',
                          items: {
                            type: 'object',
                            properties: {
                              clusterName: { type: 'string' },
                              reason: { type: 'string' },
                            },
                          },
                        },
                      },
                    },
                  },
                },
              },
            },
          ],
        },
      } as never)
      .catch((e: unknown) => {
        if (!String((e as Error).message).includes('AlreadyExists')) throw e;
      });
    await k
      .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } } as never)
      .catch(() => undefined);
    const decision = (name: string, placement: string) => ({
      apiVersion: `${GROUP}/v1beta1`,
      kind: 'PlacementDecision',
      metadata: {
        name,
        namespace: NS,
        labels: { 'cluster.open-cluster-management.io/placement': placement },
      },
    });
    await waitFor('the CRD served', async () => {
      try {
        await k.create(decision('web-1', 'web') as never);
        return true;
      } catch (e) {
        if (String((e as Error).message).includes('AlreadyExists')) return true;
        return false;
      }
    });
    await k.create(decision('db-1', 'db') as never).catch(() => undefined);
    // A controller would write the status; a CRD just established may not serve /status yet.
    const decide = async (name: string, decisions: Record<string, string>[]) => {
      const path = `/apis/${GROUP}/v1beta1/namespaces/${NS}/placementdecisions/${name}`;
      await waitFor(`${name} decided`, async () => {
        await patchStatus(east, `${path}/status`, { decisions }).catch(() => undefined);
        const got = (await k.read({
          apiVersion: `${GROUP}/v1beta1`,
          kind: 'PlacementDecision',
          metadata: { name, namespace: NS },
        })) as { status?: { decisions?: unknown[] } };
        return (got.status?.decisions?.length ?? 0) === decisions.length;
      });
    };
    await decide('web-1', [
      { clusterName: 'spoke-a', reason: 'scored highest' },
      { clusterName: 'not-registered', reason: '' },
      { clusterName: 'spoke-b', reason: 'balanced' },
    ]);
    await decide('db-1', [{ clusterName: 'spoke-b', reason: '' }]);

    const dir = await tempDir('axle-hub-ocm-');
    cleanup.push(dir.remove);
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: {
        AXLE_HUB_KUBECONFIG: east.kubeconfigPath,
        AXLE_HUB_NAMESPACE: NS,
        AXLE_DUCK_TYPES: JSON.stringify([
          {
            name: 'ocm-placement-decision',
            apiVersion: `${GROUP}/v1beta1`,
            kind: 'placementdecisions',
            statusListKey: 'decisions',
            matchKey: 'clusterName',
          },
        ]),
      },
    });
    for (const name of ['spoke-a', 'spoke-b'])
      expect((await api(hub).post('/api/v1/clusters', { name })).status).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
    for (const c of cleanup.reverse()) await c();
  });

  const generate = async (generator: Record<string, unknown>) => {
    const r = await api(hub).post('/api/v1/applicationsets/dry-run', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'placed' },
      spec: {
        goTemplate: true,
        generators: [
          { clusterDecisionResource: { configMapRef: 'ocm-placement-decision', ...generator } },
        ],
        template: {
          metadata: { name: 'web-{{.name}}', annotations: { why: '{{.reason}}' } },
          spec: {
            project: 'default',
            source: { repoURL: 'https://git.example/web.git', targetRevision: 'main', path: 'web' },
            destination: { name: '{{.clusterName}}', namespace: 'web' },
          },
        },
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body as {
      applications: { metadata: { name: string; annotations: Record<string, string> } }[];
      errors: { message: string }[];
    };
  };

  it('places an application on every registered cluster the placement decided', async () => {
    const bySelector = await generate({
      labelSelector: { matchLabels: { 'cluster.open-cluster-management.io/placement': 'web' } },
    });
    expect(bySelector.errors).toEqual([]);
    expect(
      bySelector.applications.map((a) => [a.metadata.name, a.metadata.annotations.why]),
    ).toEqual([
      ['web-spoke-a', 'scored highest'],
      ['web-spoke-b', 'balanced'],
    ]);
    const byName = await generate({ name: 'db-1' });
    expect(byName.applications.map((a) => a.metadata.name)).toEqual(['web-spoke-b']);
  });

  it('says what is wrong when nothing can be read', async () => {
    const none = await generate({ name: 'no-such-decision' });
    expect(none.errors[0].message).toContain(
      'no placementdecisions found in namespace ocm-decisions',
    );
    const r = await api(hub).post('/api/v1/applicationsets/dry-run', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'x' },
      spec: {
        generators: [{ clusterDecisionResource: { configMapRef: 'unknown', name: 'a' } }],
        template: {
          metadata: { name: 'x-{{name}}' },
          spec: {
            project: 'default',
            source: { repoURL: 'https://git.example/web.git', targetRevision: 'main', path: 'web' },
            destination: { name: '{{name}}', namespace: 'web' },
          },
        },
      },
    });
    expect(r.body.errors[0].message).toContain(
      'no duck type "unknown" is configured (AXLE_DUCK_TYPES)',
    );
  });
});
