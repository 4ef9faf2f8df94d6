import { health, type HealthResult, type KubeObject } from './types.js';
import { get, list, str } from './util.js';

/*
 * Service and Ingress, following gitops-engine's health_service.go and health_ingress.go: only an
 * address handed out by a load balancer counts, and Argo attaches no message to either result.
 */

function hasLoadBalancerIngress(obj: KubeObject): boolean {
  const status: unknown = obj.status;
  return list(get(status, 'loadBalancer', 'ingress')).length > 0;
}

export function serviceHealth(obj: KubeObject): HealthResult {
  const spec: unknown = obj.spec;
  if (str(get(spec, 'type')) === 'LoadBalancer' && !hasLoadBalancerIngress(obj)) {
    return health('Progressing');
  }
  return health('Healthy');
}

export function ingressHealth(obj: KubeObject): HealthResult {
  return health(hasLoadBalancerIngress(obj) ? 'Healthy' : 'Progressing');
}
