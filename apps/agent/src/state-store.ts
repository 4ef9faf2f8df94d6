import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { readFile, rename, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResourceKey } from '../../../libs/manifests/src/index.js';
import type { SyncPolicyState } from './sync/options.js';

export type { SyncPolicyState };

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
   * shrinks when a pruned resource is gone.
   */
  applied: { generation: number; resources: ResourceKey[] } | null;
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

/**
 * The agent's desired state on disk, so it survives restarts and keeps reconciling while the hub
 * is unreachable. Writes are atomic (temp file + rename); bundles are stored by content hash.
 */
export class StateStore {
  private state: StateFile;
  /** The state was written by an older agent: its apps need one more sync (see FORMAT). */
  readonly upgraded: boolean;
  /** The write running now, and the one waiting to start (it picks up every change until then). */
  private writing: Promise<void> = Promise.resolve();
  private next: Promise<void> | undefined;

  constructor(private readonly dir: string) {
    mkdirSync(join(dir, 'bundles'), { recursive: true });
    const file = join(dir, 'state.json');
    this.state = existsSync(file)
      ? (JSON.parse(readFileSync(file, 'utf8')) as StateFile)
      : { version: FORMAT, apps: {} };
    this.upgraded = this.state.version < FORMAT && Object.keys(this.state.apps).length > 0;
    this.state.version = FORMAT;
  }

  apps(): AppState[] {
    return Object.values(this.state.apps);
  }

  get(appId: string): AppState | undefined {
    return this.state.apps[appId];
  }

  /** Changes the state at once (readers see it now) and resolves once it is on disk. */
  put(app: AppState): Promise<void> {
    this.state.apps[app.appId] = app;
    return this.flush();
  }

  async remove(appId: string): Promise<void> {
    const app = this.state.apps[appId];
    delete this.state.apps[appId];
    await this.flush();
    if (app && !this.apps().some((a) => a.bundleHash === app.bundleHash)) {
      await unlink(this.bundlePath(app.bundleHash)).catch(() => undefined);
    }
  }

  hasBundle(hash: string): boolean {
    return existsSync(this.bundlePath(hash));
  }

  async putBundle(hash: string, gz: Uint8Array): Promise<void> {
    const path = this.bundlePath(hash);
    if (existsSync(path)) return;
    await writeFile(`${path}.tmp`, gz);
    await rename(`${path}.tmp`, path);
  }

  readBundle(hash: string): Promise<Buffer> {
    return readFile(this.bundlePath(hash));
  }

  private bundlePath(hash: string): string {
    return join(
      this.dir,
      'bundles',
      `${hash.replace(/^sha256:/, '').replace(/[^0-9a-f]/g, '')}.json.gz`,
    );
  }

  /**
   * Serialised writes of the whole (small) state, atomically. Changes made while a write runs
   * share the next one: it serialises the state when it starts, after all of them, so a burst of
   * changes costs two writes, not one each.
   */
  private flush(): Promise<void> {
    if (this.next) return this.next;
    // One failed write must not fail every later one.
    const next = this.writing
      .catch(() => undefined)
      .then(async () => {
        this.next = undefined;
        const data = JSON.stringify(this.state);
        const file = join(this.dir, 'state.json');
        await writeFile(`${file}.tmp`, data);
        await rename(`${file}.tmp`, file);
      });
    this.next = next;
    this.writing = next;
    return next;
  }
}
