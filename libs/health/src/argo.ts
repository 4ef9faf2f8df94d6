import { health, isHealthStatus, type HealthResult, type KubeObject } from './types.js';
import { get, str } from './util.js';

/** Argo Workflow, following gitops-engine's health_argo.go (phase and message only). */
export function argoWorkflowHealth(obj: KubeObject): HealthResult {
  const status: unknown = obj.status;
  const message = str(get(status, 'message'));
  switch (str(get(status, 'phase'))) {
    case '':
    case 'Pending':
    case 'Running':
      return health('Progressing', message);
    case 'Succeeded':
      return health('Healthy', message);
    case 'Failed':
    case 'Error':
      return health('Degraded', message);
    default:
      return health('Unknown', message);
  }
}

/**
 * Argo CD Application (app-of-apps). Argo CD removed the built-in check in 1.8 and documents this
 * customization instead: report the child application's own `status.health`, and Progressing
 * until it has one.
 */
export function argoApplicationHealth(obj: KubeObject): HealthResult {
  const status: unknown = obj.status;
  const code = get(status, 'health', 'status');
  if (isHealthStatus(code)) {
    return health(code, str(get(status, 'health', 'message')));
  }
  return health('Progressing');
}
