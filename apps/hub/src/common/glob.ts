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
