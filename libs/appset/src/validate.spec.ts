import { describe, expect, it } from 'vitest';
import { qualifiedNameErrors } from '../../generators/src/index.js';
import { keyErrors } from './validate.js';

describe('keyErrors', () => {
  it('answers like qualifiedNameErrors, the first time and when remembered', () => {
    const keys = [
      'app',
      'fleet.example.com/owner',
      'app.kubernetes.io/name',
      '',
      '-bad',
      'Upper.Case/x',
      'a/b/c',
      '/x',
      'x'.repeat(64),
      'ok_key.1',
    ];
    for (let round = 0; round < 3; round++)
      for (const k of keys) expect(keyErrors(k), k).toEqual(qualifiedNameErrors(k));
  });

  it('keeps answering correctly once its memory is full', () => {
    for (let i = 0; i < 10_000; i++) expect(keyErrors(`key-${i}`)).toEqual([]);
    expect(keyErrors('key-1')).toEqual([]);
    expect(keyErrors('bad key')).toEqual(qualifiedNameErrors('bad key'));
    expect(keyErrors('bad key').length).toBeGreaterThan(0);
  });
});
