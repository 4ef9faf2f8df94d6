/**
 * Simulated agents (bench/sim-agents.ts) in child processes, driven over IPC: enrol and connect
 * a fleet, ask for statistics, make every agent report, or one agent change one application's
 * health. Shared by bench:agents and bench:ui.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimStart } from './sim-agents.js';
import { hubJson, pool } from './support.js';

/** How the simulators reach the hub, and how fast they enrol and dial. */
export type SimKit = Omit<SimStart, 'type' | 'agents'>;

/**
 * Registers clusters (mTLS, the default) and collects what their simulated agents need: one
 * bootstrap token each, and the hub's CA and addresses.
 */
export async function registerSimClusters(
  base: string,
  names: string[],
  labelsOf: (i: number) => Record<string, string>,
  opts: { concurrency: number; enrollConcurrency: number; dialsPerSecond: number },
): Promise<{ kit: SimKit; agents: SimStart['agents'] }> {
  const agents: SimStart['agents'] = [];
  let kit: SimKit | undefined;
  await pool(
    names.map((name, i) => ({ name, i })),
    opts.concurrency,
    async ({ name, i }) => {
      const r = await hubJson(base, 'POST', '/api/v1/clusters', { name, labels: labelsOf(i) });
      if (r.status !== 201) throw new Error(`registering ${name}: ${r.status}`);
      agents.push({ cluster: name, bootstrapToken: r.body.bootstrapToken as string });
      kit ??= {
        caPem: r.body.caCertificate as string,
        hubAddress: r.body.hubAddress as string,
        enrollAddress: r.body.enrollAddress as string,
        enrollConcurrency: opts.enrollConcurrency,
        dialsPerSecond: opts.dialsPerSecond,
      };
    },
  );
  if (!kit) throw new Error('no cluster registered');
  return { kit, agents };
}

export interface Stats {
  closeReasons?: Record<string, number>;
  connected: number;
  apps: number;
  acks: number;
  deploys: number;
  bundleBytes: number;
  reconnects: number;
  rss: number;
}

export class Sims {
  private readonly children: ChildProcess[] = [];

  constructor(private readonly processes: number) {}

  start(kit: SimKit, agents: SimStart['agents']): Promise<number> {
    const entry = join(dirname(fileURLToPath(import.meta.url)), 'sim-agents.js');
    const per = Math.ceil(agents.length / this.processes);
    return Promise.all(
      Array.from({ length: this.processes }, (_, i) => {
        const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        this.children.push(child);
        return new Promise<number>((resolve) => {
          child.on('message', (m: { type: string; count?: number; failures?: number }) => {
            if (m.type === 'enrolled') {
              if (m.failures)
                process.stdout.write(`simulator ${i}: ${m.failures} enrollment(s) failed\n`);
              resolve(m.count ?? 0);
            }
          });
          child.send({ type: 'start', ...kit, agents: agents.slice(i * per, (i + 1) * per) });
        });
      }),
    ).then((n) => n.reduce((a, b) => a + b, 0));
  }

  async stats(): Promise<Stats> {
    const all = await Promise.all(
      this.children.map((c) => ask<Stats>(c, { type: 'stats' }, 'stats')),
    );
    const out: Stats = {
      connected: 0,
      apps: 0,
      acks: 0,
      deploys: 0,
      bundleBytes: 0,
      reconnects: 0,
      rss: 0,
    };
    const reasons: Record<string, number> = {};
    for (const s of all) {
      for (const k of [
        'connected',
        'apps',
        'acks',
        'deploys',
        'bundleBytes',
        'reconnects',
        'rss',
      ] as const)
        out[k] += s[k];
      for (const [r, n] of Object.entries(s.closeReasons ?? {})) reasons[r] = (reasons[r] ?? 0) + n;
    }
    out.closeReasons = reasons;
    return out;
  }

  async report(marker: number): Promise<number> {
    const n = await Promise.all(
      this.children.map((c) => ask<{ count: number }>(c, { type: 'report', marker }, 'reported')),
    );
    return n.reduce((a, b) => a + b.count, 0);
  }

  /** One agent reports one of its applications Degraded (or Healthy); false when it has not. */
  async setHealth(cluster: string, appId: string, degraded: boolean): Promise<boolean> {
    const answers = await Promise.all(
      this.children.map((c) =>
        ask<{ sent: boolean }>(c, { type: 'health', cluster, appId, degraded }, 'health-sent'),
      ),
    );
    return answers.some((a) => a.sent);
  }

  stop(): void {
    for (const c of this.children) {
      if (c.connected) c.send({ type: 'stop' });
      setTimeout(() => c.kill('SIGKILL'), 3000).unref();
    }
  }
}

export function ask<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${reply} from a simulator`)), 60_000);
    const on = (m: { type: string }) => {
      if (m.type !== reply) return;
      clearTimeout(t);
      child.off('message', on);
      resolve(m as T);
    };
    child.on('message', on);
    child.send(msg);
  });
}
