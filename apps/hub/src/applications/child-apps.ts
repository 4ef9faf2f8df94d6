import { isChildApplication, isSkipped } from '../../../../libs/health/src/index.js';
import type { KubeObject } from '../../../../libs/manifests/src/index.js';
import { ValidationFailed } from '../common/validation.js';
import type { ResourceRef } from '../projects/project-policy.js';
import {
  argoDestinationServer,
  parseApplicationInput,
  type ApplicationSpec,
} from './application.schemas.js';

/** Most child applications one application's manifests may hold. */
export const MAX_CHILD_APPLICATIONS = 1000;

/** An application the manifests of another (its parent) hold: app of apps. */
export interface ChildApp {
  name: string;
  spec: ApplicationSpec;
  labels: Record<string, string>;
}

/** The child applications of a parent's manifests, and why the others were refused. */
export interface ChildPlan {
  children: ChildApp[];
  /** One line per refused document, naming it and its fields. */
  errors: string[];
  /** Every name the documents give, those refused included (they are not pruned). */
  named: string[];
  /** Some document gives no readable name. */
  unnamed: boolean;
}

/** The Argo CD `Application`s among a bundle's objects (but those marked `hook: Skip`). */
export function childDocuments(objects: readonly KubeObject[]): KubeObject[] {
  return objects.filter((o) => isChildApplication(o) && !isSkipped(o));
}

/** The destination servers the documents name their clusters by (for `parseChildren`). */
export function childServers(docs: readonly KubeObject[]): string[] {
  return [...new Set(docs.flatMap((d) => argoDestinationServer(d) ?? []))];
}

/**
 * Parses a parent's `Application` documents as `POST /applications` parses one (`servers`: the
 * registered clusters' names by server). A document that does not parse, a name given twice and
 * what is beyond MAX_CHILD_APPLICATIONS are refused with a reason; the others stand.
 */
export function parseChildren(
  docs: readonly KubeObject[],
  servers: ReadonlyMap<string, readonly string[]>,
): ChildPlan {
  const children: ChildApp[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  const named = new Set<string>();
  let unnamed = false;
  docs.forEach((doc, i) => {
    const meta = doc.metadata as { name?: unknown } | undefined;
    if (typeof meta?.name === 'string' && meta.name !== '') named.add(meta.name);
    else unnamed = true;
    const label =
      typeof meta?.name === 'string' ? `"${meta.name.slice(0, 253)}"` : `#${i + 1} (no name)`;
    if (i >= MAX_CHILD_APPLICATIONS) {
      if (i === MAX_CHILD_APPLICATIONS)
        errors.push(
          `${docs.length - MAX_CHILD_APPLICATIONS} child application(s) beyond the first ${MAX_CHILD_APPLICATIONS} ignored`,
        );
      return;
    }
    try {
      const { name, labels = {}, ...spec } = parseApplicationInput(doc, servers);
      if (spec.dependsOn?.length) {
        throw new ValidationFailed('invalid Argo CD Application', [
          {
            field: 'spec.dependsOn',
            reason: 'not supported in child applications (the hub does not check their cycles)',
          },
        ]);
      }
      if (seen.has(name)) {
        errors.push(`child application ${label}: named twice in the manifests`);
        return;
      }
      seen.add(name);
      children.push({ name, spec, labels });
    } catch (e) {
      if (!(e instanceof ValidationFailed)) throw e;
      const fields = e.fields.map((f) => `${f.field || '(document)'}: ${f.reason}`).join('; ');
      errors.push(`child application ${label}: ${fields}`);
    }
  });
  return { children, errors, named: [...named], unnamed };
}

/** What a parent's manifests ask of its children, checked, and what they no longer name. */
export interface ChildrenPlan {
  children: ChildApp[];
  errors: string[];
  /** Children no document names any more: deleted when pruning, kept otherwise. */
  stale: string[];
  /** The names pruning keeps (every name a document gives); undefined: prune none. */
  keep: string[] | undefined;
}

/** A parent's children to write once the parent is deployed (see ChildAppsService.write). */
export interface ChildrenWrite {
  parent: { id: string; name: string };
  children: ChildApp[];
  /** Delete the children no document names any more (with their resources). */
  prune: boolean;
  /** The names pruning keeps (ChildrenPlan.keep). */
  keep: string[] | undefined;
}

/** Whether a bundle (by its resource list) holds child applications. */
export const holdsChildren = (resources: readonly ResourceRef[] | undefined): boolean =>
  resources?.some((r) => r.group === 'argoproj.io' && r.kind === 'Application') ?? false;
