import type { ParamSet } from '../../generators/src/index.js';
import { isPlain } from './plan.js';
import type { GeneratedApplication } from './types.js';

/** How often an Application taken over is rendered again and compared (1 in this many). */
const VERIFY_EVERY = 997;

/** Lookups in place in a row that find nothing, after which the memo relocates (see relocate). */
const RELOCATE_AFTER = 32;
/** Most candidates one relocation compares (see RenderMemo.relocate). */
const RELOCATE_TRIES = 16;
/** Relocations in a row that found nothing, after which a generator's lookups stay in place. */
const RELOCATE_GIVE_UP = 64;

/** The scalar entries of a parameter set, as a key (equal sets have equal keys, mostly). */
function keyOf(params: ParamSet): string {
  let key = '';
  for (const k in params) {
    const v = params[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      key += `${k}\u0000${v}\u0000`;
  }
  return key;
}

/** An Application remembered with what it was rendered from. */
export interface RenderedEntry {
  params: ParamSet;
  /** The Application, its destination resolved (never changed once remembered). */
  app: GeneratedApplication;
  /** The destination as rendered, before it was resolved against the clusters. */
  name: string;
  server: string;
}

interface GeneratorRenders {
  /** What, besides a parameter set, an Application of this generator is rendered from. */
  key: string;
  /** By position in the generator's parameter sets. */
  entries: (RenderedEntry | undefined)[];
}

/**
 * The Applications of an ApplicationSet's last evaluation, by the parameter set each was rendered
 * from. `generateApplications` takes over an Application whose generator produced an equal
 * parameter set at the same position, for an unchanged template, instead of rendering it again:
 * the same template and data render the same Application. Its checks that depend on more than
 * the Application (its project exists, its destination cluster) are made again.
 *
 * Renders are pure unless a template calls one of the templating library's impure functions (the
 * clock, chance, or a map changed in place: see `IMPURE_FUNCTIONS`): the first such call turns
 * the memo off for the rest of the round, and the round remembers nothing for the next.
 *
 * Parameter sets are compared as templates see them (Go maps: in any order). The maps they share (a
 * cluster's labels, a matrix child's set, in every combination it is part of) are compared once a
 * round: an object of this round found equal to one of the last is remembered as such. Neither
 * the parameter sets nor the Applications may be changed once remembered.
 *
 * Parameter sets are paired by position; after sets inserted or removed before them, by a key of
 * their scalar entries (see relocate).
 *
 * One Application taken over in {@link VERIFY_EVERY} is rendered again and compared; a difference
 * (a defect: a remembered parameter set changed in place) turns the memo off for good and is
 * counted in {@link mismatches}.
 *
 * A generation claims the memo for its round and releases it at its end (one at a time: another
 * goes without). Between generations the memo holds the entries of the last round, nothing
 * older.
 */
export class RenderMemo {
  private last: GeneratorRenders[] = [];
  private next: GeneratorRenders[] = [];
  /** This round's objects found equal to the last round's. */
  private same = new WeakMap<object, object>();
  /** The current generator's last renders (undefined: none, or a different template). */
  private from: GeneratorRenders | undefined;
  private into: GeneratorRenders | undefined;
  /** Where the current generator's last renders are, from this round's position. */
  private shift = 0;
  /** The current generator's last renders by the key of their parameter sets (see relocate). */
  private byKey: Map<string, number[]> | undefined;
  /** Lookups in place that found nothing since the last that did, or the last relocation. */
  private missed = 0;
  /** Relocations that found nothing since the last one that did, or the last hit in place. */
  private lost = 0;
  /** Off for the rest of the round (an impure render). */
  private off = false;
  /** A generation is using it (see claim). */
  private busy = false;
  private verified = 0;
  /** Applications taken over by this round. */
  hits = 0;
  /** Applications taken over that differed from their render (the memo is off from the first). */
  mismatches = 0;

  private readonly verifyEvery: number;
  private readonly relocateAfter: number;

  constructor(opts: { verifyEvery?: number; relocateAfter?: number } = {}) {
    this.verifyEvery = opts.verifyEvery ?? VERIFY_EVERY;
    this.relocateAfter = opts.relocateAfter ?? RELOCATE_AFTER;
  }

  /**
   * Starts a generation's round; false (the caller goes without) while another generation is
   * using the memo: its lookups follow one generation's generators at a time.
   */
  claim(): boolean {
    if (this.busy) return false;
    this.busy = true;
    this.last = this.off || this.mismatches > 0 ? [] : this.next;
    this.next = [];
    this.same = new WeakMap();
    this.from = this.into = undefined;
    this.off = false;
    this.hits = 0;
    return true;
  }

  /** Ends the round: only what it remembered is kept, for the next. */
  release(): void {
    this.busy = false;
    this.last = [];
    this.same = new WeakMap();
    this.from = this.into = undefined;
    this.byKey = undefined;
    if (this.off) this.next = [];
  }

  /** How many Applications the memo keeps alive between generations. */
  get applications(): number {
    return this.next.reduce((n, g) => n + (g?.entries.length ?? 0), 0);
  }

  /** Starts generator `g`, whose Applications are rendered from `key` and their parameter sets. */
  generator(g: number, key: string): void {
    const last = this.last[g];
    this.from = last?.key === key ? last : undefined;
    this.into = this.next[g] = { key, entries: [] };
    this.shift = 0;
    this.byKey = undefined;
    this.missed = this.lost = 0;
  }

  /**
   * The entry remembered for the `k`th parameter set of the current generator, if it was rendered
   * from an equal one; it is kept for the next round (with `params`).
   */
  find(k: number, params: ParamSet): RenderedEntry | undefined {
    if (this.off || this.mismatches > 0 || !this.from) return undefined;
    const { entries } = this.from;
    let entry = entries[k + this.shift];
    if (entry && this.equal(params, entry.params, 0)) this.missed = this.lost = 0;
    else {
      // A few misses in a row are parameter sets changed in place (a cluster's labels).
      if (++this.missed < this.relocateAfter) return undefined;
      const j = this.relocate(k, params);
      if (j < 0) return undefined;
      entry = entries[j]!;
      this.shift = j - k;
    }
    entry.params = params;
    this.into!.entries[k] = entry;
    this.hits++;
    return entry;
  }

  /**
   * Where in the current generator's last renders an entry rendered from parameters equal to
   * `params` is (-1: nowhere found): parameter sets inserted or removed before it (a cluster
   * added to the inventory) shift the rest. Tried after RELOCATE_AFTER lookups in place in a row
   * found nothing; looked up by the key of the parameter sets (built on the first try of a
   * generator), among at most RELOCATE_TRIES candidates from where the lookups are. After
   * RELOCATE_GIVE_UP relocations in a row found nothing (a change to most parameter sets), no more
   * until a lookup in place finds its entry again.
   */
  private relocate(k: number, params: ParamSet): number {
    if (this.lost >= RELOCATE_GIVE_UP) return -1;
    const { entries } = this.from!;
    if (!this.byKey) {
      this.byKey = new Map();
      for (let j = 0; j < entries.length; j++) {
        const e = entries[j];
        if (!e) continue;
        const key = keyOf(e.params);
        const at = this.byKey.get(key);
        if (at) at.push(j);
        else this.byKey.set(key, [j]);
      }
    }
    const at = this.byKey.get(keyOf(params));
    if (at) {
      // Candidates in order of position, from the first at or after where the lookup was.
      let lo = 0;
      for (let hi = at.length, want = k + this.shift; lo < hi;) {
        const mid = (lo + hi) >>> 1;
        if (at[mid] < want) lo = mid + 1;
        else hi = mid;
      }
      for (let n = 0; n < RELOCATE_TRIES && n < at.length; n++) {
        const j = at[(lo + n) % at.length];
        if (this.equal(params, entries[j]!.params, 0)) {
          this.missed = this.lost = 0;
          return j;
        }
      }
    }
    this.lost++;
    return -1;
  }

  /** Remembers what the `k`th parameter set of the current generator rendered (frozen). */
  remember(k: number, entry: RenderedEntry): void {
    if (this.off || this.mismatches > 0 || !this.into) return;
    frozen(entry.app);
    this.into.entries[k] = entry;
  }

  /** Whether the Application just taken over is to be rendered again and compared. */
  verifyNext(): boolean {
    return ++this.verified % this.verifyEvery === 0;
  }

  /** An Application taken over differed from its render (a defect): the memo is off from now on. */
  mismatch(): void {
    this.mismatches++;
    this.spoil();
  }

  /** A render was impure: nothing more is taken over or remembered this round. */
  spoil(): void {
    this.off = true;
    this.from = this.into = undefined;
    this.next = [];
  }

  /**
   * Equality of parameter sets as templates see them (as Go data): maps with the same entries in
   * any order (an entry set to undefined is none), lists and scalars. Nested objects found equal
   * are remembered for the rest of the round.
   */
  private equal(a: unknown, b: unknown, depth: number): boolean {
    // (0 and -0 differ: Go prints -0.)
    if (a === b) return a !== 0 || Object.is(a, b);
    if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
    if (depth > 0 && this.same.get(a) === b) return true;
    if (depth > 100) return false;
    const equal = Array.isArray(a)
      ? Array.isArray(b) && this.equalLists(a, b, depth)
      : !Array.isArray(b) && isPlain(a) && isPlain(b) && this.equalMaps(a, b, depth);
    if (equal && depth > 0) this.same.set(a, b);
    return equal;
  }

  private equalLists(a: unknown[], b: unknown[], depth: number): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!this.equal(a[i], b[i], depth + 1)) return false;
    return true;
  }

  private equalMaps(
    a: Record<string, unknown>,
    b: Record<string, unknown>,
    depth: number,
  ): boolean {
    let entries = 0;
    for (const k in a) {
      const v = a[k];
      if (v === undefined) continue;
      entries++;
      // (Not Object.prototype for an own `__proto__` entry of a.)
      const w = k === '__proto__' && !Object.hasOwn(b, k) ? undefined : b[k];
      if (!this.equal(v, w, depth + 1)) return false;
    }
    for (const k in b) if (b[k] !== undefined) entries--;
    return entries === 0;
  }
}

/**
 * Freezes the objects of an Application that code handling it might set a field of: a remembered
 * one is handed to later evaluations, and such a change would be a defect that throws instead of
 * changing what they are given.
 */
export function frozen(app: GeneratedApplication): GeneratedApplication {
  Object.freeze(app.metadata);
  Object.freeze(app.spec.destination);
  Object.freeze(app.spec);
  return Object.freeze(app);
}
