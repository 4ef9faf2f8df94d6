import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const cases: FixtureCase[] = [
  // gitops-engine TestPVCHealth
  { file: 'pvc-bound.yaml', status: 'Healthy' },
  { file: 'pvc-pending.yaml', status: 'Progressing' },
  { file: 'pvc-pending-wait-for-first-consumer.yaml', status: 'Progressing' },
  { file: 'pvc-lost.yaml', status: 'Degraded' },
  // Argo CD maps any other phase, including none, to Unknown.
  { file: 'pvc-no-status.yaml', status: 'Unknown' },
];

describe('PersistentVolumeClaim health', () => {
  it.each(cases)('$file → $status', (c) => {
    expect(assessHealth(fixture('storage', c.file))).toEqual(expected(c));
  });
});
