import { describe, expect, it } from 'vitest';
import { compileGlob, matchGlob } from './glob.js';

describe('matchGlob (gobwas/glob without separators, as Argo CD uses it)', () => {
  it.each([
    ['*.yaml', 'a.yaml', true],
    ['*.yaml', 'sub/a.yaml', true], // no separators: * crosses /
    ['*.yaml', 'a.yml', false],
    ['{*.yml,*.yaml}', 'a.yml', true],
    ['{*.yml,*.yaml}', 'a.json', false],
    ['config.json', 'config.json', true],
    ['config.json', 'sub/config.json', false],
    ['*/config.json', 'sub/config.json', true],
    ['sub/**', 'sub/x/y.yaml', true],
    ['?.yaml', 'a.yaml', true],
    ['?.yaml', 'ab.yaml', false],
    ['[ab].yaml', 'b.yaml', true],
    ['[!ab].yaml', 'b.yaml', false],
    ['[a-c]*.yaml', 'cm.yaml', true],
    ['{a,b{c,d}}.yaml', 'bd.yaml', true],
    ['{a,b{c,d}}.yaml', 'b.yaml', false],
    ['a\\*.yaml', 'a*.yaml', true],
    ['a\\*.yaml', 'ab.yaml', false],
    ['a.(yaml)', 'a.(yaml)', true],
    ['a+b.yaml', 'a+b.yaml', true],
    ['a}', 'a}', true], // a lone } outside {…} is literal
  ])('%s ~ %s → %s', (pattern, text, want) => {
    expect(matchGlob(pattern, text)).toBe(want);
  });

  it('refuses malformed patterns', () => {
    expect(() => compileGlob('{a,b')).toThrow(/unclosed "{"/);
    expect(() => compileGlob('[ab')).toThrow(/unclosed "\["/);
    expect(() => compileGlob('[z-a]')).toThrow(/bad range/);
  });

  it('matches in time pattern × name (a backtracking RegExp took seconds at 85 characters)', () => {
    // As a RegExp this took time n⁶ in the length of the name and ran past the test's time-out.
    const name = `${'-'.repeat(110)}.yaml`;
    expect(matchGlob('*-*-*-*-*-*-prod.yaml', name)).toBe(false);
    expect(matchGlob('*-*-*-*-*-*-.yaml', name)).toBe(true);
  });

  it('matches as the former RegExp implementation did, on many patterns and names', () => {
    // A small deterministic generator (xorshift32) of patterns and names over the characters
    // that mean something in a glob, a newline and a character outside the BMP (code units).
    let seed = 0x2545f491;
    const random = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const patternUnits = ['**', '😀', 'a-b', '[a-c]', '{a,b}', ...'ab-/.*?[]!{},\\^\n'];
    const nameUnits = ['😀', '\ud83d', ...'abc-/.*[},\\^\n!'];
    const pick = (units: string[], max: number) =>
      Array.from({ length: random(max + 1) }, () => units[random(units.length)]).join('');
    const outcome = (f: () => boolean) => {
      try {
        return f();
      } catch (e) {
        return `${(e as Error).name}: ${(e as Error).message}`;
      }
    };
    const counts = { true: 0, false: 0, refused: 0 };
    for (let p = 0; p < 3000; p++) {
      const pattern = pick(patternUnits, 8);
      for (let n = 0; n < 20; n++) {
        const name =
          n < 10 ? pick(nameUnits, 8) : pattern.replace(/[*?{}[\]!,\\]/g, () => pick(nameUnits, 2));
        const want = outcome(() => regexpGlob(pattern).test(name));
        expect(
          outcome(() => matchGlob(pattern, name)),
          `${pattern} ~ ${name}`,
        ).toBe(want);
        counts[typeof want === 'string' ? 'refused' : want ? 'true' : 'false']++;
      }
    }
    // The cases exercise both answers and refusals.
    expect(Math.min(counts.true, counts.false, counts.refused)).toBeGreaterThan(5000);
  });
});

/** The former implementation, a backtracking RegExp: the reference for the semantics above. */
function regexpGlob(pattern: string): RegExp {
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

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

function escapeClass(c: string): string {
  return /[\\\]^[-]/.test(c) ? `\\${c}` : c;
}
