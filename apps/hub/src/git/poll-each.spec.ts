import { describe, expect, it } from 'vitest';
import { pollEach } from './poll-each.js';

describe('pollEach', () => {
  it('polls the other repositories while one never answers, and ends', async () => {
    const polled: string[] = [];
    const overran: string[] = [];
    await pollEach(
      ['stuck', 'a', 'b', 'c'],
      (u) => {
        polled.push(u);
        return u === 'stuck' ? new Promise(() => undefined) : Promise.resolve();
      },
      // One at a time: the stuck repository is in the way of every other.
      { concurrency: 1, boundMs: 50, onOverrun: (u) => overran.push(u), onError: () => undefined },
    );
    expect(polled).toEqual(['stuck', 'a', 'b', 'c']);
    expect(overran).toEqual(['stuck']);
  });

  it('goes on after a poll that fails', async () => {
    const polled: string[] = [];
    const failed: string[] = [];
    await pollEach(
      ['a', 'broken', 'b'],
      (u) => {
        polled.push(u);
        return u === 'broken' ? Promise.reject(new Error('no')) : Promise.resolve();
      },
      {
        concurrency: 1,
        boundMs: 1_000,
        onOverrun: () => undefined,
        onError: (u) => failed.push(u),
      },
    );
    expect(polled).toEqual(['a', 'broken', 'b']);
    expect(failed).toEqual(['broken']);
  });
});
