import { describe, expect, it } from 'vitest';
import { compileSelector, parseSelector } from './selector.js';

describe('compileSelector', () => {
  it('matches matchLabels and every matchExpressions operator', () => {
    const m = compileSelector(
      {
        matchLabels: { env: 'prod' },
        matchExpressions: [
          { key: 'region', operator: 'In', values: ['eu', 'us'] },
          { key: 'tier', operator: 'NotIn', values: ['canary'] },
          { key: 'managed', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
        ],
      },
      { validateValues: true },
    );
    expect(m({ env: 'prod', region: 'eu', managed: 'yes' })).toBe(true);
    expect(m({ env: 'prod', region: 'eu', managed: 'yes', tier: 'canary' })).toBe(false);
    expect(m({ env: 'prod', region: 'ap', managed: 'yes' })).toBe(false);
    expect(m({ env: 'prod', region: 'eu' })).toBe(false);
    expect(m({ env: 'prod', region: 'eu', managed: '', legacy: 'x' })).toBe(false);
    expect(m({ env: 'dev', region: 'eu', managed: 'yes' })).toBe(false);
  });

  it('an empty selector matches everything', () => {
    expect(compileSelector({}, { validateValues: true })({})).toBe(true);
    expect(compileSelector(undefined, { validateValues: true })({ a: 'b' })).toBe(true);
  });

  it('rejects invalid operators and value sets', () => {
    expect(() =>
      compileSelector(
        { matchExpressions: [{ key: 'a', operator: 'Equals', values: ['x'] }] },
        { validateValues: true },
      ),
    ).toThrow(/matchExpressions\[0\]\.operator: "Equals" is not a valid label selector operator/);
    expect(() =>
      compileSelector(
        { matchExpressions: [{ key: 'a', operator: 'In' }] },
        { validateValues: true },
      ),
    ).toThrow(/values set can't be empty/);
    expect(() =>
      compileSelector(
        { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
        { validateValues: true },
      ),
    ).toThrow(/values set must be empty/);
    expect(() =>
      compileSelector({ matchLabels: { 'bad key!': 'x' } }, { validateValues: true }),
    ).toThrow(/invalid key/);
  });

  it('validates label values only when asked (post-selectors may match URLs)', () => {
    const sel = { matchLabels: { server: 'https://kubernetes.default.svc' } };
    expect(() => compileSelector(sel, { validateValues: true })).toThrow(/invalid label value/);
    expect(
      compileSelector(sel, { validateValues: false })({ server: 'https://kubernetes.default.svc' }),
    ).toBe(true);
  });
});

describe('parseSelector', () => {
  const matches = (text: string, labels: Record<string, string>) =>
    compileSelector(parseSelector(text), { validateValues: true })(labels);

  it('reads every requirement Kubernetes takes on the command line', () => {
    expect(
      parseSelector(
        'env=prod, tier==web,zone!=b,region in (eu-west, eu-central),legacy notin (yes),team,!old',
      ),
    ).toEqual({
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod'] },
        { key: 'tier', operator: 'In', values: ['web'] },
        { key: 'zone', operator: 'NotIn', values: ['b'] },
        { key: 'region', operator: 'In', values: ['eu-west', 'eu-central'] },
        { key: 'legacy', operator: 'NotIn', values: ['yes'] },
        { key: 'team', operator: 'Exists' },
        { key: 'old', operator: 'DoesNotExist' },
      ],
    });
    expect(parseSelector('')).toEqual({ matchExpressions: [] });
    // `()` is the set of the empty value, as Kubernetes reads it.
    expect(parseSelector('env in ()')).toEqual({
      matchExpressions: [{ key: 'env', operator: 'In', values: [''] }],
    });
    expect(parseSelector('example.com/owner=team-a')).toEqual({
      matchExpressions: [{ key: 'example.com/owner', operator: 'In', values: ['team-a'] }],
    });
  });

  it('selects as Kubernetes does: != and notin match a cluster without the label', () => {
    expect(
      matches('env=prod,region in (eu-west,us-east)', { env: 'prod', region: 'us-east' }),
    ).toBe(true);
    expect(matches('env=prod', { env: 'staging' })).toBe(false);
    expect(matches('env!=prod', {})).toBe(true);
    expect(matches('env notin (prod)', { env: 'prod' })).toBe(false);
    expect(matches('!legacy,team', { team: 'a' })).toBe(true);
    expect(matches('!legacy', { legacy: '' })).toBe(false);
    expect(matches('', { any: 'thing' })).toBe(true);
  });

  it('refuses what is not a selector, saying which requirement and why', () => {
    expect(() => parseSelector('env=prod,,tier=web')).toThrow(/empty requirement/);
    expect(() => parseSelector('replicas>3')).toThrow(
      /"replicas>3": the operators > and < are not supported/,
    );
    expect(() => parseSelector('env prod')).toThrow(/"env prod": not a requirement/);
    expect(() => parseSelector('bad key!=x')).toThrow(/not a requirement/);
    expect(() => parseSelector('-bad=x')).toThrow(/invalid key "-bad"/);
    expect(() => parseSelector(`env=${'x'.repeat(64)}`)).toThrow(/invalid label value/);
    expect(() => parseSelector('a=b,'.repeat(1100))).toThrow(/longer than 4096 characters/);
  });
});
