import { health, type HealthResult, type KubeObject } from './types.js';
import { conditionsOf } from './util.js';

/**
 * APIService, following gitops-engine's health_apiservice.go: the Available condition decides, and
 * its reason and message are reported as `reason: message`.
 */
export function apiServiceHealth(obj: KubeObject): HealthResult {
  const available = conditionsOf(obj).find((c) => c.type === 'Available');
  if (available) {
    const message = `${available.reason}: ${available.message}`;
    return health(available.status === 'True' ? 'Healthy' : 'Progressing', message);
  }
  return health('Progressing', 'Waiting to be processed');
}

/**
 * CustomResourceDefinition, following Argo CD's
 * `resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health.lua`. As in the Lua
 * script, the message reported is the one of the last relevant condition seen.
 */
export function crdHealth(obj: KubeObject): HealthResult {
  const conditions = conditionsOf(obj);
  if (conditions.length === 0) {
    return health('Progressing', 'Status conditions not found');
  }
  let established = false;
  let terminating = false;
  let namesNotAccepted = false;
  let violations = false;
  let conditionMessage = '';
  for (const c of conditions) {
    if (c.type === 'Terminating' && c.status === 'True') {
      terminating = true;
      conditionMessage = c.message;
    }
    if (c.type === 'NamesAccepted' && c.status === 'False') {
      namesNotAccepted = true;
      conditionMessage = c.message;
    }
    if (c.type === 'Established' && c.status === 'True') {
      established = true;
      conditionMessage = c.message;
    }
    if (c.type === 'NonStructuralSchema' && c.status === 'True') {
      violations = true;
      conditionMessage = c.message;
    }
  }
  if (terminating) return health('Progressing', `CRD is terminating: ${conditionMessage}`);
  if (namesNotAccepted) {
    return health('Degraded', `CRD names have not been accepted: ${conditionMessage}`);
  }
  if (!established) return health('Degraded', 'CRD is not established');
  if (violations) return health('Degraded', `Schema violations found: ${conditionMessage}`);
  return health('Healthy', 'CRD is healthy');
}
