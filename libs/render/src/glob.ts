/**
 * Glob patterns with the semantics Argo CD gets from github.com/gobwas/glob compiled without
 * separators (its `directory.include`/`exclude`): `*` and `**` match any run of characters,
 * including `/`; `?` any one character; `[abc]`, `[a-z]`, `[!abc]` character classes; `{a,b}`
 * alternatives (which may nest and contain wildcards); `\x` a literal `x`. Whole-string match.
 *
 * File names come from whoever writes to the repository, so matching takes time proportional to
 * pattern × name whatever both are: a pattern is compiled to a Thompson NFA and every state it
 * could be in is followed at once, one UTF-16 code unit at a time (as the JavaScript RegExp this
 * used to compile to matched, without its `u` flag). As that RegExp, `*-*-*-*-*-*-prod.yaml`
 * backtracked in time n⁶ over a name of n dashes: a second at 85 characters.
 */
export interface Glob {
  /** Whether the whole of `text` matches. */
  test(text: string): boolean;
}

/**
 * A state of the NFA: one that consumes a code unit `accept` takes and goes on to `out[0]`, or (no
 * `accept`) one that goes on to every state of `out` without consuming anything. State 0 is the
 * match.
 */
interface State {
  accept?: (c: number) => boolean;
  out: number[];
}

/** A piece of pattern, built back to front: given the state after it, returns its first state. */
type Piece = (next: number) => number;

const anyUnit = () => true;

/** Compiles `pattern` (see above); a malformed pattern throws a SyntaxError naming it. */
export function compileGlob(pattern: string): Glob {
  const states: State[] = [{ out: [] }];
  const add = (state: State): number => states.push(state) - 1;
  const unit =
    (accept: (c: number) => boolean): Piece =>
    (next) =>
      add({ accept, out: [next] });
  const sequence =
    (pieces: Piece[]): Piece =>
    (next) =>
      pieces.reduceRight((after, piece) => piece(after), next);

  let i = 0;
  const parse = (inAlt: boolean): Piece => {
    const pieces: Piece[] = [];
    while (i < pattern.length) {
      const c = pattern[i];
      if (inAlt && (c === ',' || c === '}')) return sequence(pieces);
      i++;
      switch (c) {
        case '\\': {
          if (i >= pattern.length) throw new SyntaxError(`glob "${pattern}": trailing backslash`);
          const u = pattern.charCodeAt(i++);
          pieces.push(unit((x) => x === u));
          break;
        }
        case '*':
          while (pattern[i] === '*') i++;
          pieces.push((next) => {
            // Before the run: go on, or take one more code unit and be before the run again.
            const loop = add({ out: [] });
            states[loop].out = [add({ accept: anyUnit, out: [loop] }), next];
            return loop;
          });
          break;
        case '?':
          pieces.push(unit(anyUnit));
          break;
        case '[':
          pieces.push(unit(parseClass()));
          break;
        case '{': {
          const alts: Piece[] = [];
          for (;;) {
            alts.push(parse(true));
            if (i >= pattern.length) throw new SyntaxError(`glob "${pattern}": unclosed "{"`);
            if (pattern[i++] === '}') break;
          }
          pieces.push((next) => add({ out: alts.map((alt) => alt(next)) }));
          break;
        }
        default: {
          const u = c.charCodeAt(0);
          pieces.push(unit((x) => x === u));
        }
      }
    }
    return sequence(pieces);
  };
  const parseClass = (): ((c: number) => boolean) => {
    const start = i;
    let negate = false;
    if (pattern[i] === '!') {
      negate = true;
      i++;
    }
    const ranges: [number, number][] = [];
    while (i < pattern.length && pattern[i] !== ']') {
      let c = pattern[i++];
      if (c === '\\' && i < pattern.length) c = pattern[i++];
      if (pattern[i] === '-' && pattern[i + 1] !== undefined && pattern[i + 1] !== ']') {
        let hi = pattern[i + 1];
        i += 2;
        if (hi === '\\' && i < pattern.length) hi = pattern[i++];
        if (hi < c) throw new SyntaxError(`glob "${pattern}": bad range ${c}-${hi}`);
        ranges.push([c.charCodeAt(0), hi.charCodeAt(0)]);
      } else {
        ranges.push([c.charCodeAt(0), c.charCodeAt(0)]);
      }
    }
    if (i >= pattern.length) throw new SyntaxError(`glob "${pattern}": unclosed "[" at ${start}`);
    i++; // ]
    if (ranges.length === 0) throw new SyntaxError(`glob "${pattern}": empty character class`);
    return (x) => ranges.some(([lo, hi]) => lo <= x && x <= hi) !== negate;
  };
  const start = parse(false)(0);
  return { test: (text) => run(states, start, text) };
}

/** Whether `text` matches the glob `pattern` (see compileGlob); an invalid pattern throws. */
export function matchGlob(pattern: string, text: string): boolean {
  return compileGlob(pattern).test(text);
}

/** Follows every state the NFA can be in after each code unit of `text` (each state once). */
function run(states: State[], start: number, text: string): boolean {
  const seen = new Uint32Array(states.length);
  let generation = 0;
  let current: number[] = [];
  let following: number[] = [];
  // Adds `s` and every state reached from it without consuming, each once per step.
  const enter = (into: number[], s: number) => {
    const stack = [s];
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen[t] === generation) continue;
      seen[t] = generation;
      const state = states[t];
      if (state.accept || t === 0) into.push(t);
      else for (let k = state.out.length - 1; k >= 0; k--) stack.push(state.out[k]);
    }
  };
  generation++;
  enter(current, start);
  for (let k = 0; k < text.length && current.length > 0; k++) {
    const c = text.charCodeAt(k);
    generation++;
    following.length = 0;
    for (const s of current) {
      const state = states[s];
      if (state.accept?.(c)) enter(following, state.out[0]);
    }
    [current, following] = [following, current];
  }
  return current.includes(0);
}
