import { describe, expect, it } from 'vitest';
import { fieldChanges } from './changes.js';

describe('fieldChanges', () => {
  it('lists changed, added and removed fields by JSON pointer; arrays whole', () => {
    const a = { data: { a: '1', b: '2', 'x/y': 1 }, spec: { ports: [80] } };
    const b = { data: { a: '1', b: '3', c: '4' }, spec: { ports: [80, 443] } };
    expect(fieldChanges(a, b)).toEqual({
      total: 4,
      changes: [
        { path: '/data/b', from: '"2"', to: '"3"' },
        { path: '/data/x~1y', from: '1', to: '' },
        { path: '/data/c', from: '', to: '"4"' },
        { path: '/spec/ports', from: '[80]', to: '[80,443]' },
      ],
    });
    expect(fieldChanges(a, a)).toEqual({ total: 0, changes: [] });
    expect(fieldChanges(a, b, 1).changes).toHaveLength(1);
  });
});
