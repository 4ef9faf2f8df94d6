import { describe, expect, it } from 'vitest';
import { compileSelector } from './selector.js';

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
