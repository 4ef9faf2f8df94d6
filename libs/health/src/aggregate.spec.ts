import { describe, expect, it } from 'vitest';
import { fixture, fixtureDocuments } from '../testdata/fixtures.js';
import {
  aggregateHealth,
  assessHealth,
  assessHealthOfYamlDocuments,
  HEALTH_ORDER,
  worstHealth,
  type HealthStatus,
  type KubeObject,
} from './index.js';

const configMap: KubeObject = {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'cm', namespace: 'ns' },
};

describe('worstHealth', () => {
  it("uses Argo CD's order: Healthy < Suspended < Progressing < Missing < Degraded < Unknown", () => {
    expect(HEALTH_ORDER).toEqual([
      'Healthy',
      'Suspended',
      'Progressing',
      'Missing',
      'Degraded',
      'Unknown',
    ]);
    for (let i = 0; i < HEALTH_ORDER.length; i++) {
      for (let j = 0; j < HEALTH_ORDER.length; j++) {
        const a: HealthStatus = HEALTH_ORDER[i];
        const b: HealthStatus = HEALTH_ORDER[j];
        expect(worstHealth([a, b])).toBe(HEALTH_ORDER[Math.max(i, j)]);
      }
    }
  });

  it('is Healthy for no resources', () => {
    expect(worstHealth([])).toBe('Healthy');
  });

  it('picks the worst of many', () => {
    expect(worstHealth(['Healthy', 'Suspended', 'Missing', 'Progressing'])).toBe('Missing');
    expect(worstHealth(['Degraded', 'Missing', 'Healthy'])).toBe('Degraded');
    expect(worstHealth(['Degraded', 'Unknown'])).toBe('Unknown');
  });
});

describe('assessHealth envelope rules', () => {
  it('is Missing for an absent object', () => {
    expect(assessHealth(undefined)).toEqual({ status: 'Missing' });
    expect(assessHealth(null)).toEqual({ status: 'Missing' });
  });

  it('is Progressing "Pending deletion" for any kind being deleted', () => {
    const cm = {
      ...configMap,
      metadata: { name: 'cm', deletionTimestamp: '2025-01-01T00:00:00Z' },
    };
    expect(assessHealth(cm)).toEqual({ status: 'Progressing', message: 'Pending deletion' });
  });

  it('assesses a hook held only by the Argo CD hook finalizer normally', () => {
    const job = fixture('batch', 'job-succeeded.yaml');
    job.metadata = {
      ...job.metadata,
      deletionTimestamp: '2025-01-01T00:00:00Z',
      finalizers: ['argocd.argoproj.io/hook-finalizer'],
    };
    expect(assessHealth(job)).toEqual({ status: 'Healthy' });
  });

  it('is Unknown for something that is not an object', () => {
    expect(assessHealth('kind: Pod' as unknown as KubeObject)).toEqual({
      status: 'Unknown',
      message: 'not a Kubernetes object',
    });
  });
});

describe('aggregateHealth', () => {
  it('is Healthy for an empty application', () => {
    expect(aggregateHealth([])).toEqual({ status: 'Healthy' });
  });

  it('reports the worst resource and names it, ignoring hooks and ignored resources', () => {
    const docs = fixtureDocuments('app', 'guestbook.yaml');
    expect(aggregateHealth(docs.filter((d) => d && d.kind !== 'List'))).toEqual({
      status: 'Progressing',
      message:
        'Deployment/guestbook/guestbook-ui is Progressing: Waiting for rollout to finish: 1 of 3 updated replicas are available...',
    });
  });

  it('counts an expected resource that does not exist as Missing', () => {
    const deployment = fixture('workloads', 'deployment-healthy.yaml');
    expect(aggregateHealth([deployment, undefined, configMap])).toEqual({
      status: 'Missing',
      message: 'resource #2 is Missing',
    });
  });

  it('lets Degraded outrank Missing and says how many share the worst status', () => {
    const crashing = fixture('pod', 'pod-crashloop.yaml');
    const failed = fixture('pod', 'pod-failed.yaml');
    expect(aggregateHealth([undefined, crashing, configMap, failed])).toEqual({
      status: 'Degraded',
      message:
        'Pod/argocd/my-pod is Degraded: Back-off 40s restarting failed container=main pod=my-pod_argocd(63674389-f613-11e8-a057-fe5f49266390) (and 1 more resource Degraded)',
    });
  });

  it('names cluster-scoped resources without a namespace', () => {
    const crd = fixture('apiextensions', 'crd-v1-not-established-degraded.yaml');
    expect(aggregateHealth([crd])).toEqual({
      status: 'Degraded',
      message: 'CustomResourceDefinition/examples.example.io is Degraded: CRD is not established',
    });
  });

  it('does not let a Missing or Unknown child Application affect its parent', () => {
    const missingChild = fixture('argo', 'application-missing.yaml');
    const healthyChild = fixture('argo', 'application-healthy.yaml');
    expect(aggregateHealth([missingChild, healthyChild])).toEqual({ status: 'Healthy' });
    const degradedChild = fixture('argo', 'application-degraded.yaml');
    expect(aggregateHealth([missingChild, degradedChild]).status).toBe('Degraded');
  });

  it('keeps Suspended below Progressing', () => {
    const paused = fixture('workloads', 'deployment-suspended.yaml');
    const svc = fixture('networking', 'svc-loadbalancer-unassigned.yaml');
    expect(aggregateHealth([paused, svc])).toEqual({
      status: 'Progressing',
      message: 'Service/argo/argo-artifacts is Progressing',
    });
    expect(aggregateHealth([paused, configMap])).toEqual({
      status: 'Suspended',
      message: 'Deployment/default/guestbook-ui is Suspended: Deployment is paused',
    });
  });
});

describe('assessHealthOfYamlDocuments', () => {
  it('gives one line per object, skipping empty documents and expanding Lists', () => {
    const docs = fixtureDocuments('app', 'guestbook.yaml');
    expect(docs).toContain(null);
    const lines = assessHealthOfYamlDocuments(docs);
    expect(lines).toEqual([
      { kind: 'ConfigMap', name: 'guestbook-config', status: 'Healthy', message: '' },
      { kind: 'Service', name: 'guestbook-ui', status: 'Healthy', message: '' },
      {
        kind: 'Deployment',
        name: 'guestbook-ui',
        status: 'Progressing',
        message: 'Waiting for rollout to finish: 1 of 3 updated replicas are available...',
      },
      {
        kind: 'Job',
        name: 'guestbook-db-migrate',
        status: 'Degraded',
        message: 'Job has reached the specified backoff limit',
      },
      {
        kind: 'CronJob',
        name: 'guestbook-report',
        status: 'Degraded',
        message: 'CronJob has not completed its last execution successfully',
      },
      { kind: 'PersistentVolumeClaim', name: 'redis-data', status: 'Progressing', message: '' },
      { kind: 'Ingress', name: 'guestbook', status: 'Healthy', message: '' },
    ]);
  });

  it('serialises to the JSON line shape the CLI prints', () => {
    const [line] = assessHealthOfYamlDocuments([fixture('workloads', 'deployment-suspended.yaml')]);
    expect(JSON.stringify(line)).toBe(
      '{"kind":"Deployment","name":"guestbook-ui","status":"Suspended","message":"Deployment is paused"}',
    );
  });
});
