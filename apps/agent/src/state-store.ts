import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open, rename, writeFile } from 'node:fs/promises';
import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { BundlePack } from './bundle-pack.js';
import type { ResourceKey } from '../../../libs/manifests/src/index.js';
import type { SyncPolicyState } from './sync/options.js';
import type { PruneHeld } from './sync/prune-hold.js';
import type { FailedSync } from './sync/types.js';

export type { FailedSync, PruneHeld, SyncPolicyState };

/** What the agent holds for one app: the desired state it accepted and what it last applied. */
export interface AppState {
  appId: string;
  appName: string;
  generation: number;
  revision: string;
  bundleHash: string;
  namespace: string;
  policy: SyncPolicyState;
  /**
   * `generation`: the last generation whose sync finished (successfully, or failed with no retry
   * left). `resources`: the inventory, everything the app may have in the cluster; it grows as
   * each wave is applied (so an interrupted sync still prunes correctly after a restart) and
   * shrinks when a pruned resource is gone. `failed`: how that generation's sync failed, when it
   * did (absent in states written before it was kept). `pruneHeld`: its prune was held for a
   * person's confirmation (absent when it was not, and in states written before the guard).
   * `revision` and `bundleHash`: what that generation was (absent when it was not known when it
   * was marked, and in states written before they were kept).
   */
  applied: {
    generation: number;
    resources: ResourceKey[];
    failed?: FailedSync;
    pruneHeld?: PruneHeld;
    revision?: string;
    bundleHash?: string;
  } | null;
  /**
   * The hub removed the app (deleting its resources when `prune`): written before anything is
   * deleted and kept until the removal is done, so that a restart resumes the removal instead of
   * syncing the app again (which would re-create what was deleted). Absent in states written
   * before it was kept.
   */
  removing?: { prune: boolean };
}

/**
 * The state file's format. 2: objects carry the agent label (app.axle.io/agent), which agents
 * before it did not set: apps stored in format 1 are synced once more after an upgrade.
 */
const FORMAT = 2;

interface StateFile {
  version: number;
  apps: Record<string, AppState>;
}

/** One journal line: an app's whole new state, or its removal. */
type JournalEntry = { put: AppState } | { remove: string };

/**
 * Writes up to this size are made synchronously: for a small write, a system call or two cost
 * less than trips through libuv's thread pool (and the context switches they cause on a busy
 * machine). Larger ones are asynchronous, so the event loop never stalls on them.
 */
const SYNC_WRITE_MAX_BYTES = 256 * 1024;
/** The journal is folded into a new snapshot once it is this large and larger than the snapshot. */
const COMPACT_MIN_BYTES = 1024 * 1024;

/**
 * The agent's desired state on disk, so it survives restarts and keeps reconciling while the hub
 * is unreachable.
 *
 * State: a snapshot (`state.json`, replaced atomically by temp file + rename) and a journal
 * (`state.log`, one JSON line per changed app, appended). A change costs one append of the apps
 * it touched, not a rewrite of every app's state (which for 10,000 apps is megabytes, and on ext4
 * a rename over an existing file also forces its data out). Replaying the journal over the
 * snapshot is idempotent, so a crash at any point (even between a new snapshot and the journal's
 * truncation) loses at most the append that was being written; a torn last line is ignored.
 *
 * Bundles: in a pack by content hash (see BundlePack); what is read back is verified against its
 * hash by the caller, so damaged bytes are detected and dropped (the hub sends them again).
 */
export class StateStore {
  private state: StateFile;
  /** The state was written by an older agent: its apps need one more sync (see FORMAT). */
  readonly upgraded: boolean;
  /** The write running now, and the one waiting to start (it picks up every change until then). */
  private writing: Promise<void> = Promise.resolve();
  private next: Promise<void> | undefined;
  /** Apps changed since the last append. */
  private readonly dirty = new Set<string>();
  private readonly bundles: BundlePack;
  private journal: number | undefined;
  private journalBytes = 0;
  private snapshotBytes = 0;
  /** Compactions that failed in a row, and when the next may be tried (see compactLater). */
  private readonly log = new Logger('AgentState');
  private compactFailures = 0;
  private compactNotBefore = 0;

  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.bundles = new BundlePack(dir);
    const file = this.snapshotPath;
    const snapshot = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    this.state = snapshot ? (JSON.parse(snapshot) as StateFile) : { version: FORMAT, apps: {} };
    this.snapshotBytes = snapshot?.length ?? 0;
    const replayed = this.replayJournal();
    const older = this.state.version < FORMAT;
    this.upgraded = older && Object.keys(this.state.apps).length > 0;
    this.state.version = FORMAT;
    // Start from a clean pair: the journal folded in (and a torn tail gone), the format current.
    if (replayed || older || snapshot === undefined) this.writeSnapshotSync();
    this.journal = openSync(this.journalPath, 'a');
    if (replayed) ftruncateSync(this.journal, 0);
    // Bundles dropped before the restart are still in the pack (a removal is not written down):
    // only those an app names are held (the hub sends the others again if it needs to).
    this.bundles.retain(this.apps().map((a) => a.bundleHash));
  }

  apps(): AppState[] {
    return Object.values(this.state.apps);
  }

  get(appId: string): AppState | undefined {
    return this.state.apps[appId];
  }

  /**
   * Changes the state at once (readers see it now) and resolves once it is on disk. A bundle no
   * app names any more (the app moved to a new one) is dropped from the pack then: the hub sends
   * a bundle by hash only while an app on this agent holds it.
   */
  async put(app: AppState): Promise<void> {
    const before = this.state.apps[app.appId]?.bundleHash;
    this.state.apps[app.appId] = app;
    this.dirty.add(app.appId);
    await this.flush();
    if (before !== undefined && before !== app.bundleHash) this.dropUnused(before);
  }

  async remove(appId: string): Promise<void> {
    const app = this.state.apps[appId];
    delete this.state.apps[appId];
    this.dirty.add(appId);
    await this.flush();
    if (app) this.dropUnused(app.bundleHash);
  }

  private dropUnused(hash: string): void {
    if (!this.apps().some((a) => a.bundleHash === hash)) this.dropBundle(hash);
  }

  hasBundle(hash: string): boolean {
    return this.bundles.has(hash);
  }

  /** Stores a bundle's bytes under its hash (once). */
  putBundle(hash: string, gz: Uint8Array): void {
    this.bundles.put(hash, gz);
  }

  /** The stored bytes; the caller verifies them against the hash (see dropBundle). */
  readBundle(hash: string): Buffer {
    const bytes = this.bundles.get(hash);
    if (!bytes) throw new Error(`bundle ${hash} is not stored here`);
    return bytes;
  }

  /** Forgets a stored bundle (no longer used, or found not to match its hash). */
  dropBundle(hash: string): void {
    this.bundles.delete(hash);
  }

  /** Writes what is pending and closes the journal. */
  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    if (this.next) await this.next.catch(() => undefined);
    if (this.journal !== undefined) closeSync(this.journal);
    this.journal = undefined;
    this.bundles.close();
  }

  private get snapshotPath(): string {
    return join(this.dir, 'state.json');
  }

  private get journalPath(): string {
    return join(this.dir, 'state.log');
  }

  /** Applies the journal's entries to the snapshot read; true when there were any. */
  private replayJournal(): boolean {
    if (!existsSync(this.journalPath)) return false;
    const text = readFileSync(this.journalPath, 'utf8');
    let any = false;
    for (const line of text.split('\n')) {
      if (!line) continue;
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch {
        break; // a torn last line: the append that was being written when the agent stopped
      }
      if ('put' in entry) this.state.apps[entry.put.appId] = entry.put;
      else delete this.state.apps[entry.remove];
      any = true;
    }
    return any || text.length > 0;
  }

  private writeSnapshotSync(): void {
    const data = JSON.stringify(this.state);
    writeFileSync(`${this.snapshotPath}.tmp`, data);
    renameSync(`${this.snapshotPath}.tmp`, this.snapshotPath);
    this.snapshotBytes = data.length;
  }

  /**
   * Serialised appends. Changes made while one is written share the next: it collects the
   * changed apps when it starts, after all of them, so a burst of changes costs two appends.
   */
  private flush(): Promise<void> {
    if (this.next) return this.next;
    // One failed write must not fail every later one.
    const next = this.writing
      .catch(() => undefined)
      .then(async () => {
        this.next = undefined;
        await this.append();
        if (
          this.journalBytes > Math.max(COMPACT_MIN_BYTES, this.snapshotBytes) &&
          Date.now() >= this.compactNotBefore
        ) {
          await this.compact().then(
            () => (this.compactFailures = 0),
            (e: unknown) => this.compactLater(e),
          );
        }
      });
    this.next = next;
    this.writing = next;
    return next;
  }

  private async append(): Promise<void> {
    const { data, ids } = this.pendingLines();
    if (data.length === 0) return;
    if (data.length <= SYNC_WRITE_MAX_BYTES) {
      this.appendSync(data, ids);
      return;
    }
    try {
      const fh = await open(this.journalPath, 'a');
      try {
        await fh.write(data);
      } finally {
        await fh.close();
      }
    } catch (e) {
      this.appendFailed(ids);
      throw e;
    }
    this.journalBytes += data.length;
  }

  /** The journal lines of every app changed since the last append (and forgets the changes). */
  private pendingLines(): { data: Buffer; ids: string[] } {
    let lines = '';
    const ids = [...this.dirty];
    for (const id of ids) {
      const app = this.state.apps[id];
      lines += `${JSON.stringify(app ? { put: app } : { remove: id })}\n`;
    }
    this.dirty.clear();
    return { data: Buffer.from(lines), ids };
  }

  private appendSync(data: Buffer, ids: string[]): void {
    if (this.journal === undefined) throw new Error('the agent state store is closed');
    try {
      for (let off = 0; off < data.length;) off += writeSync(this.journal, data, off);
    } catch (e) {
      this.appendFailed(ids);
      throw e;
    }
    this.journalBytes += data.length;
  }

  /**
   * An append that failed (the disk full) may have written part of a line: the journal is cut
   * back to its last whole line, or the next append would be glued onto the fragment and replay
   * would stop there at the next start, losing every change after it. Its apps stay changed, for
   * the next append.
   */
  private appendFailed(ids: string[]): void {
    for (const id of ids) this.dirty.add(id);
    try {
      if (this.journal !== undefined) ftruncateSync(this.journal, this.journalBytes);
    } catch {
      // replay stops at a torn line, as after a crash
    }
  }

  /**
   * A compaction that failed (a disk with room for a line, not for a snapshot) costs nothing but
   * a longer journal: the change being written is on disk already, and the put that asked for it
   * succeeds. The next compaction waits, longer after each failure (up to 5 min).
   */
  private compactLater(e: unknown): void {
    this.compactFailures++;
    this.compactNotBefore = Date.now() + Math.min(1000 * 2 ** this.compactFailures, 300_000);
    rmSync(`${this.snapshotPath}.tmp`, { force: true });
    this.log.warn(
      `folding the journal into a new snapshot failed (${(e as Error).message}); tried again later`,
    );
  }

  /** A new snapshot with everything, then an empty journal (replaying it again would be harmless). */
  private async compact(): Promise<void> {
    // The snapshot must hold exactly what the journal ends with: a crash after its rename but
    // before the truncation replays the whole journal over it, which must change nothing.
    const pending = this.pendingLines();
    this.appendSync(pending.data, pending.ids);
    const data = JSON.stringify(this.state);
    const tmp = `${this.snapshotPath}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, this.snapshotPath);
    this.snapshotBytes = data.length;
    if (this.journal !== undefined) ftruncateSync(this.journal, 0);
    this.journalBytes = 0;
  }
}
