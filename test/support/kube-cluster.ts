/**
 * Real Kubernetes API servers for end-to-end tests.
 *
 * Starts one etcd and N kube-apiservers that share it, each under its own etcd key prefix
 * (`--etcd-prefix=/cluster-N`), so every apiserver is a separate, empty cluster. No controllers,
 * scheduler or kubelets run: objects are stored, validated and admitted (RBAC, server-side apply,
 * watches, CRDs all work) but nothing reconciles them (Deployments get no Pods, deleted
 * Namespaces stay Terminating, ServiceAccounts get no token Secrets).
 *
 * Everything listens on 127.0.0.1 on random free ports. Certificates and keys are generated here
 * with node:crypto (a minimal X.509 encoder at the bottom), so no openssl CLI is needed.
 *
 * Binaries: `kube-apiserver` from .cache/bin (built by scripts/test-toolchain.sh, which `npm test`
 * runs as pretest) and `etcd` from .cache/bin if built there, else PATH (Debian's etcd-server,
 * installed by the same script). Override with AXLE_KUBE_APISERVER / AXLE_ETCD.
 *
 *   const envs = await startTestClusters({ count: 2 });
 *   try { kc.loadFromString(envs.clusters[0].kubeconfig); ... } finally { await envs.stop(); }
 *
 * See docs/test-clusters.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TestCluster {
  /** Cluster name; also the kubeconfig cluster/context name. */
  name: string;
  /** https://127.0.0.1:PORT */
  server: string;
  /** Bearer token of an admin user in group system:masters (unique per cluster). */
  token: string;
  /** Base64 of the PEM CA certificate that signed the serving certificate (kubeconfig certificate-authority-data). */
  caData: string;
  /** Kubeconfig YAML: one cluster, one user, one context, current-context set. */
  kubeconfig: string;
  /** The same kubeconfig as a file (inside the work directory; removed by stop()). */
  kubeconfigPath: string;
  /** This cluster's kube-apiserver log file. */
  logFile: string;
}

export interface TestClusters {
  clusters: TestCluster[];
  /** Stops all processes (SIGTERM, SIGKILL after 10 s) and removes the work directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartTestClustersOptions {
  /** Number of clusters (kube-apiservers) to start. */
  count: number;
  /** Parent directory for the temporary work directory (default /dev/shm if writable, else os.tmpdir()). */
  workDir?: string;
  /** Cluster names (default cluster-1 … cluster-N): unique lowercase DNS labels. */
  names?: string[];
  /** Where to write process logs, kept after stop() (default: inside the work directory, removed by stop()). Env: AXLE_TEST_CLUSTER_LOG_DIR. */
  logDir?: string;
  /** Extra kube-apiserver flags for every apiserver (e.g. ['--feature-gates=…']). */
  extraApiServerArgs?: string[];
  /** Overall start timeout in ms (default 120 s). */
  startTimeoutMs?: number;
  /** Extra environment of etcd and the kube-apiservers (e.g. { GOGC: '400' }). */
  env?: Record<string, string>;
  /**
   * Clusters (by name) whose workloads progress: they also run kube-controller-manager and
   * kube-scheduler of the same release, and kwok with simulated nodes (`WORKLOAD_NODES`) that
   * run pods without containers, so a Deployment becomes Available, or Degraded when its pods
   * cannot be placed.
   */
  workloads?: string[];
}

/** The simulated nodes of a workload cluster (kwok manages them). */
export const WORKLOAD_NODES = ['kwok-node-0', 'kwok-node-1'];

const STOP_GRACE_MS = 10_000;
const DEFAULT_START_TIMEOUT_MS = 120_000;
const POLL_MS = 250;
const LOG_TAIL_LINES = 40;
const PORT_ATTEMPTS = 3;

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export async function startTestClusters(opts: StartTestClustersOptions): Promise<TestClusters> {
  const { count } = opts;
  if (!Number.isInteger(count) || count < 1) {
    throw new Error(`startTestClusters: count must be a positive integer, got ${count}`);
  }
  const names = opts.names ?? Array.from({ length: count }, (_, i) => `cluster-${i + 1}`);
  if (names.length !== count)
    throw new Error(`startTestClusters: ${names.length} names for ${count} clusters`);
  for (const n of names) {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(n))
      throw new Error(`startTestClusters: invalid cluster name '${n}'`);
  }
  if (new Set(names).size !== names.length)
    throw new Error('startTestClusters: cluster names must be unique');

  const apiServerBin = findApiServer();
  const etcdBin = findEtcd();
  const deadline = Date.now() + (opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);

  const parent = resolve(opts.workDir ?? defaultWorkParent());
  await mkdir(parent, { recursive: true });
  const dir = await mkdtemp(join(parent, 'axle-kube-'));
  const logDirOpt = opts.logDir ?? process.env.AXLE_TEST_CLUSTER_LOG_DIR;
  const logDir = logDirOpt ? resolve(logDirOpt) : join(dir, 'logs');
  await mkdir(logDir, { recursive: true });
  const logTag = logDirOpt
    ? `-${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}`
    : '';

  const group = new ProcessGroup(dir, opts.env);
  let starts: Promise<TestCluster>[] = [];
  try {
    // --- etcd ---------------------------------------------------------------------------------
    const etcdUrl = await withPortRetry(group, async () => {
      const [clientPort, peerPort] = await freePorts(2);
      const client = `http://127.0.0.1:${clientPort}`;
      const peer = `http://127.0.0.1:${peerPort}`;
      rmSync(join(dir, 'etcd'), { recursive: true, force: true }); // a retry starts a fresh member
      const child = group.spawn('etcd', etcdBin, join(logDir, `etcd${logTag}.log`), [
        '--name=axle-test',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=axle-test=${peer}`,
        '--initial-cluster-state=new',
        '--snapshot-count=10000',
        '--logger=zap',
        '--log-outputs=stderr',
        '--log-level=warn',
      ]);
      await waitUntil(child, deadline, 'etcd /health', () => etcdHealthy(clientPort));
      return client;
    });

    // --- kube-apiservers ------------------------------------------------------------------------
    starts = names.map(async (name, i): Promise<TestCluster> => {
      const cdir = join(dir, name);
      const f = (file: string) => join(cdir, file);
      await mkdir(cdir, { recursive: true });
      const pki = makeClusterPki(name);
      const token = randomBytes(24).toString('hex');
      await Promise.all([
        writeFile(f('ca.crt'), pki.caCert),
        writeFile(f('serving.crt'), pki.servingCert + pki.caCert),
        writeFile(f('serving.key'), pki.servingKey, { mode: 0o600 }),
        writeFile(f('sa.key'), pki.saKey, { mode: 0o600 }),
        writeFile(f('sa.pub'), pki.saPub),
        writeFile(f('tokens.csv'), `${token},axle-test-admin,axle-test-admin,"system:masters"\n`, {
          mode: 0o600,
        }),
      ]);
      const caData = Buffer.from(pki.caCert).toString('base64');
      const logFile = join(logDir, `kube-apiserver-${name}${logTag}.log`);

      const port = await withPortRetry(group, async () => {
        const [p] = await freePorts(1);
        const child = group.spawn(`kube-apiserver[${name}]`, apiServerBin, logFile, [
          `--etcd-servers=${etcdUrl}`,
          `--etcd-prefix=/cluster-${i + 1}`,
          `--secure-port=${p}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--cert-dir=${f('certs')}`,
          `--tls-cert-file=${f('serving.crt')}`,
          `--tls-private-key-file=${f('serving.key')}`,
          `--client-ca-file=${f('ca.crt')}`,
          `--token-auth-file=${f('tokens.csv')}`,
          '--authorization-mode=RBAC',
          `--service-account-key-file=${f('sa.pub')}`,
          `--service-account-signing-key-file=${f('sa.key')}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          '--service-cluster-ip-range=10.0.0.0/24',
          // The `kubernetes` Endpoints would point at 127.0.0.1, which validation rejects.
          '--endpoint-reconciler-type=none',
          // Needs the ServiceAccount controller (a `default` SA in every namespace), which isn't running.
          '--disable-admission-plugins=ServiceAccount',
          '--allow-privileged=true',
          '--enable-priority-and-fairness=false',
          '--profiling=false',
          ...(opts.extraApiServerArgs ?? []),
        ]);
        const ok = (path: string) => async () =>
          (await httpsGet(p, path, pki.caCert, token)) === 200;
        await waitUntil(child, deadline, `kube-apiserver[${name}] /readyz`, ok('/readyz'));
        // Created by the apiserver's own bootstrap controller shortly after it starts serving.
        await waitUntil(
          child,
          deadline,
          `kube-apiserver[${name}] namespace default`,
          ok('/api/v1/namespaces/default'),
        );
        return p;
      });

      const server = `https://127.0.0.1:${port}`;
      const kubeconfig = renderKubeconfig(name, server, caData, token);
      const kubeconfigPath = f('kubeconfig');
      await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
      if (opts.workloads?.includes(name)) {
        await startWorkloads(group, {
          name,
          port,
          ca: pki.caCert,
          token,
          kubeconfigPath,
          dir: cdir,
          logDir,
          logTag,
          deadline,
        });
      }
      return { name, server, token, caData, kubeconfig, kubeconfigPath, logFile };
    });
    const clusters = await Promise.all(starts);

    return { clusters, stop: () => group.stop() };
  } catch (err) {
    await group.stop(); // kills what runs and refuses further spawns, so the other starts fail fast
    await Promise.allSettled(starts);
    rmSync(dir, { recursive: true, force: true }); // in case a late start wrote files again
    if (err instanceof StartError && !logDirOpt) {
      err.message +=
        '\n(the log was removed with the work directory; set logDir or AXLE_TEST_CLUSTER_LOG_DIR to keep logs)';
    }
    throw err;
  }
}

/**
 * Controllers (the default set), scheduler and kwok for one cluster, then the simulated nodes,
 * waited for Ready.
 */
async function startWorkloads(
  group: ProcessGroup,
  c: {
    name: string;
    port: number;
    ca: string;
    token: string;
    kubeconfigPath: string;
    dir: string;
    logDir: string;
    logTag: string;
    deadline: number;
  },
): Promise<void> {
  const log = (what: string) => join(c.logDir, `${what}-${c.name}${c.logTag}.log`);
  const kubeconfig = `--kubeconfig=${c.kubeconfigPath}`;
  const manager = group.spawn(
    `kube-controller-manager[${c.name}]`,
    findTool('kube-controller-manager'),
    log('kube-controller-manager'),
    [
      kubeconfig,
      '--leader-elect=false',
      '--secure-port=0',
      '--use-service-account-credentials=false',
      `--service-account-private-key-file=${join(c.dir, 'sa.key')}`,
      `--root-ca-file=${join(c.dir, 'ca.crt')}`,
    ],
  );
  const scheduler = group.spawn(
    `kube-scheduler[${c.name}]`,
    findTool('kube-scheduler'),
    log('kube-scheduler'),
    [kubeconfig, '--leader-elect=false', '--secure-port=0'],
  );
  const spawnKwok = (attempt: number) =>
    group.spawn(
      `kwok[${c.name}]`,
      findTool('kwok'),
      log(attempt === 1 ? 'kwok' : `kwok-${attempt}`),
      [
        kubeconfig,
        `--config=${findTool('kwok-stages.yaml', false)}`,
        '--manage-all-nodes=false',
        '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
        '--node-ip=127.0.0.1',
        '--server-address=127.0.0.1:0',
      ],
    );
  // kwok has been seen to exit during start-up once in a while (code 2, a Go panic or a flag
  // error): it is started again, saying why, rather than failing every suite of the run.
  for (let attempt = 1; ; attempt++) {
    const kwok = spawnKwok(attempt);
    try {
      await nodesReady(kwok, [manager, scheduler], c);
      return;
    } catch (err) {
      if (!(err instanceof StartError && err.child === kwok && attempt < KWOK_ATTEMPTS)) throw err;
      process.stderr.write(`${err.message}\nstarting kwok[${c.name}] again\n`);
      await group.discard(kwok);
    }
  }
}

/** Attempts at starting kwok (see startWorkloads). */
const KWOK_ATTEMPTS = 3;

/** The simulated nodes created and waited for Ready (kwok marks them so). */
async function nodesReady(
  kwok: Child,
  others: Child[],
  c: { name: string; port: number; ca: string; token: string; deadline: number },
): Promise<void> {
  for (const node of WORKLOAD_NODES) {
    const body = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: node,
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
        labels: { 'kubernetes.io/hostname': node, 'kubernetes.io/os': 'linux', type: 'kwok' },
      },
      status: {
        allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
        capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      },
    });
    await waitUntil(kwok, c.deadline, `node ${node} created`, async () =>
      [201, 409].includes(await httpsSend(c.port, '/api/v1/nodes', c.ca, c.token, 'POST', body)),
    );
  }
  const died = () => others.find((x) => x.exit);
  await waitUntil(kwok, c.deadline, `nodes of ${c.name} Ready`, async () => {
    if (died()) return true; // reported below, with that process's log
    for (const node of WORKLOAD_NODES) {
      const r = await httpsJson(c.port, `/api/v1/nodes/${node}`, c.ca, c.token);
      const ready = (
        r?.status as { conditions?: { type: string; status: string }[] } | undefined
      )?.conditions?.find((x) => x.type === 'Ready');
      if (ready?.status !== 'True') return false;
      // …and the node controller has lifted its not-ready taint (pods are placed only then).
      const taints = (r?.spec as { taints?: { key: string }[] } | undefined)?.taints ?? [];
      if (taints.some((t) => t.key.startsWith('node.kubernetes.io/'))) return false;
    }
    return true;
  });
  const dead = died();
  if (dead) {
    throw new StartError(
      `${dead.label} exited (${dead.exit}) during start-up; last lines of ${dead.logFile}:\n${logTail(dead.logFile)}`,
      dead,
      false,
    );
  }
}

/** A binary (or file) the toolchain script put in .cache/bin. */
function findTool(name: string, executable = true): string {
  const p = join(repoRoot(), '.cache', 'bin', name);
  if (executable ? !isExecutable(p) : !existsSync(p)) {
    throw new Error(
      `${name} not found at ${p}: run 'npm run test:cluster' (bash scripts/test-toolchain.sh) to build it`,
    );
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Binaries and directories
// ---------------------------------------------------------------------------------------------

function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'test', 'kube', 'go.mod'))) return d;
    const up = dirname(d);
    if (up === d) return process.cwd();
    d = up;
  }
}

function findApiServer(): string {
  return process.env.AXLE_KUBE_APISERVER || findTool('kube-apiserver');
}

/** AXLE_ETCD, else an etcd built into .cache/bin by the toolchain script (if any), else PATH. */
function findEtcd(): string {
  if (process.env.AXLE_ETCD) return process.env.AXLE_ETCD;
  const built = join(repoRoot(), '.cache', 'bin', 'etcd');
  if (isExecutable(built)) return built;
  for (const d of (process.env.PATH ?? '').split(delimiter).concat('/usr/bin', '/usr/local/bin')) {
    if (d && isExecutable(join(d, 'etcd'))) return join(d, 'etcd');
  }
  throw new Error(
    "etcd not found on PATH: run 'npm run test:cluster' (bash scripts/test-toolchain.sh) to install it",
  );
}

function isExecutable(p: string): boolean {
  try {
    const s = statSync(p);
    return s.isFile() && (s.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** etcd fsyncs every write; on tmpfs that's free. Falls back to the OS temp dir. */
function defaultWorkParent(): string {
  try {
    const probe = join('/dev/shm', `.axle-probe-${process.pid}`);
    closeSync(openSync(probe, 'w'));
    rmSync(probe);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

// ---------------------------------------------------------------------------------------------
// Ports and readiness
// ---------------------------------------------------------------------------------------------

const handedOutPorts = new Set<number>();

/** Distinct free loopback ports, never handed out twice by this process. */
async function freePorts(n: number): Promise<number[]> {
  const servers = [];
  const ports: number[] = [];
  try {
    while (ports.length < n) {
      const srv = createServer();
      servers.push(srv);
      const port = await new Promise<number>((res, rej) => {
        srv.once('error', rej);
        srv.listen(0, '127.0.0.1', () => res((srv.address() as { port: number }).port));
      });
      if (!handedOutPorts.has(port)) {
        handedOutPorts.add(port);
        ports.push(port);
      }
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((res) => s.close(res))));
  }
  return ports;
}

class StartError extends Error {
  constructor(
    message: string,
    readonly child: Child,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

/** Runs `attempt`; if its process died because a port got taken in the meantime, tries again with new ports. */
async function withPortRetry<T>(group: ProcessGroup, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof StartError && err.portInUse && i < PORT_ATTEMPTS)) throw err;
      await group.discard(err.child);
    }
  }
}

async function waitUntil(
  child: Child,
  deadline: number,
  what: string,
  check: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    if (child.exit) {
      const tail = logTail(child.logFile);
      throw new StartError(
        `${what}: ${child.label} exited (${child.exit}) during start-up; last lines of ${child.logFile}:\n${tail}`,
        child,
        /address already in use/.test(tail),
      );
    }
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new StartError(
        `${what}: not ready before the start timeout; last lines of ${child.logFile}:\n${logTail(child.logFile)}`,
        child,
        false,
      );
    }
    await new Promise((res) => setTimeout(res, POLL_MS));
  }
}

function logTail(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .filter((l) => !l.includes('addrConn.createTransport')) // etcd client dial noise
      .slice(-LOG_TAIL_LINES);
    return lines.map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l)).join('\n');
  } catch (err) {
    return `(cannot read log: ${(err as Error).message})`;
  }
}

function etcdHealthy(port: number): Promise<boolean> {
  return new Promise((res) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/health', timeout: 2000 }, (r) => {
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (body += c));
      r.on('end', () => res(r.statusCode === 200 && /"health"\s*:\s*"true"/.test(body)));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => res(false));
  });
}

/** A GET as the cluster's admin (the apiserver's /metrics, say): status and body (0: failed). */
export function clusterGet(
  c: TestCluster,
  path: string,
): Promise<{ status: number; body: string }> {
  const ca = Buffer.from(c.caData, 'base64').toString();
  return httpsCall(Number(new URL(c.server).port), path, ca, c.token);
}

/** One HTTPS request to a test apiserver: status and body (status 0 when it failed). */
function httpsCall(
  port: number,
  path: string,
  ca: string,
  token: string,
  method = 'GET',
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((res) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        ca,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }
            : {}),
        },
        timeout: 3000,
        agent: false,
      },
      (r) => {
        let data = '';
        r.setEncoding('utf8');
        r.on('data', (d: string) => (data += d));
        r.on('end', () => res({ status: r.statusCode ?? 0, body: data }));
        // A response cut off half way counts as a failed request.
        r.on('aborted', () => res({ status: 0, body: '' }));
        r.on('error', () => res({ status: 0, body: '' }));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => res({ status: 0, body: '' }));
    req.end(body);
  });
}

function httpsSend(
  port: number,
  path: string,
  ca: string,
  token: string,
  method: string,
  body: string,
): Promise<number> {
  return httpsCall(port, path, ca, token, method, body).then((r) => r.status);
}

/** GETs a JSON object (undefined when it failed). */
async function httpsJson(
  port: number,
  path: string,
  ca: string,
  token: string,
): Promise<Record<string, unknown> | undefined> {
  const r = await httpsCall(port, path, ca, token);
  if (r.status !== 200) return undefined;
  try {
    return JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function httpsGet(port: number, path: string, ca: string, token: string): Promise<number> {
  return httpsCall(port, path, ca, token).then((r) => r.status);
}

// ---------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------

interface Child {
  label: string;
  logFile: string;
  proc: ChildProcess;
  /** Set once the process is gone, e.g. "code 1" or "signal SIGTERM". */
  exit: string | undefined;
  exited: Promise<void>;
}

/** Groups alive in this Node process; killed synchronously if it exits without stop(). */
const liveGroups = new Set<ProcessGroup>();
let exitHookInstalled = false;

class ProcessGroup {
  private readonly children: Child[] = [];
  private watchdog: ChildProcess | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly env: Record<string, string> = {},
  ) {
    liveGroups.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const g of liveGroups) g.killNow();
      });
    }
  }

  spawn(label: string, bin: string, logFile: string, args: string[]): Child {
    if (this.stopping)
      throw new Error(`not starting ${label}: the test clusters are being stopped`);
    appendFileSync(logFile, `[harness] ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    const fd = openSync(logFile, 'a');
    let proc: ChildProcess;
    try {
      proc = spawn(bin, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...this.env } });
    } finally {
      closeSync(fd);
    }
    const child: Child = { label, logFile, proc, exit: undefined, exited: Promise.resolve() };
    child.exited = new Promise<void>((res) => {
      proc.once('exit', (code, signal) => {
        child.exit = signal ? `signal ${signal}` : `code ${code}`;
        res();
      });
      proc.once('error', (err) => {
        child.exit = `spawn error: ${err.message}`;
        appendFileSync(logFile, `[harness] cannot start ${bin}: ${err.message}\n`);
        res();
      });
    });
    this.children.push(child);
    this.updateWatchdog();
    return child;
  }

  /** Forgets a child that died during start-up (so it can be retried). */
  async discard(child: Child): Promise<void> {
    await terminate(child);
    this.children.splice(this.children.indexOf(child), 1);
    this.updateWatchdog();
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.killWatchdog();
      // apiservers first (they complain when etcd disappears under them), then etcd.
      const [etcd, ...apiservers] = this.children;
      await Promise.all(apiservers.map(terminate));
      if (etcd) await terminate(etcd);
      liveGroups.delete(this);
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  /** Last-resort synchronous cleanup from the process 'exit' hook. */
  killNow(): void {
    this.killWatchdog();
    for (const c of this.children) if (!c.exit) c.proc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * A tiny shell holding the read end of a pipe from this process: if Node dies without running
   * its exit hooks (SIGKILL, a killed Vitest worker), the pipe closes and the shell kills the
   * children and removes the work directory.
   */
  private updateWatchdog(): void {
    this.killWatchdog();
    const pids = this.children.filter((c) => !c.exit && c.proc.pid).map((c) => c.proc.pid);
    if (pids.length === 0) return;
    const list = pids.join(' ');
    const script = `read _; kill -TERM ${list}; sleep 5; kill -KILL ${list}; rm -rf "$1"`;
    const w = spawn('/bin/sh', ['-c', script, 'axle-test-cluster-watchdog', this.dir], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    w.on('error', () => undefined);
    w.unref();
    (w.stdin as Socket | null)?.unref();
    this.watchdog = w;
  }

  private killWatchdog(): void {
    const w = this.watchdog;
    this.watchdog = undefined;
    if (w && w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  }
}

async function terminate(c: Child): Promise<void> {
  if (c.exit) return;
  c.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceful = await Promise.race([
    c.exited.then(() => true),
    new Promise<boolean>((res) => (timer = setTimeout(() => res(false), STOP_GRACE_MS))),
  ]);
  clearTimeout(timer);
  if (!graceful) {
    c.proc.kill('SIGKILL');
    await c.exited;
  }
}

// ---------------------------------------------------------------------------------------------
// Kubeconfig
// ---------------------------------------------------------------------------------------------

function renderKubeconfig(name: string, server: string, caData: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    `- name: ${name}-admin`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}-admin`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// PKI: a per-cluster CA, a serving certificate for 127.0.0.1/localhost, a service-account key.
// All ECDSA P-256. Minimal DER encoder; just enough X.509 v3 for Go's and Node's verifiers.
// ---------------------------------------------------------------------------------------------

interface ClusterPki {
  caCert: string;
  servingCert: string;
  servingKey: string;
  saKey: string;
  saPub: string;
}

function makeClusterPki(name: string): ClusterPki {
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ca = ec();
  const serving = ec();
  const sa = ec();
  const caSpki = ca.publicKey.export({ type: 'spki', format: 'der' });
  const caSki = createHash('sha1').update(caSpki).digest();
  const now = Date.now();
  const notBefore = new Date(now - 60 * 60 * 1000);
  const notAfter = new Date(now + 365 * 24 * 60 * 60 * 1000);

  const caDer = x509({
    subject: `axle-test-ca-${name}`,
    issuer: `axle-test-ca-${name}`,
    spki: caSpki,
    signer: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      ext('2.5.29.19', true, seq(bool(true))), // basicConstraints CA:TRUE
      ext('2.5.29.15', true, der(0x03, Buffer.from([0x01, 0x86]))), // keyUsage digitalSignature, keyCertSign, cRLSign
      ext('2.5.29.14', false, octets(caSki)), // subjectKeyIdentifier
    ],
  });
  const servingSpki = serving.publicKey.export({ type: 'spki', format: 'der' });
  const servingDer = x509({
    subject: 'kube-apiserver',
    issuer: `axle-test-ca-${name}`,
    spki: servingSpki,
    signer: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      ext('2.5.29.19', true, seq()), // basicConstraints CA:FALSE
      ext('2.5.29.15', true, der(0x03, Buffer.from([0x07, 0x80]))), // keyUsage digitalSignature
      ext('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'))), // extKeyUsage serverAuth
      ext('2.5.29.35', false, seq(der(0x80, caSki))), // authorityKeyIdentifier
      // subjectAltName: DNS localhost, IP 127.0.0.1
      ext(
        '2.5.29.17',
        false,
        seq(der(0x82, Buffer.from('localhost')), der(0x87, Buffer.from([127, 0, 0, 1]))),
      ),
    ],
  });
  const keyPem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    caCert: pem('CERTIFICATE', caDer),
    servingCert: pem('CERTIFICATE', servingDer),
    servingKey: keyPem(serving.privateKey),
    saKey: keyPem(sa.privateKey),
    saPub: sa.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function x509(c: {
  subject: string;
  issuer: string;
  spki: Buffer;
  signer: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}): Buffer {
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01; // positive, no leading zero byte
  const tbs = seq(
    der(0xa0, int(Buffer.from([2]))), // version v3
    int(serial),
    ecdsaWithSha256,
    dn(c.issuer),
    seq(time(c.notBefore), time(c.notAfter)),
    dn(c.subject),
    c.spki,
    der(0xa3, seq(...c.extensions)),
  );
  const signature = sign('sha256', tbs, c.signer); // DER-encoded ECDSA signature
  return seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])));
}

function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  let len: Buffer;
  if (body.length < 0x80) {
    len = Buffer.from([body.length]);
  } else {
    const bytes: number[] = [];
    for (let n = body.length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

const seq = (...content: Buffer[]) => der(0x30, ...content);
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0x00]));
const octets = (b: Buffer) => der(0x04, b);
const int = (b: Buffer) => der(0x02, b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
const dn = (cn: string) => seq(der(0x31, seq(oid('2.5.4.3'), der(0x0c, Buffer.from(cn, 'utf8')))));

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128))
      chunk.unshift((v & 0x7f) | 0x80);
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '') + 'Z'; // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(digits.slice(2)))
    : der(0x18, Buffer.from(digits));
}

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}
