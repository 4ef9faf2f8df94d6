import { describe, expect, it } from 'vitest';
import { MemoryGitTree, type MemoryRepo } from '../../generators/src/testing.js';
import { MAX_RECORDED_READS, RecordingTreeReader, replayReads } from './recording-reader.js';

const URL = 'https://git.example/fleet.git';

/** A repository whose `main` moves from commit to commit (revisions c1, c2, …). */
class MovingTree extends MemoryGitTree {
  head = 'c1';
  constructor(revisions: Record<string, Record<string, string>>) {
    super({ [URL]: { files: {}, revisions } satisfies MemoryRepo });
  }
  override resolve(url: string, revision: string): Promise<string> {
    return super.resolve(url, revision === 'main' ? this.head : revision);
  }
}

/** What a git generator does: resolve, list, read one file. */
async function generatorReads(git: RecordingTreeReader): Promise<void> {
  const commit = await git.resolve(URL, 'main');
  await git.listDirectories(URL, commit);
  await git.readFile(URL, commit, 'apps/a/config.json');
}

describe('RecordingTreeReader and replayReads', () => {
  const tree = new MovingTree({
    c1: { 'apps/a/config.json': '{"v":1}', 'apps/a/cm.yaml': 'x: 1', 'apps/b/cm.yaml': 'y: 1' },
    // c2 changes a file no generator read: same listing, same config.json.
    c2: { 'apps/a/config.json': '{"v":1}', 'apps/a/cm.yaml': 'x: 2', 'apps/b/cm.yaml': 'y: 1' },
    // c3 adds a directory; c4 changes the file read.
    c3: { 'apps/a/config.json': '{"v":1}', 'apps/c/cm.yaml': 'z: 1', 'apps/b/cm.yaml': 'y: 1' },
    c4: { 'apps/a/config.json': '{"v":2}', 'apps/a/cm.yaml': 'x: 2', 'apps/b/cm.yaml': 'y: 1' },
  });

  it('notes each read by the revision the generator named, with a digest of the answer', async () => {
    tree.head = 'c1';
    const rec = new RecordingTreeReader(tree);
    await generatorReads(rec);
    const reads = rec.recorded()!;
    expect(reads.map(({ digest: _, ...r }) => r)).toEqual([
      { url: URL, revision: 'main', op: 'directories' },
      { url: URL, revision: 'main', op: 'file', path: 'apps/a/config.json' },
    ]);
    expect(reads.every((r) => /^[0-9a-f]{64}$/.test(r.digest))).toBe(true);
  });

  it('replays to the same digests when the commit leaves what was read alone, not otherwise', async () => {
    tree.head = 'c1';
    const rec = new RecordingTreeReader(tree);
    await generatorReads(rec);
    const reads = rec.recorded()!;
    const at = async (head: string) => {
      tree.head = head;
      return (await replayReads(tree, reads))?.map((r) => r.digest);
    };
    const first = reads.map((r) => r.digest);
    expect(await at('c2')).toEqual(first);
    expect((await at('c3'))?.[0]).not.toBe(first[0]); // the listing changed
    expect((await at('c3'))?.[1]).toBe(first[1]);
    expect((await at('c4'))?.[1]).not.toBe(first[1]); // the file changed
  });

  it('has nothing to replay after a failed read, and replay fails when a read does', async () => {
    tree.head = 'c1';
    const rec = new RecordingTreeReader(tree);
    await generatorReads(rec);
    await expect(rec.readFile(URL, 'sha:c1', 'apps/nope.json')).rejects.toThrow();
    expect(rec.recorded()).toBeUndefined();
    const gone = [{ url: URL, revision: 'main', op: 'file' as const, path: 'apps/nope.json' }];
    expect(await replayReads(tree, gone)).toBeUndefined();
  });

  it('gives up recording past the bound', async () => {
    const files = Object.fromEntries(
      Array.from({ length: MAX_RECORDED_READS + 1 }, (_, i) => [`f/${i}.json`, '{}']),
    );
    const big = new MovingTree({ c1: files });
    const rec = new RecordingTreeReader(big);
    const commit = await rec.resolve(URL, 'main');
    for (const f of Object.keys(files)) await rec.readFile(URL, commit, f);
    expect(rec.recorded()).toBeUndefined();
  });

  it('records a read under every revision at its commit, so that either moving is seen', async () => {
    // Two branches at one commit: the generators read it once (reads are cached by commit).
    const branches = new MovingTree({
      c1: { 'apps/a/cm.yaml': 'x: 1' },
      c2: { 'apps/a/cm.yaml': 'x: 1', 'apps/b/cm.yaml': 'y: 1' },
    });
    let release = 'c1';
    branches.resolve = (url, revision) =>
      MemoryGitTree.prototype.resolve.call(branches, url, revision === 'release' ? release : 'c1');
    const rec = new RecordingTreeReader(branches);
    const commit = await rec.resolve(URL, 'main');
    await rec.listDirectories(URL, commit);
    await rec.resolve(URL, 'release'); // same commit: its listing comes from the cache
    const reads = rec.recorded()!;
    expect(reads.map((r) => r.revision)).toEqual(['main', 'release']);
    release = 'c2'; // release gains a directory
    const again = await replayReads(branches, reads);
    expect(again?.map((r) => r.digest === reads[0].digest)).toEqual([true, false]);
  });
});
