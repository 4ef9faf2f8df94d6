import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const cases: FixtureCase[] = [
  // gitops-engine TestServiceHealth
  { file: 'svc-clusterip.yaml', status: 'Healthy' },
  { file: 'svc-loadbalancer.yaml', status: 'Healthy' },
  { file: 'svc-loadbalancer-unassigned.yaml', status: 'Progressing' },
  { file: 'svc-loadbalancer-nonemptylist.yaml', status: 'Healthy' },
  { file: 'svc-nodeport.yaml', status: 'Healthy' },
  { file: 'svc-externalname.yaml', status: 'Healthy' },
  // gitops-engine TestIngressHealth
  { file: 'ingress.yaml', status: 'Healthy' },
  { file: 'ingress-unassigned.yaml', status: 'Progressing' },
  { file: 'ingress-nonemptylist.yaml', status: 'Healthy' },
  { file: 'ingress-no-status.yaml', status: 'Progressing' },
];

describe('Service and Ingress health', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('networking', c.file))).toEqual(expected(c));
  });

  it('needs a load balancer address even for a LoadBalancer Service without a status', () => {
    const svc = fixture('networking', 'svc-loadbalancer.yaml');
    delete svc.status;
    expect(assessHealth(svc)).toEqual({ status: 'Progressing' });
  });
});
