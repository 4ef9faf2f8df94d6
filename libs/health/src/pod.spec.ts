import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const cases: FixtureCase[] = [
  // gitops-engine TestPod
  { file: 'pod-pending.yaml', status: 'Progressing' },
  { file: 'pod-running-not-ready.yaml', status: 'Progressing' },
  {
    file: 'pod-crashloop.yaml',
    status: 'Degraded',
    message:
      'Back-off 40s restarting failed container=main pod=my-pod_argocd(63674389-f613-11e8-a057-fe5f49266390)',
  },
  {
    file: 'pod-imagepullbackoff.yaml',
    status: 'Degraded',
    message: 'Back-off pulling image "doesnt-exist"',
  },
  { file: 'pod-error.yaml', status: 'Degraded' },
  { file: 'pod-running-restart-always.yaml', status: 'Healthy' },
  { file: 'pod-running-restart-never.yaml', status: 'Progressing' },
  { file: 'pod-running-restart-onfailure.yaml', status: 'Progressing' },
  {
    file: 'pod-failed.yaml',
    status: 'Degraded',
    message: 'container "main" failed with exit code 1',
  },
  { file: 'pod-succeeded.yaml', status: 'Healthy' },
  { file: 'pod-deletion.yaml', status: 'Progressing', message: 'Pending deletion' },
  { file: 'pod-running-restart-never-with-ignore-annotation.yaml', status: 'Healthy' },
  { file: 'pod-running-restart-never-hook-with-ignore-annotation.yaml', status: 'Progressing' },
  // more phases and failure messages
  {
    file: 'pod-failed-evicted.yaml',
    status: 'Degraded',
    message:
      'The node was low on resource: memory. Threshold quantity: 100Mi, available: 84352Ki. Container cache was using 1843220Ki, request is 0, has larger consumption of memory.',
  },
  {
    file: 'pod-failed-init-container.yaml',
    status: 'Degraded',
    message: 'postgres:5432 unreachable after 120s',
  },
  { file: 'pod-failed-oomkilled.yaml', status: 'Degraded', message: 'OOMKilled' },
  {
    file: 'pod-failed-exit-code.yaml',
    status: 'Degraded',
    message: 'container "smoke" failed with exit code 2',
  },
  { file: 'pod-never-imagepullbackoff.yaml', status: 'Progressing' },
  {
    file: 'pod-config-error.yaml',
    status: 'Degraded',
    message: 'secret "api-credentials" not found',
  },
  {
    file: 'pod-multiple-backoff.yaml',
    status: 'Degraded',
    message:
      'back-off 2m40s restarting failed container=sidecar pod=worker-0_jobs(0b1c2d3e), Back-off pulling image "registry.example.com/jobs/worker:4.0.0"',
  },
  { file: 'pod-init-running.yaml', status: 'Progressing' },
  {
    file: 'pod-unknown-phase.yaml',
    status: 'Unknown',
    message: 'Node worker-3 which was running pod web-0 is unresponsive',
  },
];

describe('Pod health', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('pod', c.file))).toEqual(expected(c));
  });

  it('treats an unset restartPolicy as the API default, Always', () => {
    const pod = fixture('pod', 'pod-crashloop.yaml');
    delete (pod.spec as Record<string, unknown>)['restartPolicy'];
    expect(assessHealth(pod).status).toBe('Degraded');
  });

  it('is Unknown when a rendered Pod has no status yet', () => {
    expect(
      assessHealth({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'p' },
        spec: { containers: [] },
      }),
    ).toEqual({ status: 'Unknown' });
  });

  it('ignores the ignore-restart-policy annotation for Helm hooks too', () => {
    const pod = fixture('pod', 'pod-running-restart-never-with-ignore-annotation.yaml');
    pod.metadata = {
      ...pod.metadata,
      annotations: {
        'argocd.argoproj.io/ignore-restart-policy': 'true',
        'helm.sh/hook': 'post-install',
      },
    };
    expect(assessHealth(pod).status).toBe('Progressing');
  });
});
