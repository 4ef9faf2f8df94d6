import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const ABLE = "the HPA controller was able to get the target's current scale";
const WAITING = 'Waiting to Autoscale';

const cases: FixtureCase[] = [
  // gitops-engine TestHPA
  {
    file: 'hpa-v2-healthy.yaml',
    status: 'Healthy',
    message: 'recommended size matches current size',
  },
  {
    file: 'hpa-v2-degraded.yaml',
    status: 'Degraded',
    message:
      'the HPA controller was unable to get the target\'s current scale: deployments/scale.apps "sandbox-test-app-8" not found',
  },
  // The first condition decides (AbleToScale=True), as gitops-engine reads them in order.
  { file: 'hpa-v2-degraded-partially.yaml', status: 'Healthy', message: ABLE },
  { file: 'hpa-v2-progressing.yaml', status: 'Progressing', message: WAITING },
  { file: 'hpa-v2beta2-healthy.yaml', status: 'Healthy', message: ABLE },
  { file: 'hpa-v2beta1-healthy-disabled.yaml', status: 'Healthy', message: ABLE },
  { file: 'hpa-v1-healthy.yaml', status: 'Healthy', message: ABLE },
  {
    file: 'hpa-v1-healthy-toofew.yaml',
    status: 'Healthy',
    message: 'recommended size matches current size',
  },
  {
    file: 'hpa-v1-degraded.yaml',
    status: 'Degraded',
    message: "the HPA controller was unable to get the target's current scale",
  },
  // AbleToScale=True comes first: Healthy, whatever the metrics say later (as in Argo CD).
  { file: 'hpa-v1-degraded-failedgetobjectmetric.yaml', status: 'Healthy', message: ABLE },
  { file: 'hpa-v1-progressing.yaml', status: 'Progressing', message: WAITING },
  { file: 'hpa-v1-progressing-with-no-annotations.yaml', status: 'Progressing', message: WAITING },
  // more
  { file: 'hpa-v2-external-metric-failed.yaml', status: 'Healthy', message: ABLE },
  { file: 'hpa-v2-no-status.yaml', status: 'Progressing', message: WAITING },
];

describe('HorizontalPodAutoscaler health', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('hpa', c.file))).toEqual(expected(c));
  });

  it('is Unknown when the v1 conditions annotation is not valid JSON', () => {
    const result = assessHealth(fixture('hpa', 'hpa-v1-bad-annotation.yaml'));
    expect(result.status).toBe('Unknown');
    expect(result.message).toMatch(/^failed to convert conditions annotation to typed: /);
  });

  it('reads only the annotation for autoscaling/v1, as the v1 API has no conditions field', () => {
    const hpa = fixture('hpa', 'hpa-v2-healthy.yaml');
    expect(assessHealth({ ...hpa, apiVersion: 'autoscaling/v1' })).toEqual({
      status: 'Progressing',
      message: WAITING,
    });
  });

  it('reads conditions in order: the first that says anything decides', () => {
    const hpa = (conditions: { type: string; status: string; reason: string }[]) => ({
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'h' },
      status: { conditions: conditions.map((c) => ({ ...c, message: c.reason })) },
    });
    const failed = { type: 'ScalingActive', status: 'False', reason: 'FailedGetResourceMetric' };
    const able = { type: 'AbleToScale', status: 'True', reason: 'SucceededGetScale' };
    expect(assessHealth(hpa([failed, able]))).toEqual({
      status: 'Degraded',
      message: failed.reason,
    });
    expect(assessHealth(hpa([able, failed]))).toEqual({ status: 'Healthy', message: able.reason });
    // A failure reason gitops-engine does not list decides nothing.
    const external = { type: 'ScalingActive', status: 'False', reason: 'FailedGetExternalMetric' };
    expect(assessHealth(hpa([external]))).toEqual({ status: 'Progressing', message: WAITING });
  });
});
