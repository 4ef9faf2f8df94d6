import { hash } from 'node:crypto';
import { stringifyJson } from './json.js';
import type { ApplicationsSyncPolicy, GeneratedApplication } from './types.js';

/**
 * A stable hash of everything the ApplicationSet controls on an Application: labels, annotations,
 * finalizers and spec (not the name, which identifies it). Store it with the Application when
 * creating/updating it, and pass it back to {@link planChanges}.
 *
 * Generated Applications come out of one deterministic rendering path, so their key order is a
 * function of the template: plain JSON is a stable encoding here and ~10x cheaper than a
 * key-sorting one (100,000 Applications are re-hashed on every evaluation). A template edit that
 * only reorders keys yields one harmless rewrite with equal content. The JSON is written by
 * {@link stringifyJson}, which gives the same text as `JSON.stringify` without serialising the
 * template's constant parts again for every Application.
 */
export function applicationSpecHash(app: GeneratedApplication): string {
  const m = app.metadata;
  return hash('sha256', stringifyJson([m.labels, m.annotations, m.finalizers, app.spec]));
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
  /**
   * Appended to each generated application's spec hash before comparing, when the stored spec
   * depends on more than the generated application (":rolling": a RollingSync strategy).
   */
  hashSuffix?: string;
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
  // Name → position in `current` of its first entry; `wanted[i]`: that entry is still generated.
  const existing = new Map<string, number>();
  for (let i = 0; i < current.length; i++)
    if (!existing.has(current[i].name)) existing.set(current[i].name, i);
  const wanted = new Uint8Array(current.length);
  const created = new Set<string>();

  const plan: ChangePlan = { create: [], update: [], delete: [], unchanged: [] };
  for (const app of generated) {
    const name = app.metadata.name;
    const i = existing.get(name);
    if (i === undefined) {
      if (created.has(name)) continue;
      created.add(name);
      plan.create.push(name);
      continue;
    }
    if (wanted[i]) continue;
    wanted[i] = 1;
    if (current[i].specHash !== applicationSpecHash(app) + (opts.hashSuffix ?? '') && allowUpdate)
      plan.update.push(name);
    else plan.unchanged.push(name);
  }
  for (const [name, i] of existing) {
    if (wanted[i]) continue;
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
