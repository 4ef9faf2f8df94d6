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
});
