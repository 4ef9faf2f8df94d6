import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir, TEST_ADMIN_TOKEN, waitFor } from '../support/hub-harness.js';
import { freePort } from '../support/ports.js';

const ROOT = resolve('.');
const BUILD_MS = 15 * 60_000;

/** The instructions of deploy/Dockerfile that this test replays, per stage. */
interface Stage {
  name: string;
  workdir: string;
  run: string[];
  copies: { from: string; sources: string[]; dest: string }[];
  env: Record<string, string>;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

/**
 * Reads a Dockerfile: instructions joined across `\` continuations, comments dropped. Only what
 * this test replays is kept; an instruction it does not know fails the test, so that the image
 * cannot grow a step the test silently skips.
 */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    const stage = stages.at(-1);
    switch (op?.toUpperCase()) {
      case 'FROM': {
        const [, name] = /\bAS\s+(\S+)$/i.exec(rest) ?? [];
        stages.push({
          name: name ?? `#${stages.length}`,
          workdir: '/',
          run: [],
          copies: [],
          env: {},
        });
        break;
      }
      case 'WORKDIR':
        stage!.workdir = rest;
        break;
      case 'RUN':
        // BuildKit flags (cache mounts) change where caches live, not what runs.
        stage!.run.push(rest.replace(/^(--\S+\s+)+/, ''));
        break;
      case 'COPY': {
        const words = rest.split(/\s+/);
        const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length) ?? '';
        const paths = words.filter((w) => !w.startsWith('--'));
        stage!.copies.push({ from, sources: paths.slice(0, -1), dest: paths.at(-1)! });
        break;
      }
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=(\S+)/g)) stage!.env[m[1]] = m[2];
        break;
      case 'USER':
        stage!.user = rest;
        break;
      case 'CMD':
        stage!.cmd = JSON.parse(rest) as string[];
        break;
      case 'ENTRYPOINT':
        stage!.entrypoint = JSON.parse(rest) as string[];
        break;
      case 'EXPOSE':
        break;
      default:
        throw new Error(`deploy/Dockerfile: instruction the image test does not replay: ${line}`);
    }
  }
  return stages;
}

/**
 * The image, as far as it can be checked without a container engine: deploy/Dockerfile's build
 * stage (the README's `npm install`, then the prune) runs in a clean copy of the repository
 * (what `COPY . .` sends, .dockerignore applied), offline, from the npm and Go caches the set-up
 * filled. The final stage's layout is assembled from its COPY lines alone, and the hub starts from
 * it with the image's CMD and environment, as a non-root user, on its embedded PostgreSQL.
 */
describe('the container image (deploy/Dockerfile)', () => {
  const stages = parseDockerfile(readFileSync('deploy/Dockerfile', 'utf8'));
  const build = stages.find((s) => s.name === 'build')!;
  const final = stages.at(-1)!;
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('runs as a non-root user and carries helm and kustomize', () => {
    expect(build).toBeDefined();
    expect(final.user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    const copied = final.copies.flatMap((c) => c.sources);
    expect(copied).toEqual(
      expect.arrayContaining(['/app/.cache/bin/helm', '/app/.cache/bin/kustomize']),
    );
    // The same install as the README's set-up (not `npm ci`, which the lock file cannot satisfy).
    expect(build.run[0]).toMatch(/^npm install\b/);
    expect(build.run.join('\n')).not.toMatch(/npm ci\b/);
    // An init process as PID 1 (reaps what git and helm leave, passes signals on).
    expect(final.entrypoint?.[0]).toMatch(/tini$/);
  });

  it(
    'builds with the README set-up in a clean copy, and the hub starts from the final layout',
    async () => {
      const work = await tempDir('axle-image-');
      cleanup.push(work.remove);
      chmodSync(work.path, 0o755);
      const app = join(work.path, 'build-app');
      const image = join(work.path, 'image');
      copyBuildContext(app);

      // The build stage's RUN lines, offline (npm from its cache, Go modules from the module
      // cache), on a PATH of node, Go and the system's directories only: a helm or kustomize
      // installed elsewhere on this machine must not stand in for the ones the build makes.
      const go = execFileSync('bash', ['-c', 'command -v go || echo /usr/local/go/bin/go'], {
        encoding: 'utf8',
      }).trim();
      const clean = [dirname(process.execPath), dirname(go), '/usr/bin', '/bin'].join(':');
      for (const tool of ['helm', 'kustomize']) {
        const found = spawnSync('bash', ['-c', `command -v ${tool}`], { env: { PATH: clean } });
        expect(found.status, `${tool} is on ${clean}; the test cannot tell the image's`).not.toBe(
          0,
        );
      }
      const passThrough = Object.fromEntries(
        ['GOPATH', 'GOMODCACHE', 'GOCACHE', 'npm_config_cache', 'XDG_CACHE_HOME']
          .filter((k) => process.env[k])
          .map((k) => [k, process.env[k]!]),
      );
      const env: Record<string, string> = {
        HOME: process.env.HOME ?? '/root',
        ...passThrough,
        npm_config_offline: 'true',
        npm_config_update_notifier: 'false',
        GOPROXY: 'off',
        GOFLAGS: '-mod=mod',
        GOTOOLCHAIN: 'local',
        ...build.env,
      };
      env.PATH = (build.env.PATH ?? '$PATH').replace('$PATH', clean);
      const deadline = Date.now() + BUILD_MS;
      for (const cmd of build.run) {
        const r = await run('bash', ['-c', cmd], app, env, deadline - Date.now());
        expect(r.code, `RUN ${cmd}\n${r.output.slice(-4000)}`).toBe(0);
      }

      // The final stage: only what its COPY lines take from the build stage (whose WORKDIR is
      // the clean copy), laid out under `image` as the image's file system.
      const at = (p: string, root: string, workdir: string) =>
        join(root, relative('/', resolve(workdir, p)));
      for (const c of final.copies) {
        expect(c.from).toBe('build');
        for (const src of c.sources) {
          const inBuild = relative(build.workdir, resolve(build.workdir, src));
          expect(inBuild.startsWith('..'), `COPY --from=build ${src}: outside the WORKDIR`).toBe(
            false,
          );
          const from = join(app, inBuild);
          const to = c.dest.endsWith('/')
            ? join(at(c.dest, image, final.workdir), src.split('/').at(-1)!)
            : at(c.dest, image, final.workdir);
          expect(existsSync(from), `COPY --from=build ${src}: missing after the build`).toBe(true);
          cpSync(from, to, { recursive: true, verbatimSymlinks: true });
        }
      }
      const root = at('.', image, final.workdir);
      expect(existsSync(join(root, 'apps'))).toBe(false);
      expect(existsSync(join(root, 'node_modules', 'vitest'))).toBe(false);
      for (const tool of ['helm', 'kustomize']) {
        const v = spawnSync(join(root, '.cache', 'bin', tool), ['version'], { encoding: 'utf8' });
        expect(v.status, `${tool} version: ${v.stderr}`).toBe(0);
      }
      const cli = spawnSync(process.execPath, ['bin/axle.js', '--help'], {
        cwd: root,
        encoding: 'utf8',
      });
      expect(cli.status, cli.stderr).toBe(0);
      expect(cli.stdout).toMatch(/cluster/);

      // The hub, as the image starts it: its CMD in its WORKDIR, its ENV (the data directory moved
      // here, loopback instead of 0.0.0.0), no DATABASE_URL (embedded PostgreSQL), not as root.
      const data = join(work.path, 'data');
      mkdirSync(data);
      const asRoot = process.getuid?.() === 0;
      // The image's user does not exist on this machine; as root, `nobody` stands in for it.
      const [uid, gid] = asRoot ? [65534, 65534] : [process.getuid!(), process.getgid!()];
      if (asRoot) chownSync(data, uid, gid);
      const [http, grpc, enroll, pg] = [
        await freePort(),
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      // The CMD without the ENTRYPOINT (tini is not installed here), in its own process group so
      // that the embedded PostgreSQL it starts is stopped with it whatever happens.
      const [cmd, ...args] = final.cmd!;
      const hub = spawn(cmd === 'node' ? process.execPath : cmd, args, {
        cwd: root,
        uid,
        gid,
        detached: true,
        env: {
          PATH: clean,
          ...final.env,
          HOME: data,
          AXLE_DATA_DIR: data,
          AXLE_HTTP_HOST: '127.0.0.1',
          AXLE_GRPC_HOST: '127.0.0.1',
          AXLE_HTTP_PORT: String(http),
          AXLE_GRPC_PORT: String(grpc),
          AXLE_GRPC_ENROLL_PORT: String(enroll),
          AXLE_EMBEDDED_PG_PORT: String(pg),
          AXLE_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
          AXLE_GIT_POLL_SECONDS: '3600',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let log = '';
      hub.stdout.on('data', (c: Buffer) => (log += c.toString()));
      hub.stderr.on('data', (c: Buffer) => (log += c.toString()));
      const exited = new Promise<number | null>((r) => hub.once('exit', (code) => r(code)));
      cleanup.push(async () => {
        if (hub.exitCode !== null || hub.signalCode !== null) return;
        process.kill(-hub.pid!, 'SIGTERM');
        const timer = setTimeout(() => process.kill(-hub.pid!, 'SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      });
      const url = `http://127.0.0.1:${http}`;
      await waitFor(
        'the hub from the image layout to be ready',
        async () => {
          if (hub.exitCode !== null) throw new Error(`hub exited with ${hub.exitCode}:\n${log}`);
          const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(
            () => undefined,
          );
          return res?.status === 200;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      // It renders with the tools it carries, and serves the console and the API.
      const tools = join(root, '.cache', 'bin');
      expect(log).toContain(`helm ${join(tools, 'helm')}`);
      expect(log).toContain(`kustomize ${join(tools, 'kustomize')}`);
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<div id="root">/);
      const clusters = await fetch(`${url}/api/v1/clusters`, {
        headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
      });
      expect(clusters.status).toBe(200);
      // A graceful stop.
      hub.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
    BUILD_MS + 5 * 60_000,
  );
});

/**
 * The build context `COPY . .` sends: the repository's files (tracked, and new ones not ignored),
 * less what .dockerignore names. .dockerignore lists what .gitignore does, so git's view and
 * Docker's agree.
 */
function copyBuildContext(to: string): void {
  const ignored = readFileSync('.dockerignore', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  // .dockerignore patterns as used here: `**/x` at any depth, `x` at the root (`*` within a name).
  const patterns = ignored.map((p) => {
    const anyDepth = p.startsWith('**/');
    const body = (anyDepth ? p.slice(3) : p)
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*');
    return new RegExp(`^${anyDepth ? '(.*/)?' : ''}${body}(/.*)?$`);
  });
  const matches = (file: string) => patterns.some((re) => re.test(file));
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    {
      cwd: ROOT,
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    },
  )
    .split('\0')
    .filter((f) => f && !matches(f) && existsSync(join(ROOT, f)));
  for (const f of files) {
    mkdirSync(dirname(join(to, f)), { recursive: true });
    cpSync(join(ROOT, f), join(to, f), { verbatimSymlinks: true });
  }
}

/** Runs a command to its end (or its time), keeping the tail of its output; never blocks the loop. */
function run(
  command: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (c: Buffer) => {
      output = (output + c.toString('utf8')).slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(
      () => {
        output += `\n(killed after ${Math.round(timeoutMs / 1000)} s)`;
        child.kill('SIGKILL');
      },
      Math.max(0, timeoutMs),
    );
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, output });
    });
  });
}
