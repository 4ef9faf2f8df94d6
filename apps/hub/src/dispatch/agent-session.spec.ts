import { EventEmitter } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type {
  ClusterInfo,
  AgentMessage,
  Deploy,
  HubMessage,
} from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { DeliveryRow } from '../applications/targets.repository.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ProjectGate } from '../projects/project-gate.js';
import { ProjectPolicy } from '../projects/project-policy.js';
import { AgentSession, HUB_FEATURES, ProtocolError, type SessionHost } from './agent-session.js';
import type { StatusWriter } from './status-writer.js';

const CLUSTER = '00000000-0000-0000-0000-0000000000c1';
const id = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

/** A stand-in for the gRPC stream: records what the hub writes. */
class FakeCall extends EventEmitter {
  written: HubMessage[] = [];
  write(m: HubMessage): boolean {
    this.written.push(m);
    return true;
  }
  deploys(): Deploy[] {
    return this.written.flatMap((m) => (m.msg?.$case === 'deploy' ? [m.msg.value] : []));
  }
}

class FakeHost implements SessionHost {
  requests: boolean[] = [];
  raised: [string, number][] = [];
  /** Whether the target is still as read when raised (false: a batch changed it meanwhile). */
  unchanged = true;
  request(_s: AgentSession, full: boolean) {
    this.requests.push(full);
  }
  raiseGeneration(_s: AgentSession, row: DeliveryRow, generation: number) {
    if (this.unchanged) this.raised.push([row.appId, generation]);
    return Promise.resolve(this.unchanged);
  }
  infos: ClusterInfo[] = [];
  clusterInfo(_s: AgentSession, info: ClusterInfo) {
    this.infos.push(info);
  }
  removedApps: string[] = [];
  removed(_s: AgentSession, appIds: string[]) {
    this.removedApps.push(...appIds);
    written.push(`removed ${appIds.join(',')}`);
  }
}

/** What the writer was given and when it wrote it (a flush), in order. */
const written: string[] = [];
const writer = {
  status: () => undefined,
  ack: () => undefined,
  event: (es: { appId: string; reason: string }[]) =>
    es.forEach((e) => written.push(`event ${e.reason} ${e.appId}`)),
  agentSeen: () => undefined,
  flush: () => {
    written.push('flush');
    return Promise.resolve();
  },
} as unknown as StatusWriter;

const metrics = new MetricsService(
  { fleetCounts: () => Promise.resolve([]) } as never,
  { countByConnection: () => Promise.resolve([]) } as never,
  { depth: () => Promise.resolve({}) } as never,
  { countByStatus: () => Promise.resolve([]) } as never,
);

function session() {
  const call = new FakeCall();
  const host = new FakeHost();
  const s = new AgentSession(
    CLUSTER,
    'east',
    call as unknown as ServerDuplexStream<AgentMessage, HubMessage>,
    { writer, metrics, host, heartbeatSeconds: 15 },
  );
  return { s, call, host };
}

const row = (n: number, generation: number, hash: string): DeliveryRow => ({
  appId: id(n),
  appName: `app-${n}`,
  clusterId: CLUSTER,
  generation,
  bundleHash: hash,
  revision: 'abc',
  namespace: `ns-${n}`,
  policy: { automated: true, prune: false, selfHeal: false },
  project: 'default',
  repoURL: 'https://git.example.com/team-a/fleet.git',
});

const ctx = {
  gate: new ProjectGate(
    new Map([
      [
        'default',
        new ProjectPolicy('default', { sourceRepos: ['*'], destinations: [{ namespace: '*' }] }),
      ],
    ]),
  ),
  labels: {},
  resources: new Map(),
  bundle: (h: string) => Promise.resolve(Buffer.from(`gzip of ${h}`)),
};

/** The delivery context with the `default` project as `policy` says. */
const withProject = (policy: ConstructorParameters<typeof ProjectPolicy>[1]) => ({
  ...ctx,
  gate: new ProjectGate(new Map([['default', new ProjectPolicy('default', policy)]])),
});

const hello = (inventory: { appId: string; generation: number; bundleHash: string }[] = []) =>
  ({
    msg: { $case: 'hello', value: { cluster: 'east', agentVersion: 'test', inventory } },
  }) as AgentMessage;

describe('AgentSession', () => {
  it('welcomes with the features it understands, then asks for a full delivery', async () => {
    const { s, call, host } = session();
    await s.handle(hello());
    expect(call.written[0].msg).toMatchObject({
      $case: 'welcome',
      value: { cluster: 'east', features: HUB_FEATURES },
    });
    expect(host.requests).toEqual([true]);
    expect(HUB_FEATURES).toEqual(['need-bundle', 'cluster-info']);
  });

  it('hands what the cluster serves to the dispatcher, and refuses an unbounded report', async () => {
    const { s, host } = session();
    const info = { kubeVersion: 'v1.34.2', apiVersions: ['v1', 'v1/Pod'] };
    await expect(s.handle({ msg: { $case: 'clusterInfo', value: info } })).rejects.toThrow(
      /first message must be Hello/,
    );
    await s.handle(hello());
    await s.handle({ msg: { $case: 'clusterInfo', value: info } });
    expect(host.infos).toEqual([info]);
    const huge = {
      kubeVersion: 'v1.34.2',
      apiVersions: Array.from({ length: 100_001 }, () => 'v1'),
    };
    await expect(s.handle({ msg: { $case: 'clusterInfo', value: huge } })).rejects.toThrow(
      ProtocolError,
    );
    expect(host.infos).toHaveLength(1);
  });

  it('refuses anything before Hello, and a Hello for another cluster', async () => {
    const { s } = session();
    await expect(
      s.handle({ msg: { $case: 'heartbeat', value: { sentAtUnixMs: 1 } } }),
    ).rejects.toBeInstanceOf(ProtocolError);
    await expect(
      s.handle({
        msg: { $case: 'hello', value: { cluster: 'west', agentVersion: '', inventory: [] } },
      }),
    ).rejects.toThrow(/belongs to cluster "east"/);
  });

  it('sends a bundle the agent holds by hash alone, and its bytes otherwise', async () => {
    const { s, call } = session();
    // The agent holds app 1 with bundle H.
    await s.handle(hello([{ appId: id(1), generation: 1, bundleHash: 'sha256:H' }]));
    await s.deliver(
      [row(1, 1, 'sha256:H'), row(2, 1, 'sha256:H'), row(3, 1, 'sha256:K'), row(4, 1, 'sha256:K')],
      new Map(),
      true,
      ctx,
    );
    const deploys = call.deploys();
    // App 1 is held already: not sent. App 2 shares its bundle: hash only. App 3's bundle is
    // new: bytes. App 4 comes after app 3 on the same stream: hash only.
    expect(deploys.map((d) => [d.appName, d.bundleGzip.length > 0])).toEqual([
      ['app-2', false],
      ['app-3', true],
      ['app-4', false],
    ]);
  });

  it('sends the bytes again once no application on the agent references the bundle', async () => {
    const { s, call } = session();
    await s.handle(hello([{ appId: id(1), generation: 1, bundleHash: 'sha256:H' }]));
    // App 1 goes away (removal note, prune): its bundle may be deleted by the agent.
    await s.deliver([], new Map([[id(1), { prune: true, held: false }]]), false, ctx);
    expect(call.written.at(-1)?.msg).toMatchObject({
      $case: 'remove',
      value: { appId: id(1), prune: true },
    });
    await s.deliver([row(2, 1, 'sha256:H')], new Map(), false, ctx);
    expect(call.deploys().at(-1)).toMatchObject({ appName: 'app-2' });
    expect(call.deploys().at(-1)!.bundleGzip.length).toBeGreaterThan(0);
  });

  it('holds a removal back while applications that depended on it are removed first', async () => {
    const { s, call, host } = session();
    await s.handle(
      hello([
        { appId: id(1), generation: 1, bundleHash: 'sha256:H' },
        { appId: id(2), generation: 1, bundleHash: 'sha256:H' },
      ]),
    );
    const notes = new Map([
      [id(1), { prune: true, held: true }],
      [id(2), { prune: true, held: false }],
    ]);
    // Neither a pending nor a full delivery removes the held one.
    await s.deliver([], notes, false, ctx);
    await s.deliver([], notes, true, ctx);
    const removes = () =>
      call.written.flatMap((m) => (m.msg?.$case === 'remove' ? [m.msg.value.appId] : []));
    expect(removes()).toEqual([id(2)]);
    // The agent reports app 2 removed: the dispatcher hears of it.
    await s.handle({
      msg: {
        $case: 'events',
        value: {
          dropped: 0,
          events: [
            {
              appId: id(2),
              atUnixMs: 1,
              type: 'Normal',
              reason: 'Removed',
              message: 'app-2 removed with its resources',
              generation: 1,
              offline: false,
            },
          ],
        },
      },
    });
    await new Promise((r) => setImmediate(r));
    expect(host.removedApps).toEqual([id(2)]);
    // Its events written first: once the note is gone, they would no longer be taken.
    expect(written.slice(-3)).toEqual([`event Removed ${id(2)}`, 'flush', `removed ${id(2)}`]);
    await s.deliver([], new Map([[id(1), { prune: true, held: false }]]), false, ctx);
    expect(removes()).toEqual([id(2), id(1)]);
  });

  it('sends a generation once until acknowledged, and past a newer one the agent holds', async () => {
    const { s, call, host } = session();
    await s.handle(hello([{ appId: id(1), generation: 7, bundleHash: 'sha256:old' }]));
    await s.deliver([row(1, 3, 'sha256:new')], new Map(), true, ctx);
    expect(host.raised).toEqual([[id(1), 8]]);
    expect(call.deploys()[0]).toMatchObject({ generation: 8 });
    // The next round reads the target as raised.
    await s.deliver([row(1, 8, 'sha256:new')], new Map(), false, ctx);
    expect(call.deploys()).toHaveLength(1);
  });

  it('delivers a target removed and added again before it saw the removal (back at generation 1)', async () => {
    const { s, call, host } = session();
    await s.handle(hello());
    await s.deliver([row(1, 5, 'sha256:A')], new Map(), true, ctx);
    expect(call.deploys().map((d) => d.generation)).toEqual([5]);
    // Its cluster left the application's destinations and came back: a new target, new content.
    await s.deliver([row(1, 1, 'sha256:B')], new Map(), false, ctx);
    expect(host.raised).toEqual([[id(1), 6]]);
    expect(call.deploys().map((d) => [d.generation, d.bundleHash])).toEqual([
      [5, 'sha256:A'],
      [6, 'sha256:B'],
    ]);
  });

  it('does not send content past a newer generation the agent holds when a batch changed it meanwhile', async () => {
    const { s, call, host } = session();
    await s.handle(hello([{ appId: id(1), generation: 7, bundleHash: 'sha256:old' }]));
    host.unchanged = false;
    const before = host.requests.length;
    await s.deliver([row(1, 3, 'sha256:C3')], new Map(), true, ctx);
    expect(call.deploys()).toEqual([]);
    // Read again in a round of its own (no notice comes when another replica's session raised it).
    expect(host.requests.slice(before)).toEqual([false]);
  });

  it('sends a bundle again when the agent lost it for a generation it holds', async () => {
    const { s, call, host } = session();
    await s.handle(hello([{ appId: id(1), generation: 1, bundleHash: 'sha256:H' }]));
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), true, ctx);
    expect(call.deploys()).toEqual([]);
    await s.handle({
      msg: { $case: 'needBundle', value: { appId: id(1), generation: 1, bundleHash: 'sha256:H' } },
    });
    expect(host.requests.at(-1)).toBe(true);
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), true, ctx);
    expect(call.deploys()).toHaveLength(1);
    expect(call.deploys()[0]).toMatchObject({ generation: 1 });
    expect(call.deploys()[0].bundleGzip.length).toBeGreaterThan(0);
  });

  it('resends with the bytes when the agent says it lacks a bundle', async () => {
    const { s, call, host } = session();
    await s.handle(hello([{ appId: id(1), generation: 1, bundleHash: 'sha256:H' }]));
    await s.deliver([row(1, 1, 'sha256:H'), row(2, 1, 'sha256:H')], new Map(), true, ctx);
    expect(call.deploys()).toHaveLength(1);
    expect(call.deploys()[0].bundleGzip.length).toBe(0);
    await s.handle({
      msg: {
        $case: 'needBundle',
        value: { appId: id(2), generation: 1, bundleHash: 'sha256:H' },
      },
    });
    expect(host.requests.at(-1)).toBe(true);
    await s.deliver([row(1, 1, 'sha256:H'), row(2, 1, 'sha256:H')], new Map(), true, ctx);
    expect(call.deploys()).toHaveLength(2);
    expect(call.deploys()[1]).toMatchObject({ appName: 'app-2' });
    expect(call.deploys()[1].bundleGzip.length).toBeGreaterThan(0);
  });

  it("sends no Deploy unbounded: a policy stored before the project's bound gets it as it is now", async () => {
    const { s, call } = session();
    await s.handle(hello());
    const bounded = withProject({
      sourceRepos: ['*'],
      destinations: [{ namespace: 'ns-*' }],
      clusterKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }],
    });
    const stored = { ...row(2, 1, 'sha256:H') };
    stored.policy = { ...stored.policy, clusterKinds: { items: [] } };
    await s.deliver([row(1, 1, 'sha256:H'), stored], new Map(), true, bounded);
    // Unbounded project: nothing added.
    await s.deliver([row(3, 1, 'sha256:H')], new Map(), true, ctx);
    expect(call.deploys().map((d) => d.syncPolicy?.clusterKinds)).toEqual([
      { items: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }] },
      { items: [] },
      undefined,
    ]);
  });

  it('withholds what the project no longer allows, right before dispatch', async () => {
    const { s, call } = session();
    await s.handle(hello());
    const narrow = withProject({ sourceRepos: ['*'], destinations: [{ namespace: 'ok' }] });
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), true, narrow);
    expect(call.deploys()).toEqual([]);
    // Its source repository no longer allowed (sourceRepos narrowed since it was rendered).
    const otherRepos = withProject({
      sourceRepos: ['https://git.example.com/team-b/*'],
      destinations: [{ namespace: '*' }],
    });
    await s.deliver([row(2, 1, 'sha256:H')], new Map(), true, otherRepos);
    expect(call.deploys()).toEqual([]);
    expect(s.hasRefused).toBe(true);
  });

  it('sends what the project refused once the project allows it, and says the refusal once', async () => {
    const { s, call } = session();
    await s.handle(hello());
    const refused = () => metrics.dispatchRefused.get().then((m) => m.values.at(-1)?.value ?? 0);
    const narrow = withProject({ sourceRepos: ['*'], destinations: [{ namespace: 'ok' }] });
    const counted = await refused();
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), false, narrow);
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), false, narrow);
    expect(await refused()).toBe(counted + 1);
    expect(s.hasRefused).toBe(true);
    // The project put right: the dispatcher's recheck asks for a round, which sends it.
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), false, ctx);
    expect(call.deploys()).toMatchObject([{ appName: 'app-1', generation: 1 }]);
    expect(s.hasRefused).toBe(false);
  });

  it('forgets a refusal of an application no longer desired on its cluster', async () => {
    const { s } = session();
    await s.handle(hello());
    const none = withProject({ sourceRepos: [], destinations: [] });
    await s.deliver([row(1, 1, 'sha256:H')], new Map(), true, none);
    expect(s.hasRefused).toBe(true);
    await s.deliver([], new Map(), true, ctx);
    expect(s.hasRefused).toBe(false);
  });
});
