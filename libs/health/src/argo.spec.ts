import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const cases: FixtureCase[] = [
  // gitops-engine TestGetArgoWorkflowHealth
  { file: 'workflow-running.yaml', status: 'Progressing', message: 'This node is running' },
  { file: 'workflow-succeeded.yaml', status: 'Healthy' },
  {
    file: 'workflow-failed.yaml',
    status: 'Degraded',
    message: "child 'ci-build-8x2kq-1234567890' failed",
  },
  {
    file: 'workflow-error.yaml',
    status: 'Degraded',
    message: 'pods "ci-build-8x2kq-1234567890" is forbidden: exceeded quota',
  },
  { file: 'workflow-no-status.yaml', status: 'Progressing' },
  // Argo CD's documented argoproj.io/Application customization (app-of-apps)
  { file: 'application-healthy.yaml', status: 'Healthy' },
  {
    file: 'application-degraded.yaml',
    status: 'Degraded',
    message: 'Deployment "guestbook-ui" exceeded its progress deadline',
  },
  { file: 'application-suspended.yaml', status: 'Suspended' },
  { file: 'application-missing.yaml', status: 'Missing' },
  { file: 'application-no-status.yaml', status: 'Progressing' },
  // Argo Rollouts through the generic phase convention
  { file: 'rollout-healthy.yaml', status: 'Healthy' },
  { file: 'rollout-paused.yaml', status: 'Suspended', message: 'CanaryPauseStep' },
  {
    file: 'rollout-degraded.yaml',
    status: 'Degraded',
    message:
      'RolloutAborted: Rollout aborted update to revision 5: Metric "success-rate" assessed Failed due to failed (3) > failureLimit (2)',
  },
];

describe('Argo kinds (Workflow, Application, Rollout)', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('argo', c.file))).toEqual(expected(c));
  });

  it('is Unknown for a Workflow phase Argo does not know', () => {
    const wf = fixture('argo', 'workflow-running.yaml');
    wf.status = { phase: 'Omitted', message: 'skipped' };
    expect(assessHealth(wf)).toEqual({ status: 'Unknown', message: 'skipped' });
  });
});
