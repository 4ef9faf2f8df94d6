import { hash } from 'node:crypto';
import { sharedConstantJson } from '../../generators/src/index.js';
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

/** How often a {@link SpecHashMemo} hit is checked against the hash itself (1 in this many). */
const VERIFY_EVERY = 997;

/**
 * {@link applicationSpecHash}, remembered from one evaluation to the next. An Application equal
 * in content to the one of the same name hashed in the previous round gets that round's hash
 * without being serialised and hashed again. Comparing walks only the parts rendered for each
 * Application: a template's constant parts (shared by the Applications of one generation, made
 * again by the next) are compared by the JSON registered with them.
 *
 * Call {@link round} before each evaluation: the memo holds the Applications of the last two
 * rounds (by reference: they must not be changed once hashed), nothing older. One hit in
 * {@link VERIFY_EVERY} is hashed as well and compared; a difference (an Application changed after
 * it was hashed, a defect) turns the memo off and is counted in {@link mismatches}.
 *
 * A round usually hashes the Applications in the order of the last one (a generation's order is
 * a function of its inputs): each is looked for first where the last one left off, and by name
 * (an index built once a round, on the first that is not there) only when it is not there.
 * Both took the plan of a no-op re-evaluation of 100,000 Applications from about 340 ms to 185 ms
 * (2 cores); hashing them all takes about 500 ms.
 */
export class SpecHashMemo {
  /** The last round's entries, in the order they were hashed. */
  private last: Memo[] = [];
  /** Where in `last` the next lookup starts. */
  private cursor = 0;
  /** `last` by name (position), built on the first lookup out of order. */
  private lastIndex: Map<string, number> | undefined;
  /** This round's entries, in the order they were hashed. */
  private next: Memo[] = [];
  /** This round's entries that are not the last round's (hashed, not taken over), by name. */
  private fresh = new Map<string, Memo>();
  /** Rounds started: an entry taken over by this round has this number. */
  private rounds = 0;
  private hits = 0;
  private off = false;
  /** Hits found different from the hash itself (the memo is off from the first one). */
  mismatches = 0;

  constructor(private readonly verifyEvery = VERIFY_EVERY) {}

  /** Starts an evaluation's round. */
  round(): void {
    this.rounds++;
    this.last = this.next;
    this.cursor = 0;
    this.lastIndex = undefined;
    this.next = [];
    this.fresh = new Map();
  }

  /** How many Applications the memo keeps alive: those of the round that saw the most. */
  get applications(): number {
    return Math.max(this.last.length, this.next.length);
  }

  hash(app: GeneratedApplication): string {
    if (this.off) return applicationSpecHash(app);
    const name = app.metadata.name;
    // Hashed afresh by this round already (asked again): found without looking in the last
    // round, whose index would be built for it (the lookups after a pass are out of order).
    const mine = this.fresh.size > 0 ? this.fresh.get(name) : undefined;
    if (mine?.app === app) return mine.hash;
    const seen = this.lastOf(name);
    if (seen && sameHashedContent(seen.app, app)) {
      // Taken over by this round already (asked again within it).
      if (seen.round === this.rounds) return seen.hash;
      if (++this.hits % this.verifyEvery === 0 && applicationSpecHash(app) !== seen.hash) {
        this.mismatches++;
        this.off = true;
        this.last = [];
        this.lastIndex = undefined;
        this.next = [];
        this.fresh.clear();
        return applicationSpecHash(app);
      }
      // Taken over by this round (the last round's entry is of no more use).
      seen.app = app;
      seen.round = this.rounds;
      this.next.push(seen);
      return seen.hash;
    }
    const entry = { name, app, hash: applicationSpecHash(app), round: this.rounds };
    this.fresh.set(name, entry);
    this.next.push(entry);
    return entry.hash;
  }

  /** The last round's entry for `name`: where the last lookup left off, else by the index. */
  private lastOf(name: string): Memo | undefined {
    const at = this.cursor;
    if (at < this.last.length && this.last[at].name === name) {
      this.cursor = at + 1;
      return this.last[at];
    }
    if (!this.lastIndex) {
      this.lastIndex = new Map();
      for (let i = this.last.length - 1; i >= 0; i--) this.lastIndex.set(this.last[i].name, i);
    }
    const i = this.lastIndex.get(name);
    if (i === undefined) return undefined;
    this.cursor = i + 1;
    return this.last[i];
  }
}

interface Memo {
  name: string;
  app: GeneratedApplication;
  hash: string;
  /** The last round that hashed or took it over. */
  round: number;
}

/** Whether what {@link applicationSpecHash} covers is equal in two Applications. */
function sameHashedContent(a: GeneratedApplication, b: GeneratedApplication): boolean {
  return (
    sameJson(a.spec, b.spec) &&
    sameJson(a.metadata.labels, b.metadata.labels) &&
    sameJson(a.metadata.annotations, b.metadata.annotations) &&
    sameJson(a.metadata.finalizers, b.metadata.finalizers)
  );
}

/**
 * Deep equality of JSON-like values: plain objects (same keys in the same order, as their JSON
 * would be), arrays and primitives. Anything else is equal only to itself.
 */
function sameJson(a: unknown, b: unknown, depth = 0): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (depth > 100) return false;
  // A template's constant parts (frozen, shared by the Applications of one generation) are
  // compared by the JSON registered with them, not walked again for every Application.
  if (Object.isFrozen(a) && Object.isFrozen(b)) {
    const ja = sharedConstantJson(a);
    const jb = ja === undefined ? undefined : sharedConstantJson(b);
    if (jb !== undefined) return ja === jb;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i], depth + 1)) return false;
    return true;
  }
  if (Array.isArray(b) || !isPlain(a) || !isPlain(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i];
    if (k !== kb[i] || !sameJson(a[k], b[k], depth + 1)) return false;
  }
  return true;
}

/** Whether an object is a plain one (a JSON object): made by a literal, or without a prototype. */
export function isPlain(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
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
  /** The hash of a generated Application (default {@link applicationSpecHash}; see {@link SpecHashMemo}). */
  hashOf?: (app: GeneratedApplication) => string;
  /**
   * `nameIndex(current)`, when the caller keeps it (the same `current` planned against again):
   * it is not built again.
   */
  index?: ReadonlyMap<string, number>;
}

/** Name → position of its first entry in `current` (see {@link PlanOptions.index}). */
export function nameIndex(current: readonly { name: string }[]): Map<string, number> {
  const index = new Map<string, number>();
  for (let i = 0; i < current.length; i++)
    if (!index.has(current[i].name)) index.set(current[i].name, i);
  return index;
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
  const existing = opts.index ?? nameIndex(current);
  const wanted = new Uint8Array(current.length);
  const created = new Set<string>();
  const hashOf = opts.hashOf ?? applicationSpecHash;
  const suffix = opts.hashSuffix ?? '';

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
    if (current[i].specHash !== hashOf(app) + suffix && allowUpdate) plan.update.push(name);
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
