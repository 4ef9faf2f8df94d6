/** A ref that moved in a fetch, and the revisions (as applications name them) that follow it. */
export interface RefMove {
  ref: string;
  /** `targetRevision` values resolved through this ref. */
  revisions: string[];
  /** The commit before (undefined: the ref is new). */
  from?: string;
  /** The commit now (undefined: the ref is gone). */
  to?: string;
}

/** The revision names a ref answers to: HEAD, a branch or a tag name. */
function revisionsOf(ref: string): string[] {
  if (ref === 'refs/axle/HEAD') return ['HEAD'];
  const m = /^refs\/(?:heads|tags)\/(.+)$/.exec(ref);
  return m ? [m[1]] : [];
}

/** What moved between two sets of refs (ref name → commit), with the revisions each one serves. */
export function refMoves(before: Record<string, string>, after: Record<string, string>): RefMove[] {
  const out: RefMove[] = [];
  for (const ref of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (before[ref] === after[ref]) continue;
    const revisions = revisionsOf(ref);
    if (revisions.length) out.push({ ref, revisions, from: before[ref], to: after[ref] });
  }
  return out.sort((a, b) => (a.ref < b.ref ? -1 : 1));
}
