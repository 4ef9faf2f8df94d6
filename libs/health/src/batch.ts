import { health, type HealthResult, type KubeObject } from './types.js';
import { conditionsOf, get, list } from './util.js';

/**
 * Job, following gitops-engine's health_job.go: a Failed condition wins, then Suspended=True, then
 * Complete; a Job with none of those is still running. Unlike Argo, a suspended Job reports the
 * Suspended condition's message (Argo passes the empty failure message).
 */
export function jobHealth(obj: KubeObject): HealthResult {
  let failed = false;
  let complete = false;
  let suspended = false;
  let failMessage = '';
  let message = '';
  for (const condition of conditionsOf(obj)) {
    switch (condition.type) {
      case 'Failed':
        failed = true;
        complete = true;
        failMessage = condition.message;
        break;
      case 'Complete':
        complete = true;
        message = condition.message;
        break;
      case 'Suspended':
        // Argo also counts Suspended=False (a resumed Job) as finished, which reports a running
        // Job as Healthy; only an actual suspension ends the wait here.
        if (condition.status === 'True') {
          complete = true;
          suspended = true;
          message = condition.message;
        }
        break;
      default:
        break;
    }
  }
  if (!complete) return health('Progressing', message);
  if (failed) return health('Degraded', failMessage);
  if (suspended) return health('Suspended', message);
  return health('Healthy', message);
}

/** Compares two RFC 3339 timestamps; falls back to text order as Argo's Lua check does. */
function isBefore(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  if (Number.isNaN(ta) || Number.isNaN(tb)) return a < b;
  return ta < tb;
}

/**
 * CronJob, following Argo CD's `resource_customizations/batch/CronJob/health.lua`. The CronJob
 * status only tells when a Job was last scheduled and last succeeded, so a running Job or a CronJob
 * that never succeeded yet is reported Healthy with a caveat rather than Progressing; only a last
 * schedule newer than the last success (with nothing running) is Degraded.
 */
export function cronJobHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  const status: unknown = obj.status;
  if (get(spec, 'suspend') === true) {
    return health('Suspended', 'CronJob is Suspended');
  }
  if (status === undefined || status === null) {
    return health('Progressing', 'Waiting for CronJob');
  }
  const lastScheduleTime = get(status, 'lastScheduleTime');
  const lastSuccessfulTime = get(status, 'lastSuccessfulTime');
  if (typeof lastScheduleTime !== 'string') {
    return health('Healthy', 'CronJob has not been scheduled yet');
  }
  if (typeof lastSuccessfulTime !== 'string') {
    // Argo's message, typo included, so output compares equal to Argo's.
    return health('Healthy', 'The Cronjob never completed succesfully. It may not be healthy');
  }
  if (list(get(status, 'active')).length > 0) {
    return health('Healthy', 'The job is running. Its last execution may not have been successful');
  }
  if (isBefore(lastSuccessfulTime, lastScheduleTime)) {
    return health('Degraded', 'CronJob has not completed its last execution successfully');
  }
  return health('Healthy', 'CronJob has completed its last execution successfully');
}
