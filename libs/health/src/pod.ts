import { health, type HealthResult, type KubeObject } from './types.js';
import {
  ANNOTATION_IGNORE_RESTART_POLICY,
  annotationsOf,
  conditionsOf,
  findCondition,
  get,
  int,
  isHook,
  isRecord,
  list,
  quote,
  str,
} from './util.js';

/*
 * Pod health, following gitops-engine's health_pod.go:
 *  - restartPolicy Always: a container waiting with an error reason (Err*, *Error, *BackOff, e.g.
 *    CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError) makes the pod Degraded;
 *  - phase Pending → Progressing, Succeeded → Healthy, Failed → Degraded with the best message
 *    found (pod message, then init containers, then containers);
 *  - phase Running: with restartPolicy Always (or the ignore-restart-policy annotation on a pod that
 *    is not a hook) Ready → Healthy, a container that has terminated before → Degraded, otherwise
 *    Progressing; OnFailure/Never pods are run-to-completion (typically hooks) → Progressing;
 *  - anything else → Unknown.
 */

interface ContainerStatus {
  name: string;
  waitingReason?: string;
  waitingMessage: string;
  terminated?: { message: string; reason: string; exitCode: number };
  lastTerminated: boolean;
}

function toContainerStatus(value: unknown): ContainerStatus {
  const waiting = get(value, 'state', 'waiting');
  const terminated = get(value, 'state', 'terminated');
  return {
    name: str(get(value, 'name')),
    waitingReason: isRecord(waiting) ? str(waiting['reason']) : undefined,
    waitingMessage: isRecord(waiting) ? str(waiting['message']) : '',
    terminated: isRecord(terminated)
      ? {
          message: str(terminated['message']),
          reason: str(terminated['reason']),
          exitCode: int(terminated['exitCode']),
        }
      : undefined,
    lastTerminated: isRecord(get(value, 'lastState', 'terminated')),
  };
}

function containerStatuses(obj: KubeObject, field: string): ContainerStatus[] {
  const status: unknown = obj.status;
  return list(get(status, field)).filter(isRecord).map(toContainerStatus);
}

function isErrorWaitingReason(reason: string): boolean {
  return reason.startsWith('Err') || reason.endsWith('Error') || reason.endsWith('BackOff');
}

function failMessage(ctr: ContainerStatus): string {
  const t = ctr.terminated;
  if (!t) return '';
  if (t.message !== '') return t.message;
  if (t.reason === 'OOMKilled') return t.reason;
  if (t.exitCode !== 0) return `container ${quote(ctr.name)} failed with exit code ${t.exitCode}`;
  return '';
}

function restartPolicyOf(obj: KubeObject): string {
  const spec: unknown = obj.spec;
  // The API server defaults an unset restartPolicy to Always; manifests read from files may omit it.
  return str(get(spec, 'restartPolicy')) || 'Always';
}

export function podHealth(obj: KubeObject): HealthResult {
  const status: unknown = obj.status;
  const phase = str(get(status, 'phase'));
  const podMessage = str(get(status, 'message'));
  const restartPolicy = restartPolicyOf(obj);
  const containers = containerStatuses(obj, 'containerStatuses');

  if (restartPolicy === 'Always') {
    // Not applied to OnFailure/Never pods: those are usually hooks, and failing a hook on a
    // transient ImagePullBackOff would end the sync early.
    const messages = containers
      .filter((c) => c.waitingReason !== undefined && isErrorWaitingReason(c.waitingReason))
      .map((c) => c.waitingMessage);
    if (messages.length > 0) {
      return health('Degraded', messages.join(', '));
    }
  }

  switch (phase) {
    case 'Pending':
      return health('Progressing', podMessage);
    case 'Succeeded':
      return health('Healthy', podMessage);
    case 'Failed': {
      if (podMessage !== '') return health('Degraded', podMessage);
      for (const ctr of [...containerStatuses(obj, 'initContainerStatuses'), ...containers]) {
        const message = failMessage(ctr);
        if (message !== '') return health('Degraded', message);
      }
      return health('Degraded');
    }
    case 'Running': {
      const ignoreRestartPolicy = ANNOTATION_IGNORE_RESTART_POLICY in annotationsOf(obj);
      if (restartPolicy === 'Always' || (ignoreRestartPolicy && !isHook(obj))) {
        if (findCondition(conditionsOf(obj), 'Ready')?.status === 'True') {
          return health('Healthy', podMessage);
        }
        if (containers.some((c) => c.lastTerminated)) {
          return health('Degraded', podMessage);
        }
        return health('Progressing', podMessage);
      }
      if (restartPolicy === 'OnFailure' || restartPolicy === 'Never') {
        return health('Progressing', podMessage);
      }
      break;
    }
    default:
      break;
  }
  return health('Unknown', podMessage);
}
