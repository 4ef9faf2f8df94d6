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
  {
    file: 'hpa-v2-degraded-partially.yaml',
    status: 'Degraded',
    message:
      'the HPA was unable to compute the replica count: failed to get memory utilization: unable to get metrics for resource memory: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)',
  },
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
  {
    file: 'hpa-v1-degraded-failedgetobjectmetric.yaml',
    status: 'Degraded',
    message:
      'the HPA was unable to compute the replica count: unable to get metric tomcat_sessions_active_current_sessions: Service on namespace sample-service/unable to fetch metrics from custom metrics API: the server could not find the metric tomcat_sessions_active_current_sessions for services',
  },
  { file: 'hpa-v1-progressing.yaml', status: 'Progressing', message: WAITING },
  { file: 'hpa-v1-progressing-with-no-annotations.yaml', status: 'Progressing', message: WAITING },
  // more
  {
    file: 'hpa-v2-external-metric-failed.yaml',
    status: 'Degraded',
    message:
      'the HPA was unable to compute the replica count: unable to get external metric jobs/s0-rabbitmq-orders/&LabelSelector{MatchLabels:map[string]string{scaledobject.keda.sh/name: queue-consumer,},MatchExpressions:[]LabelSelectorRequirement{},}: unable to fetch metrics from external metrics API: the server is currently unable to handle the request',
  },
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
});
