import { describe, expect, it } from 'vitest';
import { touchedDirectories } from './work.repository.js';

describe('touchedDirectories', () => {
  it('names each changed path and its parents, each once', () => {
    expect(touchedDirectories(['apps/a/cm.yaml', 'apps/a/b/x.yaml', 'README.md']).sort()).toEqual(
      ['README.md', 'apps', 'apps/a', 'apps/a/b', 'apps/a/b/x.yaml', 'apps/a/cm.yaml'].sort(),
    );
  });

  it('does not take a sibling sharing a prefix for a parent', () => {
    expect(touchedDirectories(['apps/bc/x.yaml'])).not.toContain('apps/b');
    expect(touchedDirectories([])).toEqual([]);
  });
});
