import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../../../test/support/git-repo.js';
import { CatFileBatch } from './cat-file.js';

const git = (dir: string, ...args: string[]) =>
  execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();

describe('CatFileBatch (one long-lived git cat-file per repository)', () => {
  let repo: TestRepo;
  let oids: Record<string, string>;
  let reader: CatFileBatch;

  beforeAll(async () => {
    repo = await TestRepo.create();
    const big = 'x'.repeat(300_000); // spans many stdout chunks
    await repo.commit({ 'a.txt': 'alpha\n', 'b.bin': '\u0000\u0001binary', 'big.txt': big });
    oids = Object.fromEntries(
      ['a.txt', 'b.bin', 'big.txt'].map((f) => [f, git(repo.dir, 'rev-parse', `HEAD:${f}`)]),
    );
    reader = new CatFileBatch(`${repo.dir}/.git`, 200);
  });
  afterAll(async () => {
    reader.close();
    await repo.remove();
  });

  it('reads blobs by id, many at once, each with its own content', async () => {
    const [a, b, big, a2] = await Promise.all([
      reader.read(oids['a.txt']),
      reader.read(oids['b.bin']),
      reader.read(oids['big.txt']),
      reader.read(oids['a.txt']),
    ]);
    expect(a.toString()).toBe('alpha\n');
    expect(b.toString()).toBe('\u0000\u0001binary');
    expect(big.length).toBe(300_000);
    expect(a2.toString()).toBe('alpha\n');
  });

  it('refuses what is not a blob, and ids that are missing or malformed, then keeps serving', async () => {
    const tree = git(repo.dir, 'rev-parse', 'HEAD^{tree}');
    await expect(reader.read(tree)).rejects.toThrow(/is a tree, not a blob/);
    await expect(reader.read('0'.repeat(40))).rejects.toThrow(/not found/);
    await expect(reader.read('HEAD; rm -rf /')).rejects.toThrow(/not an object id/);
    expect((await reader.read(oids['a.txt'])).toString()).toBe('alpha\n');
  });

  it('starts again after closing when idle', async () => {
    await new Promise((r) => setTimeout(r, 400)); // idle close after 200 ms
    expect((await reader.read(oids['a.txt'])).toString()).toBe('alpha\n');
    reader.close();
    expect((await reader.read(oids['a.txt'])).toString()).toBe('alpha\n');
  });
});
