import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** A record's header: `<64 hex digits> <length>\n`, then the bytes. */
const HEADER_MAX = 64 + 1 + 12 + 1;
/** The pack is rewritten without dead records once they are this large and outweigh the live. */
const COMPACT_MIN_DEAD_BYTES = 8 * 1024 * 1024;

interface Entry {
  offset: number;
  length: number;
}

/**
 * The bundles an agent holds, by content hash, in one append-only file (`bundles.pack`): storing
 * one is a single append to an open file, not a file created per bundle (on a busy disk, creating
 * an inode waits for the file system's journal). The index lives in memory, rebuilt at start by
 * reading the record headers (a hash stored again after a removal: its last record); a record torn
 * by a crash is cut off. Callers verify what they read against the hash. Removed bundles leave
 * dead bytes until the pack is rewritten; a removal is not written down, so after a restart the
 * owner says again what it keeps ({@link retain}).
 *
 * All I/O is synchronous: reads and writes are single system calls on one descriptor, and
 * compaction replaces the descriptor, which must not happen under a read in the thread pool.
 */
export class BundlePack {
  private fd: number | undefined;
  private readonly index = new Map<string, Entry>();
  private size = 0;
  private dead = 0;
  /** After a failed compaction: dead bytes to reach before the next try. */
  private compactAfterFailure = 0;

  constructor(private readonly dir: string) {
    this.fd = openSync(this.path, 'a+');
    this.size = fstatSync(this.fd).size;
    this.load();
    this.importLegacyFiles();
  }

  has(hash: string): boolean {
    return this.index.has(bundleId(hash));
  }

  put(hash: string, bytes: Uint8Array): void {
    const id = bundleId(hash);
    if (this.index.has(id)) return;
    // Only what load() reads back: a record it would take for a torn one would cut off the rest.
    if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`not a sha256 bundle hash: ${hash}`);
    const header = Buffer.from(`${id} ${bytes.length}\n`);
    const start = this.size;
    try {
      this.write(header);
      this.write(bytes);
    } catch (e) {
      // A record written in part (the disk full): cut back to where it began, or every later
      // record would be indexed at the wrong offset.
      this.size = start;
      try {
        ftruncateSync(this.open(), start);
      } catch {
        // load() cuts a torn tail at the next start
      }
      throw e;
    }
    this.index.set(id, { offset: this.size - bytes.length, length: bytes.length });
  }

  /** The stored bytes, or undefined when the hash is not held. */
  get(hash: string): Buffer | undefined {
    const e = this.index.get(bundleId(hash));
    if (!e) return undefined;
    const buf = Buffer.allocUnsafe(e.length);
    let got = 0;
    while (got < e.length) {
      const n = readSync(this.open(), buf, got, e.length - got, e.offset + got);
      if (n === 0) throw new Error(`bundle ${hash}: the pack ends early`);
      got += n;
    }
    return buf;
  }

  delete(hash: string): void {
    this.forget(bundleId(hash));
    this.compactIfWorth();
  }

  /** Drops every bundle but these (hashes, with or without `sha256:`). */
  retain(hashes: Iterable<string>): void {
    const keep = new Set<string>();
    for (const h of hashes) keep.add(bundleId(h));
    for (const id of [...this.index.keys()]) if (!keep.has(id)) this.forget(id);
    this.compactIfWorth();
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private get path(): string {
    return join(this.dir, 'bundles.pack');
  }

  private open(): number {
    if (this.fd === undefined) throw new Error('the agent bundle pack is closed');
    return this.fd;
  }

  private forget(id: string): void {
    const e = this.index.get(id);
    if (!e) return;
    this.index.delete(id);
    this.dead += recordBytes(id, e.length);
  }

  private compactIfWorth(): void {
    if (this.dead <= COMPACT_MIN_DEAD_BYTES || this.dead <= this.size - this.dead) return;
    if (this.dead < this.compactAfterFailure) return;
    let written: { index: Map<string, Entry>; size: number };
    try {
      written = this.writeLive();
    } catch {
      // The disk full, say: the pack stays as it is (dead bytes and all) and works on; a start
      // must not fail for it. Tried again once as many bytes again have died.
      rmSync(`${this.path}.tmp`, { force: true });
      this.compactAfterFailure = this.dead + COMPACT_MIN_DEAD_BYTES;
      return;
    }
    this.replaceWith(written); // past the rename, a failure is not one to work on after
  }

  private write(data: Uint8Array): void {
    const fd = this.open();
    for (let off = 0; off < data.length;) off += writeSync(fd, data, off);
    this.size += data.length;
  }

  /** Reads the headers; a torn or unreadable tail is cut off. */
  private load(): void {
    const fd = this.open();
    const head = Buffer.alloc(HEADER_MAX);
    let pos = 0;
    while (pos < this.size) {
      const n = readSync(fd, head, 0, HEADER_MAX, pos);
      const nl = head.subarray(0, n).indexOf(10);
      const m = nl > 0 ? /^([0-9a-f]{64}) (\d+)$/.exec(head.toString('latin1', 0, nl)) : null;
      const length = m ? Number(m[2]) : -1;
      const offset = pos + nl + 1;
      if (!m || offset + length > this.size) break;
      // The same hash again (stored anew after a removal): the last record is the one put then.
      const before = this.index.get(m[1]);
      if (before) this.dead += recordBytes(m[1], before.length);
      this.index.set(m[1], { offset, length });
      pos = offset + length;
    }
    if (pos < this.size) {
      ftruncateSync(fd, pos);
      this.size = pos;
    }
  }

  /** Bundles stored one file each by agents before the pack: moved into it. */
  private importLegacyFiles(): void {
    const legacy = join(this.dir, 'bundles');
    if (!existsSync(legacy)) return;
    for (const f of readdirSync(legacy)) {
      const m = /^([0-9a-f]{64})\.json\.gz$/.exec(f);
      if (m) this.put(m[1], readFileSync(join(legacy, f)));
    }
    rmSync(legacy, { recursive: true, force: true });
  }

  /** Writes the live records to a temporary pack; returns their index there. */
  private writeLive(): { index: Map<string, Entry>; size: number } {
    const tmp = `${this.path}.tmp`;
    const out = openSync(tmp, 'w');
    const next = new Map<string, Entry>();
    let size = 0;
    try {
      for (const [id, e] of this.index) {
        const bytes = this.get(id)!;
        const header = Buffer.from(`${id} ${e.length}\n`);
        for (const part of [header, bytes]) {
          for (let off = 0; off < part.length;) off += writeSync(out, part, off);
        }
        next.set(id, { offset: size + header.length, length: e.length });
        size += header.length + e.length;
      }
    } finally {
      closeSync(out);
    }
    return { index: next, size };
  }

  /** The temporary pack writeLive wrote becomes the pack (rename), with its index. */
  private replaceWith(written: { index: Map<string, Entry>; size: number }): void {
    renameSync(`${this.path}.tmp`, this.path);
    this.close();
    this.fd = openSync(this.path, 'a+');
    this.index.clear();
    for (const [id, e] of written.index) this.index.set(id, e);
    this.size = written.size;
    this.dead = 0;
    this.compactAfterFailure = 0;
  }
}

function recordBytes(id: string, length: number): number {
  return `${id} ${length}\n`.length + length;
}

export function bundleId(hash: string): string {
  return hash.replace(/^sha256:/, '').replace(/[^0-9a-f]/g, '');
}
