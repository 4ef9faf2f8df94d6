const globs = new Map<string, RegExp>();

/** A glob where `*` matches any run of characters (used for repositories and namespaces). */
export function globMatch(pattern: string, value: string): boolean {
  let re = globs.get(pattern);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .split('*')
        .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    // Patterns come from a few projects: a small cache, emptied if it ever grows.
    if (globs.size > 10_000) globs.clear();
    globs.set(pattern, re);
  }
  return re.test(value);
}

const repoGlobs = new Map<string, RegExp>();

/**
 * Argo CD's matching of `sourceRepos` (a glob with `/` as separator): `*` matches within one
 * path segment, `**` across segments, and `*` alone matches every repository (on one line). A URL with a `.` or
 * `..` path segment matches no pattern but `*`: git would resolve `team-a/../team-b` to team-b.
 */
export function repoMatch(pattern: string, repoURL: string): boolean {
  if (pattern === '*') return !/[\n\r\u2028\u2029]/.test(repoURL); // as globMatch's `.*`
  if (DOT_SEGMENT.test(repoURL.replace(SCHEME, ''))) return false;
  let re = repoGlobs.get(pattern);
  if (!re) {
    re = new RegExp(
      `^${pattern
        .split('**')
        .map((part) =>
          part
            .split('*')
            .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
            .join('[^/]*'),
        )
        .join('.*')}$`,
    );
    if (repoGlobs.size > 10_000) repoGlobs.clear();
    repoGlobs.set(pattern, re);
  }
  return re.test(repoURL);
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const DOT_SEGMENT = /(^|[/:])\.\.?(\/|$)/;
