import { appendFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/support/temp-dir.js';
import { BundlePack } from './bundle-pack.js';

const h = (c: string) => `sha256:${c.repeat(64)}`;

describe('BundlePack', () => {
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await d.remove();
  });
  const dir = async () => {
    const d = await tempDir('axle-pack-');
    dirs.push(d);
    return d.path;
  };

  it('stores each hash once and reads every bundle back after a restart', async () => {
    const path = await dir();
    const pack = new BundlePack(path);
    pack.put(h('a'), Buffer.from('first'));
    pack.put(h('b'), Buffer.from('second, longer'));
    pack.put(h('a'), Buffer.from('ignored: the hash is held'));
    const size = statSync(join(path, 'bundles.pack')).size;
    pack.close();
    const again = new BundlePack(path);
    expect(again.get(h('a'))?.toString()).toBe('first');
    expect(again.get(h('b'))?.toString()).toBe('second, longer');
    expect(again.get(h('c'))).toBeUndefined();
    expect(statSync(join(path, 'bundles.pack')).size).toBe(size);
    again.close();
  });

  it('cuts off a record torn by a crash and keeps appending after the last whole one', async () => {
    const path = await dir();
    const pack = new BundlePack(path);
    pack.put(h('a'), Buffer.from('whole'));
    pack.close();
    appendFileSync(join(path, 'bundles.pack'), `${'b'.repeat(64)} 100\npartial`);
    const again = new BundlePack(path);
    expect(again.has(h('b'))).toBe(false);
    again.put(h('c'), Buffer.from('after'));
    again.close();
    const third = new BundlePack(path);
    expect(third.get(h('a'))?.toString()).toBe('whole');
    expect(third.get(h('c'))?.toString()).toBe('after');
    third.close();
  });

  it('rewrites itself without dropped bundles once they outweigh the live ones', async () => {
    const path = await dir();
    const pack = new BundlePack(path);
    const mib = Buffer.alloc(1024 * 1024, 1);
    const hashes = Array.from(
      { length: 12 },
      (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`,
    );
    for (const x of hashes) pack.put(x, mib);
    pack.put(h('f'), Buffer.from('kept'));
    for (const x of hashes) pack.delete(x);
    // Rewritten once over 8 MiB were dead (and more than the 4 MiB still live); the last 4
    // dropped are dead bytes until the next rewrite.
    expect(statSync(join(path, 'bundles.pack')).size).toBeLessThan(4.1 * 1024 * 1024);
    expect(pack.get(h('f'))?.toString()).toBe('kept');
    pack.put(h('e'), Buffer.from('new'));
    pack.close();
    const again = new BundlePack(path);
    expect(again.get(h('f'))?.toString()).toBe('kept');
    expect(again.get(h('e'))?.toString()).toBe('new');
    expect(again.has(hashes[0])).toBe(false);
    again.close();
  });

  it('reads back the last record of a hash stored again after its removal', async () => {
    const path = await dir();
    const pack = new BundlePack(path);
    pack.put(h('a'), Buffer.from('damaged'));
    pack.delete(h('a')); // found not to match its hash, dropped; the hub sent it again
    pack.put(h('a'), Buffer.from('whole'));
    expect(pack.get(h('a'))?.toString()).toBe('whole');
    pack.close();
    const again = new BundlePack(path);
    expect(again.get(h('a'))?.toString()).toBe('whole');
    again.close();
  });

  it('keeps only the bundles its owner names after a restart, and rewrites itself when that frees most of it', async () => {
    const path = await dir();
    const pack = new BundlePack(path);
    const mib = Buffer.alloc(1024 * 1024, 1);
    const hashes = Array.from(
      { length: 10 },
      (_, i) => `sha256:${i.toString(16).padStart(64, '0')}`,
    );
    for (const x of hashes) pack.put(x, mib);
    pack.put(h('f'), Buffer.from('kept'));
    for (const x of hashes) pack.delete(x); // 10 MiB dead: rewritten
    pack.close();
    // Dropped since the last rewrite and before the restart: back in the index until retained.
    const dropped = [`sha256:${'1'.repeat(64)}`, `sha256:${'2'.repeat(64)}`];
    const second = new BundlePack(path);
    for (const x of dropped) second.put(x, Buffer.from('old'));
    for (const x of dropped) second.delete(x);
    second.close();
    const third = new BundlePack(path);
    expect(third.has(dropped[0])).toBe(true);
    third.retain([h('f')]);
    expect(third.has(dropped[0])).toBe(false);
    expect(third.has(dropped[1])).toBe(false);
    expect(third.get(h('f'))?.toString()).toBe('kept');
    third.close();
    // Many dropped before a restart: retaining the rest rewrites the pack.
    const fourth = new BundlePack(path);
    for (const x of hashes) fourth.put(x, mib);
    fourth.close();
    const fifth = new BundlePack(path);
    fifth.retain([h('f'), hashes[0]]);
    expect(statSync(join(path, 'bundles.pack')).size).toBeLessThan(1.1 * 1024 * 1024);
    expect(fifth.get(hashes[0])?.length).toBe(mib.length);
    expect(fifth.has(hashes[1])).toBe(false);
    fifth.close();
  });

  it('moves bundles stored one file each by older agents into the pack', async () => {
    const path = await dir();
    mkdirSync(join(path, 'bundles'));
    writeFileSync(join(path, 'bundles', `${'d'.repeat(64)}.json.gz`), 'legacy');
    const pack = new BundlePack(path);
    expect(pack.get(h('d'))?.toString()).toBe('legacy');
    expect(existsSync(join(path, 'bundles'))).toBe(false);
    pack.close();
  });
});
