import { describe, expect, it } from 'vitest';
import { hookResult } from './hooks.js';

describe('hookResult', () => {
  it('follows a Pod by its phase', () => {
    const pod = (phase?: string, message?: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'migrate' },
      status: { phase, message },
    });
    expect(hookResult(pod('Succeeded'))).toEqual({ phase: 'Succeeded', message: '' });
    expect(hookResult(pod('Failed', 'exit 1'))).toEqual({ phase: 'Failed', message: 'exit 1' });
    expect(hookResult(pod('Pending'))).toEqual({ phase: 'Running', message: 'Pending' });
  });

  it('follows anything else by its health (a Job: complete or failed)', () => {
    const job = (conditions: { type: string; status: string }[]) => ({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'seed' },
      status: { conditions },
    });
    expect(hookResult(job([{ type: 'Complete', status: 'True' }])).phase).toBe('Succeeded');
    expect(hookResult(job([{ type: 'Failed', status: 'True' }])).phase).toBe('Failed');
    expect(hookResult(job([])).phase).toBe('Running');
  });
});
