import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedQueue', () => {
  it('never runs one key concurrently and coalesces repeats into one more run', async () => {
    const log: string[] = [];
    let active = 0;
    let maxActive = 0;
    const q = new KeyedQueue<string>(async (k) => {
      active++;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${k}`);
      await tick();
      log.push(`end ${k}`);
      active--;
    }, 1);
    q.enqueue('a');
    await Promise.resolve();
    q.enqueue('a');
    q.enqueue('a');
    q.enqueue('a');
    await q.idle();
    expect(log).toEqual(['start a', 'end a', 'start a', 'end a']);
    expect(maxActive).toBe(1);
  });

  it('runs different keys in parallel up to the limit and survives errors', async () => {
    let active = 0;
    let maxActive = 0;
    const errors: string[] = [];
    const q = new KeyedQueue<number>(
      async (k) => {
        active++;
        maxActive = Math.max(maxActive, active);
        await tick();
        active--;
        if (k === 3) throw new Error('boom');
      },
      2,
      (k, e) => errors.push(`${k}: ${(e as Error).message}`),
    );
    for (let i = 0; i < 6; i++) q.enqueue(i);
    await q.idle();
    expect(maxActive).toBe(2);
    expect(errors).toEqual(['3: boom']);
  });

  it('stop() drops waiting work and waits for running work', async () => {
    const done: number[] = [];
    const q = new KeyedQueue<number>(async (k) => {
      await tick();
      done.push(k);
    }, 1);
    q.enqueue(1);
    q.enqueue(2);
    await q.stop();
    expect(done).toEqual([1]);
    q.enqueue(3);
    expect(q.size).toBe(0);
  });
});
