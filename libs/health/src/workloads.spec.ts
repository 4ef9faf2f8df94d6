import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const cases: FixtureCase[] = [
  // Deployment (gitops-engine TestDeploymentHealth plus more rollout stages)
  { file: 'deployment-healthy.yaml', status: 'Healthy' },
  {
    file: 'deployment-progressing.yaml',
    status: 'Progressing',
    message: 'Waiting for rollout to finish: 1 old replicas are pending termination...',
  },
  {
    file: 'deployment-degraded.yaml',
    status: 'Degraded',
    message: 'Deployment "guestbook-ui" exceeded its progress deadline',
  },
  { file: 'deployment-suspended.yaml', status: 'Suspended', message: 'Deployment is paused' },
  {
    file: 'deployment-generation-not-observed.yaml',
    status: 'Progressing',
    message:
      'Waiting for rollout to finish: observed deployment generation less than desired generation',
  },
  {
    file: 'deployment-updating-replicas.yaml',
    status: 'Progressing',
    message: 'Waiting for rollout to finish: 1 out of 3 new replicas have been updated...',
  },
  {
    file: 'deployment-waiting-available.yaml',
    status: 'Progressing',
    message: 'Waiting for rollout to finish: 1 of 3 updated replicas are available...',
  },
  { file: 'deployment-scaled-to-zero.yaml', status: 'Healthy' },
  // StatefulSet (gitops-engine TestStatefulSetHealth / TestStatefulSetOnDeleteHealth and more)
  { file: 'statefulset-ondelete.yaml', status: 'Healthy', message: 'statefulset has 1 ready pods' },
  {
    file: 'statefulset-rolling-complete.yaml',
    status: 'Healthy',
    message: 'statefulset rolling update complete 3 pods at revision postgres-6d9c7b5f4...',
  },
  {
    file: 'statefulset-rolling-in-progress.yaml',
    status: 'Progressing',
    message:
      'waiting for statefulset rolling update to complete 1 pods at revision postgres-84f7d6c9b...',
  },
  {
    file: 'statefulset-partition-in-progress.yaml',
    status: 'Progressing',
    message: 'Waiting for partitioned roll out to finish: 1 out of 2 new pods have been updated...',
  },
  {
    file: 'statefulset-partition-complete.yaml',
    status: 'Healthy',
    message: 'partitioned roll out complete: 2 new pods have been updated...',
  },
  {
    file: 'statefulset-pods-not-ready.yaml',
    status: 'Progressing',
    message: 'Waiting for 2 pods to be ready...',
  },
  {
    file: 'statefulset-not-observed.yaml',
    status: 'Progressing',
    message: 'Waiting for statefulset spec update to be observed...',
  },
  // DaemonSet (gitops-engine TestDaemonSetOnDeleteHealth and more)
  {
    file: 'daemonset-ondelete.yaml',
    status: 'Healthy',
    message: 'daemon set 0 out of 1 new pods have been updated',
  },
  { file: 'daemonset-healthy.yaml', status: 'Healthy' },
  {
    file: 'daemonset-updating.yaml',
    status: 'Progressing',
    message:
      'Waiting for daemon set "node-exporter" rollout to finish: 2 out of 4 new pods have been updated...',
  },
  {
    file: 'daemonset-unavailable.yaml',
    status: 'Progressing',
    message:
      'Waiting for daemon set "cilium" rollout to finish: 2 of 3 updated pods are available...',
  },
  {
    file: 'daemonset-not-observed.yaml',
    status: 'Progressing',
    message:
      'Waiting for rollout to finish: observed daemon set generation less than desired generation',
  },
  // ReplicaSet
  { file: 'replicaset-healthy.yaml', status: 'Healthy' },
  {
    file: 'replicaset-progressing.yaml',
    status: 'Progressing',
    message: 'Waiting for rollout to finish: 1 out of 3 new replicas are available...',
  },
  {
    file: 'replicaset-replica-failure.yaml',
    status: 'Degraded',
    message:
      'pods "worker-6b7c8d9f5-xk2lp" is forbidden: exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=4, limited: requests.cpu=4',
  },
  {
    file: 'replicaset-not-observed.yaml',
    status: 'Progressing',
    message:
      'Waiting for rollout to finish: observed replica set generation less than desired generation',
  },
];

describe('workload health (Deployment, StatefulSet, DaemonSet, ReplicaSet)', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('workloads', c.file))).toEqual(expected(c));
  });

  it('applies the same rules to older API versions of the apps and extensions groups', () => {
    const deployment = fixture('workloads', 'deployment-waiting-available.yaml');
    for (const apiVersion of ['apps/v1beta1', 'apps/v1beta2', 'extensions/v1beta1']) {
      expect(assessHealth({ ...deployment, apiVersion })).toEqual({
        status: 'Progressing',
        message: 'Waiting for rollout to finish: 1 of 3 updated replicas are available...',
      });
    }
  });

  it('skips the desired-replicas comparison when spec.replicas is absent, as Argo does', () => {
    const deployment = fixture('workloads', 'deployment-updating-replicas.yaml');
    delete (deployment.spec as Record<string, unknown>)['replicas'];
    expect(assessHealth(deployment)).toEqual({
      status: 'Progressing',
      message: 'Waiting for rollout to finish: 3 old replicas are pending termination...',
    });
  });

  it('reports a rendered Deployment that has no status yet as waiting for its replicas', () => {
    expect(
      assessHealth({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: { replicas: 2 },
      }),
    ).toEqual({
      status: 'Progressing',
      message: 'Waiting for rollout to finish: 0 out of 2 new replicas have been updated...',
    });
  });

  it('prefers Suspended over a timed-out rollout when the Deployment is paused', () => {
    const deployment = fixture('workloads', 'deployment-degraded.yaml');
    deployment.spec = { ...(deployment.spec as Record<string, unknown>), paused: true };
    expect(assessHealth(deployment)).toEqual({
      status: 'Suspended',
      message: 'Deployment is paused',
    });
  });
});
