import { describe, expect, it } from 'vitest';
import { refMoves } from './ref-moves.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('refMoves', () => {
  it('names the revisions each moved ref serves, with where it moved from and to', () => {
    expect(
      refMoves(
        { 'refs/axle/HEAD': A, 'refs/heads/main': A, 'refs/heads/dev': A, 'refs/tags/v1': A },
        { 'refs/axle/HEAD': B, 'refs/heads/main': B, 'refs/heads/dev': A, 'refs/tags/v2': B },
      ),
    ).toEqual([
      { ref: 'refs/axle/HEAD', revisions: ['HEAD'], from: A, to: B },
      { ref: 'refs/heads/main', revisions: ['main'], from: A, to: B },
      { ref: 'refs/tags/v1', revisions: ['v1'], from: A, to: undefined },
      { ref: 'refs/tags/v2', revisions: ['v2'], from: undefined, to: B },
    ]);
  });

  it('keeps branch names with slashes whole, and ignores other refs', () => {
    expect(refMoves({}, { 'refs/heads/feature/x': A, 'refs/notes/commits': A })).toEqual([
      { ref: 'refs/heads/feature/x', revisions: ['feature/x'], from: undefined, to: A },
    ]);
    expect(refMoves({ 'refs/heads/main': A }, { 'refs/heads/main': A })).toEqual([]);
  });
});
