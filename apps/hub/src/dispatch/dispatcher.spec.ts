import { EventEmitter } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  AgentMessage,
  Deploy,
  HubMessage,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { DeliveryRow, TargetsRepository } from '../applications/targets.repository.js';
import type { ClustersRepository } from '../clusters/clusters.repository.js';
import type { ClustersService } from '../clusters/clusters.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProjectGate } from '../projects/project-gate.js';
import { ProjectPolicy } from '../projects/project-policy.js';
import type { ProjectsService } from '../projects/projects.service.js';
import type { BundleStore } from '../render/bundle.store.js';
import { AgentSession } from './agent-session.js';
import type { DispatchNotifier } from './dispatch.notifier.js';
import { Dispatcher } from './dispatcher.js';
import type { StatusWriter } from './status-writer.js';

const A = '00000000-0000-0000-0000-0000000000ca';
const B = '00000000-0000-0000-0000-0000000000cb';
const id = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

/**
 * A stand-in for the gRPC stream. Once `stuck`, it takes messages but reports its buffer full and
 * never drains: an agent that stopped reading.
 */
class FakeCall extends EventEmitter {
  written: HubMessage[] = [];
  stuck = false;
  write(m: HubMessage): boolean {
    this.written.push(m);
    return !this.stuck;
  }
  deploys(): Deploy[] {
    return this.written.flatMap((m) => (m.msg?.$case === 'deploy' ? [m.msg.value] : []));
  }
}

const row = (cluster: string, n: number, generation: number): DeliveryRow => ({
  appId: id(n),
  appName: `app-${n}`,
  clusterId: cluster,
  generation,
  bundleHash: `sha256:${n}-${generation}`,
  revision: 'abc',
  namespace: `ns-${n}`,
  policy: { automated: true, prune: false, selfHeal: false },
  project: 'default',
  repoURL: 'https://git.example.com/fleet.git',
});

const metrics = new MetricsService(
  { fleetCounts: () => Promise.resolve([]) } as never,
  { countByConnection: () => Promise.resolve([]) } as never,
  { depth: () => Promise.resolve({}) } as never,
  { countByStatus: () => Promise.resolve([]) } as never,
);

/**
 * A dispatcher over desired state held in `desired` (what the targets table would hold). The
 * first `failures.rows` reads of targets, `failures.gate` reads of projects and `failures.bundles`
 * reads of a bundle's bytes fail; a bundle read first waits for `bundleRead` when given.
 */
function fleet(
  fail: Partial<Record<'rows' | 'gate' | 'bundles', number>> = {},
  bundleRead?: () => Promise<void>,
) {
  const failures = { rows: 0, gate: 0, bundles: 0, ...fail };
  const desired = new Map<string, DeliveryRow>();
  const rowsOf = (ids: string[]) =>
    failures.rows-- > 0
      ? Promise.reject(new Error('connection terminated'))
      : Promise.resolve([...desired.values()].filter((r) => ids.includes(r.clusterId)));
  const targets = {
    readSnapshot: <T>(read: (db: unknown) => Promise<T>) => read(undefined),
    forgetRemovalNotes: () => Promise.resolve(),
    allFor: rowsOf,
    pendingFor: rowsOf,
    removalNotes: () => Promise.resolve([]),
  } as unknown as TargetsRepository;
  const clusters = {
    byIds: (ids: string[]) => Promise.resolve(ids.map((i) => ({ id: i, name: i, labels: {} }))),
  } as unknown as ClustersRepository;
  const gate = new ProjectGate(
    new Map([
      [
        'default',
        new ProjectPolicy('default', { sourceRepos: ['*'], destinations: [{ namespace: '*' }] }),
      ],
    ]),
  );
  const projects = {
    gate: () =>
      failures.gate-- > 0
        ? Promise.reject(new Error('connection terminated'))
        : Promise.resolve(gate),
  } as unknown as ProjectsService;
  const bundles = {
    resourcesOf: () => Promise.resolve(new Map()),
    getCompressed: async (h: string) => {
      await bundleRead?.();
      if (failures.bundles-- > 0) throw new Error('connection terminated');
      return Buffer.from(`gzip of ${h}`);
    },
  } as unknown as BundleStore;
  const notifier = { notify: () => undefined } as unknown as DispatchNotifier;
  const inventory = {
    recordCapabilities: () => Promise.resolve(false),
  } as unknown as ClustersService;
  const dispatcher = new Dispatcher(
    targets,
    clusters,
    inventory,
    projects,
    bundles,
    metrics,
    notifier,
  );
  const writer = {
    status: () => undefined,
    ack: () => undefined,
    event: () => undefined,
    agentSeen: () => undefined,
  } as unknown as StatusWriter;
  const connect = async (cluster: string) => {
    const call = new FakeCall();
    const s = new AgentSession(
      cluster,
      cluster,
      call as unknown as ServerDuplexStream<AgentMessage, HubMessage>,
      { writer, metrics, host: dispatcher, heartbeatSeconds: 15 },
    );
    dispatcher.add(s);
    await s.handle({
      msg: { $case: 'hello', value: { cluster, agentVersion: 'test', inventory: [] } },
    });
    return { s, call };
  };
  const set = (r: DeliveryRow) => desired.set(`${r.clusterId}/${r.appId}`, r);
  return { dispatcher, connect, set };
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`not within 2 s: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('Dispatcher', () => {
  // Failed rounds and deliveries are logged as errors: kept quiet, and counted where it matters.
  let error: ReturnType<typeof vi.spyOn>;
  beforeEach(() => {
    error = vi.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });
  afterEach(() => error.mockRestore());

  it('keeps delivering to every other cluster while one agent reads nothing', async () => {
    const { dispatcher, connect, set } = fleet();
    set(row(A, 1, 1));
    set(row(A, 2, 1));
    set(row(B, 3, 1));
    const a = await connect(A);
    a.call.stuck = true; // A's agent stops reading after its Welcome
    const b = await connect(B);
    await until(() => b.call.deploys().length === 1, 'B gets its first deploy');
    // A took one deploy and waits for a drain that never comes.
    expect(a.call.deploys().map((d) => d.appName)).toEqual(['app-1']);

    // A commit for both clusters: B gets it, A's stuck stream holds back nobody else.
    set(row(A, 1, 2));
    set(row(B, 3, 2));
    dispatcher.notified([A, B]);
    await until(() => b.call.deploys().length === 2, 'B gets the second commit');
    expect(b.call.deploys().map((d) => d.generation)).toEqual([1, 2]);
    expect(a.call.deploys()).toHaveLength(1);

    // A's stream ends (its keepalive failed): its delivery ends too, and nothing waits on it.
    a.s.ended();
    await dispatcher.idle();
    expect(a.call.deploys()).toHaveLength(1);
  });

  it('delivers what a busy session was notified of once its earlier delivery is written', async () => {
    const { dispatcher, connect, set } = fleet();
    set(row(A, 1, 1));
    const a = await connect(A);
    a.call.stuck = true;
    await until(() => a.call.deploys().length === 1, 'A gets its first deploy');
    set(row(A, 1, 2));
    dispatcher.notified([A]);
    await new Promise((r) => setTimeout(r, 50));
    expect(a.call.deploys()).toHaveLength(1); // still writing the first
    a.call.stuck = false;
    a.call.emit('drain');
    await until(() => a.call.deploys().length === 2, 'A gets the second generation');
    expect(a.call.deploys().map((d) => d.generation)).toEqual([1, 2]);
    await dispatcher.idle();
  });

  it('delivers after the database failed to answer a round (targets, then projects)', async () => {
    // Round 1: targets and projects fail; round 2: projects alone; round 3 delivers.
    const { dispatcher, connect, set } = fleet({ rows: 1, gate: 2 });
    set(row(A, 1, 1));
    const a = await connect(A);
    await until(() => a.call.deploys().length === 1, 'A gets its deploy after the blips');
    expect(error).toHaveBeenCalledTimes(2);
    await dispatcher.idle();
  });

  it('delivers again, after a backoff, what a session failed to deliver', async () => {
    const { dispatcher, connect, set } = fleet({ bundles: 1 });
    set(row(A, 1, 1));
    const a = await connect(A);
    await until(() => a.call.deploys().length === 1, 'A gets its deploy on the second try');
    expect(error).toHaveBeenCalledWith(expect.stringContaining('delivery failed (again in 0.5 s)'));
    await dispatcher.idle();
  });

  it('forgets a failed delivery of a stream that ended meanwhile', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const { dispatcher, connect, set } = fleet({ bundles: 1 }, () => held);
    set(row(A, 1, 1));
    const a = await connect(A);
    await new Promise((r) => setTimeout(r, 20)); // the delivery waits on the bundle's bytes
    a.s.ended(); // the stream ends (as the gateway ends it), then the read fails
    dispatcher.remove(a.s);
    release();
    await dispatcher.idle();
    await new Promise((r) => setTimeout(r, 20));
    expect(error).not.toHaveBeenCalledWith(expect.stringContaining('delivery failed (again'));
    // Nothing keeps the ended session (and its call) for a retry that will never run.
    const failed = (dispatcher as unknown as { failedDeliveries: Map<unknown, number> })
      .failedDeliveries;
    expect(failed.size).toBe(0);
  });
});
