import { describe, expect, it } from 'vitest';
import { BadPatternError, compileDoublestar, gitPathspecMatch, goPathMatch } from './glob.js';

describe('goPathMatch (Go path.Match)', () => {
  it.each([
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[^c]', 'abc', false],
    ['ab[^b-d]', 'abe', true],
    ['a\\*b', 'a*b', true],
    ['a?b', 'a/b', false],
    ['apps/**', 'apps/a', true],
    ['apps/**', 'apps/a/b', false],
    ['*', '.hidden', true],
    ['/d/[f|g]', '/d/|', true],
  ])('%s matches %s: %s', (pattern, name, want) => {
    expect(goPathMatch(pattern, name)).toBe(want);
  });

  it('reports malformed patterns', () => {
    expect(() => goPathMatch('[', 'a')).toThrow(BadPatternError);
    expect(() => goPathMatch('a[', 'x')).toThrow(BadPatternError);
    expect(() => goPathMatch('*x\\', 'a')).toThrow(BadPatternError);
  });
});

describe('gitPathspecMatch (git ls-files pathspec, Argo default file globbing)', () => {
  it.each([
    ['cluster-config/**/config.json', 'cluster-config/engineering/dev/config.json', true],
    ['cluster-config/*/config.json', 'cluster-config/a/b/config.json', true],
    ['some-path/*.yaml', 'some-path/deep/x.yaml', true],
    ['some-path/*.yaml', 'other/x.yaml', false],
    ['apps', 'apps/a/config.yaml', true],
    ['apps', 'apps-2/config.yaml', false],
    ['global.values.yaml', 'global.values.yaml', true],
    ['global.values.yaml', 'x/global.values.yaml', false],
    ['**/stage.values.yaml', 'test/stage.values.yaml', true],
    ['apps/[ab].json', 'apps/a.json', true],
    ['apps/[!ab].json', 'apps/a.json', false],
    ['a*b?c*d', 'axxbyczzd', true],
    ['a*b?c*d', 'axxbczzd', false],
    ['*x\\*y', 'aaax*y', true],
    ['*[0-9]*.json', 'v/10/a.json', true],
  ])('%s lists %s: %s', (spec, file, want) => {
    expect(gitPathspecMatch(spec, file)).toBe(want);
  });

  it('answers in time proportional to pattern × path, whatever a committed path holds', () => {
    // Trying every split for every `*` took (path length)^(stars): about a minute for this one.
    const path = `clusters/${'a/'.repeat(2000)}x`;
    expect(gitPathspecMatch('clusters/*/*/*/*/*/config.json', path)).toBe(false);
    expect(gitPathspecMatch('clusters/*/*/*/*/*/x', path)).toBe(true);
  });
});

describe('compileDoublestar (Argo new git file globbing)', () => {
  it.each([
    ['cluster-charts/*/*/values.yaml', 'cluster-charts/cluster1/mychart/values.yaml', true],
    [
      'cluster-charts/*/*/values.yaml',
      'cluster-charts/cluster1/mychart/charts/sub/values.yaml',
      false,
    ],
    ['some-path/*.yaml', 'some-path/deep/x.yaml', false],
    ['some-path/*.yaml', 'some-path/x.yaml', true],
    ['**/config.json', 'config.json', true],
    ['**/config.json', 'a/b/config.json', true],
    ['a/**/b/*.{yaml,json}', 'a/x/y/b/c.json', true],
    ['a/**/b/*.{yaml,json}', 'a/b/c.txt', false],
  ])('%s matches %s: %s', (pattern, file, want) => {
    expect(compileDoublestar(pattern)(file)).toBe(want);
  });

  it('matches many ** against a deep path in time path × pattern, not exponential', () => {
    const deep = `${'d/'.repeat(60)}x.json`;
    const started = performance.now();
    expect(compileDoublestar(`${'**/'.repeat(10)}y.json`)(deep)).toBe(false);
    expect(compileDoublestar(`${'**/'.repeat(10)}x.json`)(deep)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('matches a segment with many * in time linear in the file name', () => {
    // A backtracking regular expression ran past the test's time-out on this name.
    const name = `apps/${'a'.repeat(200)}.yaml`;
    expect(compileDoublestar('apps/*a*a*a*a*a*a*a*a*a*b.yaml')(name)).toBe(false);
    expect(compileDoublestar('apps/*a*a*a*a*a*a*a*a*a*.yaml')(name)).toBe(true);
  });

  it('keeps classes, alternatives and escapes in a segment', () => {
    const m = compileDoublestar('a/[!x]?-{one,tw[o]}\\*.y*');
    expect(m('a/bc-one*.yaml')).toBe(true);
    expect(m('a/xc-one*.yaml')).toBe(false);
    expect(m('a/bc-two*.yml')).toBe(true);
    expect(m('a/bc-two.yml')).toBe(false);
    expect(m('a/bc-three*.yml')).toBe(false);
    expect(compileDoublestar('a/?.json')('a/é.json')).toBe(true);
  });
});
