import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkLoop, type Lease } from './work-loop.js';
import type { WorkItem, WorkRepository } from './work.repository.js';

const ITEM: WorkItem = {
  key: '00000000-0000-0000-0000-000000000001',
  dirty: 1,
  reason: 'r',
  attempts: 1,
};

/** A work queue holding one item; renewals answer with the keys another replica holds. */
function fakeRepo(renewals: ((keys: string[]) => Promise<Set<string>>)[]) {
  let handedOut = false;
  const repo = {
    claim: vi.fn(() => {
      if (handedOut) return Promise.resolve([]);
      handedOut = true;
      return Promise.resolve([ITEM]);
    }),
    renew: vi.fn((_kind: string, _owner: string, keys: string[]) => {
      const next = renewals.shift();
      return next ? next(keys) : Promise.resolve(new Set<string>());
    }),
    release: vi.fn(() => Promise.resolve()),
  };
  return repo;
}

function loop(repo: ReturnType<typeof fakeRepo>, handle: (l: Lease) => Promise<void>): WorkLoop {
  return new WorkLoop(repo as unknown as WorkRepository, {
    kind: 'appset',
    owner: 'replica-a',
    batchSize: 1,
    concurrency: 1,
    leaseSeconds: 3, // renewed every second
    pollMs: 60_000,
    handle: (_items, lease) => handle(lease),
  });
}

describe('WorkLoop leases', () => {
  let warn: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    vi.useFakeTimers();
    warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  });
  afterEach(() => {
    warn.mockRestore();
    vi.useRealTimers();
  });

  it('tells the handler when a renewal finds the items held by another replica', async () => {
    const repo = fakeRepo([(keys) => Promise.resolve(new Set(keys))]);
    let seen: boolean | undefined;
    const l = loop(repo, async (lease) => {
      await vi.advanceTimersByTimeAsync(1_000);
      seen = lease.lost;
    });
    l.start();
    await vi.advanceTimersByTimeAsync(0);
    await l.idle();
    expect(repo.renew).toHaveBeenCalledTimes(1);
    // The lease is this claim's, not the replica's: a later claim of the same items is another.
    expect(repo.claim.mock.calls.map((c) => (c as unknown[])[1])).toEqual([
      'replica-a/1',
      'replica-a/2',
    ]);
    expect(repo.renew.mock.calls[0][1]).toBe('replica-a/1');
    expect(seen).toBe(true);
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('lost the lease on 1 item(s) of a batch: claimed again since'),
    );
    await l.stop();
  });

  it('takes no loss from a renewal that returns after the handler ended the items', async () => {
    // The renewal starts while the handler finishes; by the time it answers, the item was ended,
    // marked again and claimed by another replica.
    let answer: ((lost: Set<string>) => void) | undefined;
    const repo = fakeRepo([() => new Promise<Set<string>>((r) => (answer = r))]);
    let lease: Lease | undefined;
    const l = loop(repo, async (ls) => {
      lease = ls;
      await vi.advanceTimersByTimeAsync(1_000); // the renewal is in flight
    });
    l.start();
    await vi.advanceTimersByTimeAsync(0);
    await l.idle();
    expect(repo.renew).toHaveBeenCalledTimes(1);
    answer!(new Set([ITEM.key]));
    await vi.advanceTimersByTimeAsync(0);
    expect(lease!.lost).toBe(false);
    expect(warn).not.toHaveBeenCalled();
    // No renewal after the handler ended.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(repo.renew).toHaveBeenCalledTimes(1);
    await l.stop();
  });
});
