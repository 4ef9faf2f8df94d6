import { assessHealth } from './assess.js';
import { isWorse } from './order.js';
import { health, type DocumentHealth, type HealthResult, type HealthStatus } from './types.js';
import type { KubeObject } from './types.js';
import {
  ANNOTATION_IGNORE_HEALTHCHECK,
  annotationsOf,
  groupVersionOf,
  isHook,
  isRecord,
  list,
  nameOf,
  str,
} from './util.js';

/** `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects. */
export function resourceRef(obj: KubeObject): string {
  const kind = str(obj.kind) || 'Resource';
  const namespace = str(obj.metadata?.namespace);
  const name = nameOf(obj) || '<unnamed>';
  return namespace ? `${kind}/${namespace}/${name}` : `${kind}/${name}`;
}

/**
 * Whether Argo CD leaves the object out of application health: sync hooks and objects annotated
 * `argocd.argoproj.io/ignore-healthcheck: "true"`.
 */
export function excludedFromAppHealth(obj: KubeObject): boolean {
  return annotationsOf(obj)[ANNOTATION_IGNORE_HEALTHCHECK] === 'true' || isHook(obj);
}

function isArgoApplication(obj: KubeObject): boolean {
  return groupVersionOf(obj).group === 'argoproj.io' && obj.kind === 'Application';
}

/**
 * Application health from its resources, as Argo CD computes it: the worst resource health wins
 * (see `worstHealth`), hooks and ignored resources do not count, and a child Argo CD Application
 * that is Missing or Unknown does not affect its parent. An `undefined` entry is a resource that
 * should exist but does not (Missing). The message names the worst resource.
 */
export function aggregateHealth(resources: readonly (KubeObject | undefined)[]): HealthResult {
  let worst: { status: HealthStatus; ref: string; message?: string } | undefined;
  let sameAsWorst = 0;
  for (const [index, res] of resources.entries()) {
    let ref: string;
    let result: HealthResult;
    if (res === undefined || res === null) {
      ref = `resource #${index + 1}`;
      result = health('Missing');
    } else {
      if (excludedFromAppHealth(res)) continue;
      ref = resourceRef(res);
      result = assessHealth(res);
      if (isArgoApplication(res) && (result.status === 'Missing' || result.status === 'Unknown')) {
        continue;
      }
    }
    if (!worst || isWorse(worst.status, result.status)) {
      worst = { status: result.status, ref, message: result.message };
      sameAsWorst = 0;
    } else if (result.status === worst.status) {
      sameAsWorst++;
    }
  }
  if (!worst || worst.status === 'Healthy') return health('Healthy');
  let message = `${worst.ref} is ${worst.status}`;
  if (worst.message) message += `: ${worst.message}`;
  if (sameAsWorst > 0) {
    message += ` (and ${sameAsWorst} more ${sameAsWorst === 1 ? 'resource' : 'resources'} ${worst.status})`;
  }
  return health(worst.status, message);
}

function flatten(docs: readonly unknown[], out: KubeObject[]): void {
  for (const doc of docs) {
    if (!isRecord(doc)) continue;
    const kind = str(doc['kind']);
    if (kind.endsWith('List') && Array.isArray(doc['items'])) {
      flatten(list(doc['items']), out);
    } else {
      out.push(doc);
    }
  }
}

/**
 * One health line per object of a multi-document YAML file (empty documents skipped, `List`
 * kinds expanded), shaped for `axle health -f FILE -o json`.
 */
export function assessHealthOfYamlDocuments(
  objs: readonly (KubeObject | null | undefined)[],
): DocumentHealth[] {
  const flat: KubeObject[] = [];
  flatten(objs, flat);
  return flat.map((obj) => {
    const result = assessHealth(obj);
    return {
      kind: str(obj.kind),
      name: nameOf(obj),
      status: result.status,
      message: result.message ?? '',
    };
  });
}
