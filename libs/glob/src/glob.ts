/**
 * Glob matching in time proportional to pattern × value, whatever the pattern. Patterns come from
 * users (project destinations and source repositories, sync windows, notification selectors) and
 * are matched on every reconcile: a pattern turned into a regular expression (`*` → `.*`) can take
 * exponential time (`*a*a*a*a*a*b` over 63 `a`s took seconds, the event loop held throughout).
 *
 * A compiled pattern is a list of tokens: a literal code unit, or a run of any code units a class
 * accepts (which may be empty). Matching follows every position the pattern could be at after each
 * code unit of the value at once (a Thompson NFA), so no choice is ever tried twice.
 */
type Token = number | ((c: number) => boolean);

/** What `.` matches without the `s` flag: anything but a line terminator. */
const notLineEnd = (c: number) => c !== 0x0a && c !== 0x0d && c !== 0x2028 && c !== 0x2029;
const notSlash = (c: number) => c !== 0x2f;
const LINE_END = /[\n\r\u2028\u2029]/;

function literal(text: string): Token[] {
  const out: Token[] = [];
  for (let i = 0; i < text.length; i++) out.push(text.charCodeAt(i));
  return out;
}

function matches(tokens: Token[], value: string): boolean {
  const m = tokens.length;
  let at = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  // A run may match nothing: being before it is also being after it.
  const close = (states: Uint8Array) => {
    for (let i = 0; i < m; i++) if (states[i] && typeof tokens[i] === 'function') states[i + 1] = 1;
  };
  at[0] = 1;
  close(at);
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    next.fill(0);
    let any = false;
    for (let i = 0; i < m; i++) {
      if (!at[i]) continue;
      const t = tokens[i];
      if (typeof t === 'number') {
        if (t !== c) continue;
        next[i + 1] = 1; // past the literal
      } else {
        if (!t(c)) continue;
        next[i] = 1; // still in the run
      }
      any = true;
    }
    if (!any) return false;
    close(next);
    [at, next] = [next, at];
  }
  return at[m] === 1;
}

const CACHE_MAX = 10_000;
const globs = new Map<string, Token[]>();

/** A glob where `*` matches any run of characters but line terminators (namespaces, names, …). */
export function globMatch(pattern: string, value: string): boolean {
  // The usual patterns, without the general matcher: a name, `*`, or a prefix and `*`.
  const star = pattern.indexOf('*');
  if (star < 0) return pattern === value;
  if (star === pattern.length - 1)
    return value.startsWith(pattern.slice(0, star)) && !LINE_END.test(value.slice(star));
  const tokens = compiled(globs, pattern, () =>
    pattern
      .split('*')
      .flatMap((part, i) => (i > 0 ? [notLineEnd, ...literal(part)] : literal(part))),
  );
  return matches(tokens, value);
}

const repoGlobs = new Map<string, Token[]>();

/**
 * Argo CD's matching of `sourceRepos` (a glob with `/` as separator): `*` matches within one
 * path segment, `**` across segments, and `*` alone matches every repository (on one line). A URL with a `.` or
 * `..` path segment matches no pattern but `*`: git would resolve `team-a/../team-b` to team-b.
 */
export function repoMatch(pattern: string, repoURL: string): boolean {
  if (pattern === '*') return !LINE_END.test(repoURL); // as globMatch's `*`
  if (DOT_SEGMENT.test(repoURL.replace(SCHEME, ''))) return false;
  const tokens = compiled(repoGlobs, pattern, () =>
    pattern.split('**').flatMap((part, i) => {
      const segment = part
        .split('*')
        .flatMap((p, j) => (j > 0 ? [notSlash, ...literal(p)] : literal(p)));
      return i > 0 ? [notLineEnd, ...segment] : segment;
    }),
  );
  return matches(tokens, repoURL);
}

/** A pattern's tokens, compiled once (patterns come from a few projects: a small cache). */
function compiled(cache: Map<string, Token[]>, pattern: string, compile: () => Token[]): Token[] {
  let tokens = cache.get(pattern);
  if (!tokens) {
    tokens = compile();
    if (cache.size > CACHE_MAX) cache.clear();
    cache.set(pattern, tokens);
  }
  return tokens;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const DOT_SEGMENT = /(^|[/:])\.\.?(\/|$)/;
