export type { DocumentHealth, HealthResult, HealthStatus, KubeObject } from './types.js';
export { HEALTH_ORDER, isHealthStatus } from './types.js';
export { assessHealth } from './assess.js';
export { isWorse, worstHealth } from './order.js';
export { isChildApplication, isHook, isSkipped, isSyncedResource } from './util.js';
export {
  aggregateHealth,
  assessHealthOfYamlDocuments,
  excludedFromAppHealth,
  resourceRef,
} from './aggregate.js';
