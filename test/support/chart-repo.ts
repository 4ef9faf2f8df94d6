import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Path of a rendering tool for tests: `.cache/bin/<name>` (built by scripts/test-toolchain.sh),
 * else the first `<name>` on PATH. Throws (so the test fails, never skips) when there is none.
 */
export function renderToolPath(name: 'helm' | 'kustomize' | 'kubectl'): string {
  const dirs = [join(ROOT, '.cache', 'bin'), ...(process.env.PATH ?? '').split(delimiter)];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  throw new Error(
    `${name} not found in .cache/bin or on PATH: run \`npm run test:cluster\` (scripts/test-toolchain.sh) to build it`,
  );
}

/** An environment that keeps helm away from the user's own helm configuration and caches. */
export function isolatedHelmEnv(home: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  };
}

export interface ChartRepo {
  /** Repository URL (`http://127.0.0.1:PORT/charts`), what `helm repo add`/`--repo` take. */
  url: string;
  /** Requests served so far. */
  requests(): number;
  close(): Promise<void>;
}

/**
 * A Helm chart repository on loopback: packages each chart directory with `helm package`, indexes
 * them with `helm repo index` (relative URLs), and serves `index.yaml` and the `.tgz` files (and
 * nothing else) under `/charts/`. It closes itself after `lifetimeMs` (default 60 s) if the test
 * forgets, and refuses more than `maxRequests` requests.
 */
export async function serveChartRepo(
  chartDirs: string[],
  opts: { lifetimeMs?: number; maxRequests?: number } = {},
): Promise<ChartRepo> {
  const helm = renderToolPath('helm');
  const dir = await mkdtemp(join(tmpdir(), 'axle-chart-repo-'));
  const env = isolatedHelmEnv(join(dir, '.helm'));
  const files = new Map<string, Buffer>();
  try {
    const pkgDir = join(dir, 'pkg');
    for (const c of chartDirs) await run(helm, ['package', c, '-d', pkgDir], { env });
    await run(helm, ['repo', 'index', pkgDir], { env });
    for (const f of await readdir(pkgDir)) files.set(f, readFileSync(join(pkgDir, f)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  let count = 0;
  const max = opts.maxRequests ?? 200;
  const server: Server = createServer((req, res) => {
    count++;
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const name = path.startsWith('/charts/') ? path.slice('/charts/'.length) : '';
    const body = files.get(name);
    if (count > max || req.method !== 'GET' || !body) {
      res.writeHead(count > max ? 429 : 404).end();
      return;
    }
    const type = name.endsWith('.yaml') ? 'application/x-yaml' : 'application/gzip';
    res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((r) => {
      clearTimeout(timer);
      server.close(() => r());
      server.closeAllConnections();
    }));
  const timer = setTimeout(() => void close(), opts.lifetimeMs ?? 60_000);
  timer.unref();
  return { url: `http://127.0.0.1:${port}/charts`, requests: () => count, close };
}
