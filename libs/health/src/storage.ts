import { health, type HealthResult, type KubeObject } from './types.js';
import { get, str } from './util.js';

/** PersistentVolumeClaim, following gitops-engine's health_pvc.go (no messages). */
export function pvcHealth(obj: KubeObject): HealthResult {
  const status: unknown = obj.status;
  switch (str(get(status, 'phase'))) {
    case 'Bound':
      return health('Healthy');
    case 'Pending':
      return health('Progressing');
    case 'Lost':
      return health('Degraded');
    default:
      return health('Unknown');
  }
}
