import { describe, expect, it } from 'vitest';
import {
  basePath,
  cleanPath,
  dirPath,
  flattenDotStyle,
  formatGoFloat,
  goSprintV,
  sanitizeName,
} from './go.js';

describe('Go compatibility helpers', () => {
  it('sanitizeName behaves like Argo SanitizeName', () => {
    expect(sanitizeName('My_Cluster')).toBe('my-cluster');
    expect(sanitizeName('--a.b--')).toBe('a.b');
    expect(sanitizeName('.')).toBe('');
    expect(sanitizeName('x'.repeat(300))).toHaveLength(253);
    expect(sanitizeName('Äbc😀d')).toBe('bc-d');
  });

  it('path helpers follow Go path.Dir/Base/Clean', () => {
    expect(dirPath('config.json')).toBe('.');
    expect(dirPath('cluster-config/engineering/dev/config.json')).toBe(
      'cluster-config/engineering/dev',
    );
    expect(basePath('a/b/')).toBe('b');
    expect(basePath('')).toBe('.');
    expect(basePath('.')).toBe('.');
    expect(cleanPath('./a//b/../c')).toBe('a/c');
  });

  it('formats values like fmt %v', () => {
    expect([3, 1.5, 8080, 123456, 1e6, 1234567, 0.0001, 1e-5].map(formatGoFloat)).toEqual([
      '3',
      '1.5',
      '8080',
      '123456',
      '1e+06',
      '1.234567e+06',
      '0.0001',
      '1e-05',
    ]);
    expect(goSprintV(true)).toBe('true');
    expect(goSprintV(null)).toBe('<nil>');
    expect(goSprintV(['a', 1])).toBe('[a 1]');
    expect(goSprintV({ b: 1, a: { c: 'x' } })).toBe('map[a:map[c:x] b:1]');
  });

  it('flattens like jeremywohl/flatten DotStyle', () => {
    expect(
      Object.fromEntries(flattenDotStyle({ a: { b: 1, c: [2, { d: 3 }] }, e: {}, f: [], g: null })),
    ).toEqual({
      'a.b': 1,
      'a.c.0': 2,
      'a.c.1.d': 3,
      g: null,
    });
  });
});
