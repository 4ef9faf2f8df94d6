import { createHash } from 'node:crypto';
import type { ApplicationsSyncPolicy, GeneratedApplication } from './types.js';

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/**
 * A stable hash of everything the ApplicationSet controls on an Application: labels, annotations,
 * finalizers and spec (not the name, which identifies it). Key order does not matter. Store it with
 * the Application when creating/updating it, and pass it back to {@link planChanges}.
 */
export function applicationSpecHash(app: GeneratedApplication): string {
  const { name: _name, ...meta } = app.metadata;
  return createHash('sha256')
    .update(canonical({ metadata: meta, spec: app.spec }))
    .digest('hex');
}

export interface ChangePlan {
  /** Generated, not existing yet. */
  create: string[];
  /** Existing with a different hash, and the policy allows updates. */
  update: string[];
  /** Existing, no longer generated, and the policy allows deletion. */
  delete: string[];
  /** Left untouched: identical, or the policy (or `opts.keep`/`opts.skipDelete`) forbids the change. */
  unchanged: string[];
}

export interface PlanOptions {
  /**
   * Names never deleted, e.g. the names of Applications that failed validation or were duplicated
   * in this run (Argo CD does not delete an Application it failed to generate).
   */
  keep?: Iterable<string>;
  /** Delete nothing, e.g. when generation was incomplete (`GenerateApplicationsResult.complete`). */
  skipDelete?: boolean;
}

/**
 * Compares the Applications that exist with those just generated, honouring
 * `syncPolicy.applicationsSync`: `create-only` never updates nor deletes, `create-update` never
 * deletes, `create-delete` never updates, `sync` (the default) does all. Order: create/update follow
 * the generated order, delete follows `current`.
 */
export function planChanges(
  current: readonly { name: string; specHash: string }[],
  generated: readonly GeneratedApplication[],
  policy: ApplicationsSyncPolicy = 'sync',
  opts: PlanOptions = {},
): ChangePlan {
  const allowUpdate = policy === 'sync' || policy === 'create-update';
  const allowDelete = (policy === 'sync' || policy === 'create-delete') && !opts.skipDelete;
  const keep = new Set(opts.keep ?? []);
  const existing = new Map<string, string>();
  for (const c of current) if (!existing.has(c.name)) existing.set(c.name, c.specHash);

  const plan: ChangePlan = { create: [], update: [], delete: [], unchanged: [] };
  const wanted = new Set<string>();
  for (const app of generated) {
    const name = app.metadata.name;
    if (wanted.has(name)) continue;
    wanted.add(name);
    const hash = existing.get(name);
    if (hash === undefined) plan.create.push(name);
    else if (hash !== applicationSpecHash(app) && allowUpdate) plan.update.push(name);
    else plan.unchanged.push(name);
  }
  for (const name of existing.keys()) {
    if (wanted.has(name)) continue;
    if (allowDelete && !keep.has(name)) plan.delete.push(name);
    else plan.unchanged.push(name);
  }
  return plan;
}

/**
 * The {@link PlanOptions} that keep Argo CD's safety rules after a generation run: Applications
 * that failed validation or were duplicated are not deleted, and nothing is deleted when the run
 * was incomplete (a generator failed, or an Application could not be rendered far enough to know
 * its name).
 */
export function planOptionsFor(result: {
  errors: readonly { name?: string }[];
  complete: boolean;
}): PlanOptions {
  const keep: string[] = [];
  for (const e of result.errors) if (e.name) keep.push(e.name);
  return { keep, skipDelete: !result.complete };
}
