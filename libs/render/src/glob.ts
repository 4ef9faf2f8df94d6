/**
 * Glob patterns with the semantics Argo CD gets from github.com/gobwas/glob compiled without
 * separators (its `directory.include`/`exclude`): `*` and `**` match any run of characters,
 * including `/`; `?` any one character; `[abc]`, `[a-z]`, `[!abc]` character classes; `{a,b}`
 * alternatives (which may nest and contain wildcards); `\x` a literal `x`. Whole-string match.
 */
export function compileGlob(pattern: string): RegExp {
  let i = 0;
  const parse = (inAlt: boolean): string => {
    let out = '';
    while (i < pattern.length) {
      const c = pattern[i];
      if (inAlt && (c === ',' || c === '}')) return out;
      i++;
      switch (c) {
        case '\\':
          if (i >= pattern.length) throw new SyntaxError(`glob "${pattern}": trailing backslash`);
          out += escapeRe(pattern[i++]);
          break;
        case '*':
          while (pattern[i] === '*') i++;
          out += '[\\s\\S]*';
          break;
        case '?':
          out += '[\\s\\S]';
          break;
        case '[':
          out += parseClass();
          break;
        case '{': {
          const alts: string[] = [];
          for (;;) {
            alts.push(parse(true));
            if (i >= pattern.length) throw new SyntaxError(`glob "${pattern}": unclosed "{"`);
            if (pattern[i++] === '}') break;
          }
          out += `(?:${alts.join('|')})`;
          break;
        }
        default:
          out += escapeRe(c);
      }
    }
    return out;
  };
  const parseClass = (): string => {
    const start = i;
    let negate = false;
    if (pattern[i] === '!') {
      negate = true;
      i++;
    }
    let body = '';
    while (i < pattern.length && pattern[i] !== ']') {
      let c = pattern[i++];
      if (c === '\\' && i < pattern.length) c = pattern[i++];
      if (pattern[i] === '-' && pattern[i + 1] !== undefined && pattern[i + 1] !== ']') {
        let hi = pattern[i + 1];
        i += 2;
        if (hi === '\\' && i < pattern.length) hi = pattern[i++];
        if (hi < c) throw new SyntaxError(`glob "${pattern}": bad range ${c}-${hi}`);
        body += `${escapeClass(c)}-${escapeClass(hi)}`;
      } else {
        body += escapeClass(c);
      }
    }
    if (i >= pattern.length) throw new SyntaxError(`glob "${pattern}": unclosed "[" at ${start}`);
    i++; // ]
    if (body === '') throw new SyntaxError(`glob "${pattern}": empty character class`);
    return negate ? `[^${body}]` : `[${body}]`;
  };
  const source = parse(false);
  return new RegExp(`^${source}$`);
}

/** Whether `text` matches the glob `pattern` (see compileGlob); an invalid pattern throws. */
export function matchGlob(pattern: string, text: string): boolean {
  return compileGlob(pattern).test(text);
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClass(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}
