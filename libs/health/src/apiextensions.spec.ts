import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const cases: FixtureCase[] = [
  // gitops-engine TestAPIService
  { file: 'apiservice-v1-true.yaml', status: 'Healthy', message: 'Passed: all checks passed' },
  {
    file: 'apiservice-v1-false.yaml',
    status: 'Progressing',
    message:
      'MissingEndpoints: endpoints for service/cert-manager-webhook in "external-dns" have no addresses',
  },
  { file: 'apiservice-v1beta1-true.yaml', status: 'Healthy', message: 'Passed: all checks passed' },
  {
    file: 'apiservice-v1beta1-false.yaml',
    status: 'Progressing',
    message:
      'FailedDiscoveryCheck: failing or missing response from https://10.96.12.34:443/apis/metrics.k8s.io/v1beta1: Get "https://10.96.12.34:443/apis/metrics.k8s.io/v1beta1": dial tcp 10.96.12.34:443: connect: connection refused',
  },
  {
    file: 'apiservice-local.yaml',
    status: 'Healthy',
    message: 'Local: Local APIServices are always available',
  },
  { file: 'apiservice-no-status.yaml', status: 'Progressing', message: 'Waiting to be processed' },
  // Argo CD resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health_test.yaml
  { file: 'crd-v1-healthy.yaml', status: 'Healthy', message: 'CRD is healthy' },
  {
    file: 'crd-v1-names-not-accepted-degraded.yaml',
    status: 'Degraded',
    message: 'CRD names have not been accepted: the initial names have not been accepted',
  },
  {
    file: 'crd-v1-non-structural-degraded.yaml',
    status: 'Degraded',
    message:
      'Schema violations found: spec.preserveUnknownFields: Invalid value: true: must be false',
  },
  {
    file: 'crd-v1-not-established-degraded.yaml',
    status: 'Degraded',
    message: 'CRD is not established',
  },
  {
    file: 'crd-v1-terminating-condition-progressing.yaml',
    status: 'Progressing',
    message: 'CRD is terminating: user has deleted the CRD',
  },
  {
    file: 'crd-v1-no-conditions-progressing.yaml',
    status: 'Progressing',
    message: 'Status conditions not found',
  },
  {
    file: 'crd-v1-terminating-timestamp-progressing.yaml',
    status: 'Progressing',
    message: 'Pending deletion',
  },
];

describe('APIService and CustomResourceDefinition health', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('apiextensions', c.file))).toEqual(expected(c));
  });

  it('reports a CRD rendered without status as waiting for conditions', () => {
    const crd = fixture('apiextensions', 'crd-v1-healthy.yaml');
    delete crd.status;
    expect(assessHealth(crd)).toEqual({
      status: 'Progressing',
      message: 'Status conditions not found',
    });
  });
});
