import { describe, expect, it } from 'vitest';
import { expected, fixture, type FixtureCase } from '../testdata/fixtures.js';
import { assessHealth } from './assess.js';

const jobCases: FixtureCase[] = [
  // gitops-engine TestJob
  { file: 'job-running.yaml', status: 'Progressing' },
  {
    file: 'job-failed.yaml',
    status: 'Degraded',
    message: 'Job has reached the specified backoff limit',
  },
  { file: 'job-succeeded.yaml', status: 'Healthy' },
  { file: 'job-suspended.yaml', status: 'Suspended', message: 'Job suspended' },
  // more
  {
    file: 'job-failed-deadline.yaml',
    status: 'Degraded',
    message: 'Job was active longer than specified deadline',
  },
  {
    file: 'job-succeeded-criteria-met.yaml',
    status: 'Healthy',
    message: 'Reached expected number of succeeded pods',
  },
  { file: 'job-resumed.yaml', status: 'Progressing' },
  { file: 'job-no-status.yaml', status: 'Progressing' },
];

// Expectations from Argo CD's resource_customizations/batch/CronJob/health_test.yaml.
const cronJobCases: FixtureCase[] = [
  {
    file: 'cronjob-healthy.yaml',
    status: 'Healthy',
    message: 'CronJob has completed its last execution successfully',
  },
  {
    file: 'cronjob-never-scheduled.yaml',
    status: 'Healthy',
    message: 'CronJob has not been scheduled yet',
  },
  {
    file: 'cronjob-degraded.yaml',
    status: 'Degraded',
    message: 'CronJob has not completed its last execution successfully',
  },
  {
    file: 'cronjob-never-succeeded.yaml',
    status: 'Healthy',
    message: 'The Cronjob never completed succesfully. It may not be healthy',
  },
  {
    file: 'cronjob-active.yaml',
    status: 'Healthy',
    message: 'The job is running. Its last execution may not have been successful',
  },
  { file: 'cronjob-suspended.yaml', status: 'Suspended', message: 'CronJob is Suspended' },
  { file: 'cronjob-no-status.yaml', status: 'Progressing', message: 'Waiting for CronJob' },
];

describe('Job health', () => {
  it.each(jobCases)('$file → $status', (c) => {
    expect(assessHealth(fixture('batch', c.file))).toEqual(expected(c));
  });

  it('lets Failed win over Complete whatever their order', () => {
    const job = fixture('batch', 'job-succeeded.yaml');
    job.status = {
      conditions: [
        { type: 'Failed', status: 'True', message: 'Pod failed' },
        { type: 'Complete', status: 'True', message: 'done' },
      ],
    };
    expect(assessHealth(job)).toEqual({ status: 'Degraded', message: 'Pod failed' });
  });
});

describe('CronJob health', () => {
  it.each(cronJobCases)('$file → $status', (c) => {
    expect(assessHealth(fixture('batch', c.file))).toEqual(expected(c));
  });

  it('compares times, not only text, when deciding whether the last run failed', () => {
    const cronJob = fixture('batch', 'cronjob-healthy.yaml');
    cronJob.status = {
      lastScheduleTime: '2025-07-30T13:45:00Z',
      lastSuccessfulTime: '2025-07-30T14:45:05+02:00',
    };
    expect(assessHealth(cronJob).status).toBe('Degraded');
  });
});
