import { health, type HealthResult, type KubeObject } from './types.js';
import {
  conditionsOf,
  findCondition,
  generationOf,
  get,
  int,
  nameOf,
  optInt,
  quote,
  str,
} from './util.js';

/*
 * Controllers of the apps group. The rules and messages follow gitops-engine's
 * health_deployment.go, health_statefulset.go, health_daemonset.go and health_replicaset.go, which
 * in turn follow `kubectl rollout status`.
 */

export function deploymentHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  const status: unknown = obj.status;
  if (get(spec, 'paused') === true) {
    return health('Suspended', 'Deployment is paused');
  }
  if (generationOf(obj) > int(get(status, 'observedGeneration'))) {
    return health(
      'Progressing',
      'Waiting for rollout to finish: observed deployment generation less than desired generation',
    );
  }
  const progressing = findCondition(conditionsOf(obj), 'Progressing');
  const desired = optInt(get(spec, 'replicas'));
  const replicas = int(get(status, 'replicas'));
  const updated = int(get(status, 'updatedReplicas'));
  const available = int(get(status, 'availableReplicas'));
  if (progressing?.reason === 'ProgressDeadlineExceeded') {
    return health('Degraded', `Deployment ${quote(nameOf(obj))} exceeded its progress deadline`);
  }
  if (desired !== undefined && updated < desired) {
    return health(
      'Progressing',
      `Waiting for rollout to finish: ${updated} out of ${desired} new replicas have been updated...`,
    );
  }
  if (replicas > updated) {
    return health(
      'Progressing',
      `Waiting for rollout to finish: ${replicas - updated} old replicas are pending termination...`,
    );
  }
  if (available < updated) {
    return health(
      'Progressing',
      `Waiting for rollout to finish: ${available} of ${updated} updated replicas are available...`,
    );
  }
  return health('Healthy');
}

export function statefulSetHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  const status: unknown = obj.status;
  const observed = int(get(status, 'observedGeneration'));
  if (observed === 0 || generationOf(obj) > observed) {
    return health('Progressing', 'Waiting for statefulset spec update to be observed...');
  }
  const desired = optInt(get(spec, 'replicas'));
  const ready = int(get(status, 'readyReplicas'));
  const updated = int(get(status, 'updatedReplicas'));
  if (desired !== undefined && ready < desired) {
    return health('Progressing', `Waiting for ${desired - ready} pods to be ready...`);
  }
  const strategyType = str(get(spec, 'updateStrategy', 'type'));
  const rollingUpdate = get(spec, 'updateStrategy', 'rollingUpdate');
  if (strategyType === 'RollingUpdate' && rollingUpdate !== undefined && rollingUpdate !== null) {
    const partition = optInt(get(rollingUpdate, 'partition'));
    if (desired !== undefined && partition !== undefined && updated < desired - partition) {
      return health(
        'Progressing',
        `Waiting for partitioned roll out to finish: ${updated} out of ${desired - partition} new pods have been updated...`,
      );
    }
    return health(
      'Healthy',
      `partitioned roll out complete: ${updated} new pods have been updated...`,
    );
  }
  if (strategyType === 'OnDelete') {
    return health('Healthy', `statefulset has ${ready} ready pods`);
  }
  const updateRevision = str(get(status, 'updateRevision'));
  const currentRevision = str(get(status, 'currentRevision'));
  if (updateRevision !== currentRevision) {
    return health(
      'Progressing',
      `waiting for statefulset rolling update to complete ${updated} pods at revision ${updateRevision}...`,
    );
  }
  const current = int(get(status, 'currentReplicas'));
  return health(
    'Healthy',
    `statefulset rolling update complete ${current} pods at revision ${currentRevision}...`,
  );
}

export function daemonSetHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  const status: unknown = obj.status;
  if (generationOf(obj) > int(get(status, 'observedGeneration'))) {
    return health(
      'Progressing',
      'Waiting for rollout to finish: observed daemon set generation less than desired generation',
    );
  }
  const desired = int(get(status, 'desiredNumberScheduled'));
  const updated = int(get(status, 'updatedNumberScheduled'));
  const available = int(get(status, 'numberAvailable'));
  if (str(get(spec, 'updateStrategy', 'type')) === 'OnDelete') {
    return health('Healthy', `daemon set ${updated} out of ${desired} new pods have been updated`);
  }
  const name = quote(nameOf(obj));
  if (updated < desired) {
    return health(
      'Progressing',
      `Waiting for daemon set ${name} rollout to finish: ${updated} out of ${desired} new pods have been updated...`,
    );
  }
  if (available < desired) {
    return health(
      'Progressing',
      `Waiting for daemon set ${name} rollout to finish: ${available} of ${desired} updated pods are available...`,
    );
  }
  return health('Healthy');
}

export function replicaSetHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  const status: unknown = obj.status;
  if (generationOf(obj) > int(get(status, 'observedGeneration'))) {
    return health(
      'Progressing',
      'Waiting for rollout to finish: observed replica set generation less than desired generation',
    );
  }
  const failure = findCondition(conditionsOf(obj), 'ReplicaFailure');
  if (failure?.status === 'True') {
    return health('Degraded', failure.message);
  }
  const desired = optInt(get(spec, 'replicas'));
  const available = int(get(status, 'availableReplicas'));
  if (desired !== undefined && available < desired) {
    return health(
      'Progressing',
      `Waiting for rollout to finish: ${available} out of ${desired} new replicas are available...`,
    );
  }
  return health('Healthy');
}
