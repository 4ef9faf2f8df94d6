import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';
import { healthOfPhase } from './generic.js';

const cases: FixtureCase[] = [
  // objects without health
  { file: 'configmap.yaml', status: 'Healthy' },
  { file: 'secret.yaml', status: 'Healthy' },
  { file: 'serviceaccount.yaml', status: 'Healthy' },
  { file: 'clusterrolebinding.yaml', status: 'Healthy' },
  { file: 'pv-available.yaml', status: 'Healthy' },
  { file: 'namespace-active.yaml', status: 'Healthy' },
  { file: 'namespace-terminating.yaml', status: 'Progressing' },
  { file: 'node-ready.yaml', status: 'Healthy', message: 'kubelet is posting ready status' },
  // Ready-style conditions (cert-manager, Flux, Crossplane, Sealed Secrets, operators)
  {
    file: 'certificate-ready.yaml',
    status: 'Healthy',
    message: 'Certificate is up to date and has not expired',
  },
  {
    file: 'certificate-issuing.yaml',
    status: 'Progressing',
    message: 'DoesNotExist: Issuing certificate as Secret does not exist',
  },
  {
    file: 'issuer-failed.yaml',
    status: 'Degraded',
    message:
      'ErrRegisterACMEAccount: Failed to register ACME account: 400 urn:ietf:params:acme:error:invalidContact: Error creating new account :: invalid contact domain',
  },
  {
    file: 'kustomization-ready.yaml',
    status: 'Healthy',
    message: 'Applied revision: main@sha1:5d1c6c8f',
  },
  {
    file: 'kustomization-reconciling.yaml',
    status: 'Progressing',
    message: 'Progressing: Reconciliation in progress',
  },
  {
    file: 'kustomization-stalled.yaml',
    status: 'Degraded',
    message: 'BuildFailed: kustomize build failed: accumulating resources from ./missing',
  },
  {
    file: 'kustomization-suspended.yaml',
    status: 'Suspended',
    message: 'Kustomization is suspended',
  },
  {
    file: 'helmrelease-install-failed.yaml',
    status: 'Degraded',
    message:
      'InstallFailed: Helm install failed for release apps/podinfo with chart podinfo@6.7.0: context deadline exceeded',
  },
  {
    file: 'stale-observed-generation.yaml',
    status: 'Progressing',
    message: 'Waiting for the controller to observe generation 3 (observed 2)',
  },
  {
    file: 'crossplane-synced-false.yaml',
    status: 'Degraded',
    message:
      'ReconcileError: create failed: async create failed: failed to create the resource: operation error S3: CreateBucket, https response error StatusCode: 409, BucketAlreadyExists',
  },
  { file: 'crossplane-ready.yaml', status: 'Healthy', message: 'Available' },
  { file: 'crossplane-creating.yaml', status: 'Progressing', message: 'Creating' },
  { file: 'sealedsecret-unsealed.yaml', status: 'Healthy' },
  {
    file: 'sealedsecret-failed.yaml',
    status: 'Degraded',
    message: 'ErrUnsealFailed: no key could decrypt secret (token)',
  },
  // phase and health fields
  {
    file: 'phase-failed.yaml',
    status: 'Degraded',
    message: 'pod train-resnet-worker-2 failed: OOMKilled',
  },
  { file: 'phase-pending.yaml', status: 'Progressing' },
  { file: 'phase-unrecognised.yaml', status: 'Healthy' },
  { file: 'health-field.yaml', status: 'Degraded', message: 'quota controller unreachable' },
  { file: 'health-field-string.yaml', status: 'Healthy' },
];

describe('generic health of custom resources and plain objects', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('generic', c.file))).toEqual(expected(c));
  });

  it('reads hand-written boolean condition statuses like the quoted strings the API returns', () => {
    expect(
      assessHealth({
        apiVersion: 'example.io/v1',
        kind: 'Widget',
        metadata: { name: 'w' },
        status: { conditions: [{ type: 'Ready', status: false, reason: 'Broken' }] },
      }),
    ).toEqual({ status: 'Degraded', message: 'Broken' });
  });

  it('treats an object without apiVersion or kind as having no health', () => {
    expect(assessHealth({ metadata: { name: 'x' } })).toEqual({ status: 'Healthy' });
  });

  it('maps phase words case-insensitively and leaves unknown ones alone', () => {
    expect(healthOfPhase('Running')).toBe('Healthy');
    expect(healthOfPhase('PENDING')).toBe('Progressing');
    expect(healthOfPhase('CrashLoopBackOff')).toBe('Degraded');
    expect(healthOfPhase('Paused')).toBe('Suspended');
    expect(healthOfPhase('Missing')).toBe('Missing');
    expect(healthOfPhase('Frobnicating')).toBeUndefined();
  });
});
