import { describe, expect, it } from 'vitest';
import type { AppForReconcile } from '../applications/applications.repository.js';
import type { ApplicationSpec } from '../applications/application.schemas.js';
import { parseCapabilities, type Capabilities } from '../clusters/capabilities.js';
import type { DesiredTarget } from '../applications/targets.repository.js';
import type { ChildrenPlan } from '../applications/child-apps.js';
import type { ClusterRef } from '../clusters/clusters.repository.js';
import { ProjectGate } from '../projects/project-gate.js';
import { ProjectPolicy, type ResourceRef } from '../projects/project-policy.js';
import type { Rendered, RenderRequest } from '../render/render.service.js';
import type { WorkItem } from '../work/work.repository.js';
import {
  BatchReconciler,
  sourceRetryDelaySeconds,
  type BatchOutcome,
  type ReconcilePorts,
} from './batch-reconciler.js';
import { toSyncPolicy } from './sync-policy.js';

const REPO = 'https://git.example/fleet.git';
const C1 = '00000000-0000-0000-0000-00000000c001';
const C2 = '00000000-0000-0000-0000-00000000c002';
const CLUSTERS: ClusterRef[] = [
  { id: C1, name: 'east', labels: { env: 'prod' } },
  { id: C2, name: 'west', labels: { env: 'dev' } },
];

const APPLICATION_REF: ResourceRef = {
  group: 'argoproj.io',
  kind: 'Application',
  namespace: 'argocd',
  name: 'child',
};

const id = (n: number) => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;

function app(
  n: number,
  over: Partial<ApplicationSpec['source']> = {},
  dest: Partial<ApplicationSpec['destination']> = {},
  project = 'default',
): AppForReconcile {
  return {
    id: id(n),
    name: `app-${n}`,
    spec: {
      project,
      source: { repoURL: REPO, targetRevision: 'main', path: 'apps/web', ...over },
      destination: { clusters: ['east', 'west'], namespace: `ns-${n}`, ...dest },
      syncPolicy: { automated: { prune: true, selfHeal: false } },
    },
    specVersion: 1,
    renderedRevision: null,
    renderedBundleHash: null,
    renderedSpecVersion: null,
    renderedTool: null,
    renderedUnpinned: false,
    renderedCapabilities: '',
    conditions: [],
    autoSyncSuspended: false,
  };
}

const item = (a: AppForReconcile, attempts = 1): WorkItem => ({
  key: a.id,
  dirty: 1,
  reason: 'test',
  attempts,
});

/** In-memory ports: what the reconciler asked for, and what it would have written. */
class FakePorts implements ReconcilePorts {
  apps = new Map<string, AppForReconcile>();
  targets: DesiredTarget[] = [];
  commits: string[] = ['c0ffee'.padEnd(40, '0')];
  resolveCalls: { url: string; revision: string }[][] = [];
  renderCalls: RenderRequest[][] = [];
  committed: BatchOutcome[] = [];
  brokenPaths = new Set<string>();
  brokenRepos = new Set<string>();
  /** Paths whose renders float (Helm dependencies by a range, no lock file), and their output. */
  floating = new Map<string, string>();
  resources: ResourceRef[] = [{ group: '', kind: 'ConfigMap', namespace: '', name: 'cfg' }];
  policies = new Map([
    [
      'default',
      new ProjectPolicy('default', { sourceRepos: ['*'], destinations: [{ namespace: '*' }] }),
    ],
  ]);
  warnings: string[] = [];

  loadApps(ids: string[]) {
    return Promise.resolve(ids.flatMap((i) => this.apps.get(i) ?? []));
  }
  resolve(pairs: { url: string; revision: string }[]) {
    this.resolveCalls.push(pairs);
    return Promise.resolve(
      pairs.map((p) =>
        this.brokenRepos.has(p.url) ? new Error(`fetching ${p.url} failed`) : this.commits[0],
      ),
    );
  }
  render(reqs: RenderRequest[]): Promise<(Rendered | Error)[]> {
    this.renderCalls.push(reqs);
    return Promise.resolve(
      reqs.map((r) =>
        this.brokenPaths.has(r.spec.source.path)
          ? new Error(`invalid YAML in ${r.spec.source.path}/cm.yaml line 3`)
          : this.floating.has(r.spec.source.path)
            ? {
                hash: this.floating.get(r.spec.source.path)!,
                tool: 'helm' as const,
                unpinned: true,
              }
            : { hash: `sha256:${r.spec.source.path}@${r.commit}`, tool: 'directory' as const },
      ),
    );
  }
  /** Capability sets by hash, and the set each cluster's agent reported (by cluster name). */
  sets = new Map<string, Capabilities>();
  clusterCaps = new Map<string, string>();
  capabilitiesCalls: string[][] = [];
  clustersByName(names: string[]) {
    return Promise.resolve(
      CLUSTERS.filter((c) => names.includes(c.name)).map((c) => ({
        ...c,
        capabilities: this.clusterCaps.get(c.name) ?? null,
      })),
    );
  }
  capabilities(hashes: string[]) {
    this.capabilitiesCalls.push(hashes);
    return Promise.resolve(
      new Map(hashes.flatMap((h) => (this.sets.has(h) ? [[h, this.sets.get(h)!] as const] : []))),
    );
  }
  gate() {
    return Promise.resolve(new ProjectGate(this.policies));
  }
  /** Paths whose bundles also hold an Argo CD Application (app of apps). */
  parentPaths = new Set<string>();
  bundleResources(hashes: string[]) {
    const parent = (h: string) => [...this.parentPaths].some((p) => h.includes(`:${p}@`));
    return Promise.resolve(
      new Map(
        hashes.map((h) => [h, parent(h) ? [...this.resources, APPLICATION_REF] : this.resources]),
      ),
    );
  }
  currentTargets(appIds: string[]) {
    return Promise.resolve(this.targets.filter((t) => appIds.includes(t.appId)));
  }
  /** The child applications of every bundle holding some (app of apps). */
  childPlan: ChildrenPlan | Error = { children: [], errors: [], stale: [], keep: [] };
  childPlanCalls: string[] = [];
  planChildren(parent: { id: string }) {
    this.childPlanCalls.push(parent.id);
    return this.childPlan instanceof Error
      ? Promise.reject(this.childPlan)
      : Promise.resolve(this.childPlan);
  }
  childWrites: Parameters<ReconcilePorts['writeChildren']>[] = [];
  writeChildren(...args: Parameters<ReconcilePorts['writeChildren']>) {
    this.childWrites.push(args);
    return Promise.resolve();
  }
  commit(o: BatchOutcome) {
    this.committed.push(o);
    // What the repositories would do: store the targets and the renders.
    for (const u of o.upserts) {
      this.targets = this.targets.filter(
        (t) => !(t.appId === u.appId && t.clusterId === u.clusterId),
      );
      this.targets.push(u);
    }
    this.targets = this.targets.filter(
      (t) => !o.removals.some((r) => r.appId === t.appId && r.clusterId === t.clusterId),
    );
    for (const a of o.appRevisions) this.apps.get(a.id)!.renderedRevision = a.revision;
    for (const a of o.apps) {
      const stored = this.apps.get(a.id)!;
      stored.conditions = a.conditions;
      if (a.rendered) {
        stored.renderedRevision = a.rendered.revision;
        stored.renderedBundleHash = a.rendered.bundleHash;
        stored.renderedSpecVersion = a.specVersion;
        stored.renderedUnpinned = a.rendered.unpinned === true;
        stored.renderedTool = a.rendered.tool;
        stored.renderedCapabilities = a.rendered.capabilities ?? '';
      }
    }
    return Promise.resolve({
      changed: o.upserts.length,
      clusters: new Set(o.upserts.map((u) => u.clusterId)).size,
      lost: 0,
    });
  }
  warn(app: string, type: string, message: string) {
    this.warnings.push(`${app}: ${type}: ${message}`);
  }
  add(...apps: AppForReconcile[]) {
    for (const a of apps) this.apps.set(a.id, a);
    return apps;
  }
}

const lease = { owner: 'replica-a', lost: false };

describe('BatchReconciler', () => {
  it('reconciles a batch as one unit: one resolve call, one render call, targets for every app × cluster', async () => {
    const ports = new FakePorts();
    const apps = ports.add(...Array.from({ length: 6 }, (_, i) => app(i)));
    const r = await new BatchReconciler(ports, 'replica-a').run(
      apps.map((a) => item(a)),
      lease,
    );
    expect(ports.resolveCalls).toHaveLength(1);
    expect(ports.resolveCalls[0]).toHaveLength(6);
    expect(ports.renderCalls).toHaveLength(1);
    expect(r).toMatchObject({ apps: 6, failed: 0, rendered: 6, changed: 12 });
    const o = ports.committed[0];
    expect(o.upserts).toHaveLength(12);
    expect(o.upserts[0]).toMatchObject({
      bundleHash: `sha256:apps/web@${ports.commits[0]}`,
      revision: ports.commits[0],
      policy: toSyncPolicy(apps[0].spec),
    });
    expect(o.history).toHaveLength(6);
    expect(o.done).toHaveLength(6);
  });

  it('does not ask git for the revision of a Helm chart (its version is its revision)', async () => {
    const ports = new FakePorts();
    const chartRepo = 'https://charts.example.com';
    ports.brokenRepos.add(chartRepo); // no git repository there
    const apps = ports.add(
      app(1),
      app(2, { repoURL: chartRepo, chart: 'web', targetRevision: '1.2.3', path: undefined }),
    );
    const r = await new BatchReconciler(ports, 'replica-a').run(
      apps.map((a) => item(a)),
      lease,
    );
    expect(ports.resolveCalls).toEqual([[{ url: REPO, revision: 'main' }]]);
    expect(r).toMatchObject({ apps: 2, failed: 0 });
    expect(ports.renderCalls[0].map((q) => q.commit).sort()).toEqual(
      [ports.commits[0], 'chart:web@1.2.3'].sort(),
    );
  });

  it('does nothing for applications already at this commit and spec', async () => {
    const ports = new FakePorts();
    const apps = ports.add(app(1), app(2));
    const rec = new BatchReconciler(ports, 'replica-a');
    await rec.run(
      apps.map((a) => item(a)),
      lease,
    );
    const r = await rec.run(
      apps.map((a) => item(a)),
      lease,
    );
    expect(ports.renderCalls[1]).toEqual([]); // nothing to render again
    expect(r.changed).toBe(0);
    const o = ports.committed[1];
    expect(o.upserts).toEqual([]);
    expect(o.apps).toEqual([]); // nothing to store either
    expect(o.history).toEqual([]);
    expect(o.done).toHaveLength(2);
  });

  it('renders again, at the same commit, an application whose render floats (Helm dependencies by a range)', async () => {
    const ports = new FakePorts();
    const [fixed, floating] = ports.add(app(1), app(2, { path: 'charts/umbrella' }));
    ports.floating.set('charts/umbrella', 'sha256:dep-1.2.4');
    const rec = new BatchReconciler(ports, 'replica-a');
    await rec.run([item(fixed), item(floating)], lease);
    expect(ports.apps.get(floating.id)!.renderedUnpinned).toBe(true);
    // A newer release in the range: the same commit renders to another bundle, and it goes out.
    ports.floating.set('charts/umbrella', 'sha256:dep-1.2.5');
    const r = await rec.run([item(fixed), item(floating)], lease);
    expect(ports.renderCalls[1].map((q) => q.appName)).toEqual(['app-2']);
    expect(r.changed).toBe(2); // its two clusters
    expect(ports.targets.filter((t) => t.appId === floating.id).map((t) => t.bundleHash)).toEqual([
      'sha256:dep-1.2.5',
      'sha256:dep-1.2.5',
    ]);
    // Once it no longer floats (a lock file), it is kept like any other render.
    ports.floating.delete('charts/umbrella');
    await rec.run([item(floating)], lease);
    await rec.run([item(floating)], lease);
    expect(ports.renderCalls.slice(2).map((c) => c.length)).toEqual([1, 0]);
  });

  describe('cluster capabilities (Helm .Capabilities)', () => {
    const caps = (kubeVersion: string, apiVersions: string[]) =>
      parseCapabilities({ kubeVersion, apiVersions });
    /** Helm renders of charts/web, which depend on what they are rendered for. */
    function helmPorts(): FakePorts {
      const ports = new FakePorts();
      ports.render = (reqs: RenderRequest[]) => {
        ports.renderCalls.push(reqs);
        return Promise.resolve(
          reqs.map((r) => ({
            hash: `sha256:${r.spec.source.path}@${r.commit}#${r.capabilities?.kubeVersion ?? '-'}`,
            tool: r.spec.source.path === 'charts/web' ? ('helm' as const) : ('directory' as const),
          })),
        );
      };
      return ports;
    }

    it('renders a chart for what its cluster serves, and again when that changes', async () => {
      const ports = helmPorts();
      const v34 = caps('v1.34.2', ['v1', 'apps/v1', 'monitoring.coreos.com/v1/ServiceMonitor']);
      ports.sets.set(v34.hash, v34);
      ports.clusterCaps.set('east', v34.hash);
      const [chart, plain] = ports.add(
        app(1, { path: 'charts/web' }, { clusters: ['east'] }),
        app(2, { path: 'apps/web' }, { clusters: ['east'] }),
      );
      const rec = new BatchReconciler(ports, 'replica-a');
      await rec.run([item(chart), item(plain)], lease);
      expect(ports.renderCalls[0].map((q) => q.capabilities)).toEqual([v34, v34]);
      expect(ports.apps.get(chart.id)!.renderedCapabilities).toBe(v34.hash);
      expect(ports.targets.find((t) => t.appId === chart.id)!.bundleHash).toMatch(/#v1\.34\.2$/);

      // Unchanged: nothing renders again.
      await rec.run([item(chart), item(plain)], lease);
      expect(ports.renderCalls[1]).toEqual([]);

      // The cluster's agent reports another set: the chart renders again for it and goes out; the
      // plain directory does not depend on it and is left alone.
      const v35 = caps('v1.35.0', v34.apiVersions);
      ports.sets.set(v35.hash, v35);
      ports.clusterCaps.set('east', v35.hash);
      const r = await rec.run([item(chart), item(plain)], lease);
      expect(ports.renderCalls[2].map((q) => [q.appName, q.capabilities?.kubeVersion])).toEqual([
        ['app-1', 'v1.35.0'],
      ]);
      expect(r.changed).toBe(1);
      expect(ports.targets.find((t) => t.appId === chart.id)!.bundleHash).toMatch(/#v1\.35\.0$/);
      expect(ports.apps.get(chart.id)!.renderedCapabilities).toBe(v35.hash);
    });

    it('renders an application of several clusters for what all of them serve', async () => {
      const ports = helmPorts();
      const east = caps('v1.34.2', ['v1', 'apps/v1', 'monitoring.coreos.com/v1']);
      const west = caps('v1.31.0', ['v1', 'apps/v1']);
      ports.sets.set(east.hash, east).set(west.hash, west);
      ports.clusterCaps.set('east', east.hash).set('west', west.hash);
      const [chart] = ports.add(app(1, { path: 'charts/web' }));
      await new BatchReconciler(ports, 'replica-a').run([item(chart)], lease);
      expect(ports.capabilitiesCalls).toEqual([[east.hash, west.hash].sort()]);
      expect(ports.renderCalls[0][0].capabilities).toMatchObject({
        kubeVersion: 'v1.31.0',
        apiVersions: ['apps/v1', 'v1'],
      });
    });

    it('renders for the clusters that reported while another has not (a new cluster)', async () => {
      const ports = helmPorts();
      const east = caps('v1.34.2', ['v1', 'apps/v1', 'monitoring.coreos.com/v1']);
      ports.sets.set(east.hash, east);
      ports.clusterCaps.set('east', east.hash); // west: not reported yet
      const [chart] = ports.add(app(1, { path: 'charts/web' }));
      const rec = new BatchReconciler(ports, 'replica-a');
      await rec.run([item(chart)], lease);
      expect(ports.renderCalls[0][0].capabilities).toBe(east);
      // Once west reports, it renders for both.
      const west = caps('v1.33.0', ['v1', 'apps/v1']);
      ports.sets.set(west.hash, west);
      ports.clusterCaps.set('west', west.hash);
      await rec.run([item(chart)], lease);
      expect(ports.renderCalls[1][0].capabilities).toMatchObject({
        kubeVersion: 'v1.33.0',
        apiVersions: ['apps/v1', 'v1'],
      });
    });

    it('renders again a chart whose stored render does not say what it was rendered for', async () => {
      // Written by a hub of the version before during a rolling upgrade: not taken as current.
      const ports = helmPorts();
      const [chart] = ports.add(app(1, { path: 'charts/web' }, { clusters: ['east'] }));
      const rec = new BatchReconciler(ports, 'replica-a');
      await rec.run([item(chart)], lease);
      await rec.run([item(chart)], lease);
      expect(ports.renderCalls.map((c) => c.length)).toEqual([1, 0]);
      ports.apps.get(chart.id)!.renderedCapabilities = null;
      await rec.run([item(chart)], lease);
      expect(ports.renderCalls.map((c) => c.length)).toEqual([1, 0, 1]);
      expect(ports.apps.get(chart.id)!.renderedCapabilities).toBe('');
    });

    it('renders without capabilities while no agent of its clusters has reported', async () => {
      const ports = helmPorts();
      const [chart] = ports.add(app(1, { path: 'charts/web' }));
      await new BatchReconciler(ports, 'replica-a').run([item(chart)], lease);
      expect(ports.renderCalls[0][0].capabilities).toBeUndefined();
      expect(ports.apps.get(chart.id)!.renderedCapabilities).toBe('');
    });
  });

  it('moves targets to a new commit without a new generation when their content is unchanged', async () => {
    const ports = new FakePorts();
    const apps = ports.add(app(1), app(2, { path: 'apps/api' }));
    // Renders of apps/web do not change between the commits; apps/api does.
    ports.render = (reqs: RenderRequest[]) => {
      ports.renderCalls.push(reqs);
      return Promise.resolve(
        reqs.map((r) => ({
          hash: r.spec.source.path === 'apps/web' ? 'sha256:web' : `sha256:api@${r.commit}`,
          tool: 'directory' as const,
        })),
      );
    };
    const rec = new BatchReconciler(ports, 'replica-a');
    await rec.run(
      apps.map((a) => item(a)),
      lease,
    );
    ports.commits = ['beef'.padEnd(40, '0')];
    await rec.run(
      apps.map((a) => item(a)),
      lease,
    );
    const o = ports.committed[1];
    expect(o.upserts.map((u) => u.appId)).toEqual([id(2), id(2)]);
    expect(o.history.map((h) => h.appId)).toEqual([id(2)]);
    // App 1's render moved to the commit on its own (no rewrite of its conditions).
    expect(o.appRevisions).toEqual([{ id: id(1), specVersion: 1, revision: ports.commits[0] }]);
    expect(o.apps.map((a) => a.id)).toEqual([id(2)]);
  });

  it('isolates a broken application: it keeps its last desired state and a condition, the others go out', async () => {
    const ports = new FakePorts();
    const [good, bad] = ports.add(app(1), app(2, { path: 'apps/broken' }));
    ports.brokenPaths.add('apps/broken');
    const r = await new BatchReconciler(ports, 'replica-a').run([item(good), item(bad)], lease);
    const o = ports.committed[0];
    expect(r.failed).toBe(1);
    expect(o.upserts.map((u) => u.appId)).toEqual([good.id, good.id]);
    const stored = o.apps.find((a) => a.id === bad.id)!;
    expect(stored.rendered).toBeUndefined();
    expect(stored.conditions[0]).toMatchObject({
      type: 'RenderError',
      message: 'invalid YAML in apps/broken/cm.yaml line 3',
    });
    expect(o.done.map((d) => d.key).sort()).toEqual([good.id, bad.id].sort());
    expect(ports.warnings).toEqual([
      'app-2: RenderError: invalid YAML in apps/broken/cm.yaml line 3',
    ]);
  });

  it('retries a source error later, with a growing delay, and records the condition', async () => {
    const ports = new FakePorts();
    const [a] = ports.add(app(1, { repoURL: 'https://down.example/x.git' }));
    ports.brokenRepos.add('https://down.example/x.git');
    await new BatchReconciler(ports, 'replica-a').run([item(a, 3)], lease);
    const o = ports.committed[0];
    expect(o.done).toEqual([]);
    expect(o.retry).toEqual([
      {
        item: item(a, 3),
        delaySeconds: sourceRetryDelaySeconds(3),
        error: 'fetching https://down.example/x.git failed',
      },
    ]);
    expect(o.apps[0].conditions[0].type).toBe('SourceError');
    expect(sourceRetryDelaySeconds(1)).toBeLessThan(sourceRetryDelaySeconds(4));
    expect(sourceRetryDelaySeconds(50)).toBe(300);
  });

  it('refuses what the project does not allow, checking each distinct combination once', async () => {
    const ports = new FakePorts();
    let checks = 0;
    const team = new ProjectPolicy('team', {
      sourceRepos: ['*'],
      destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: '*' }],
    });
    const check = team.checkDestination.bind(team);
    team.checkDestination = (...a) => {
      checks++;
      return check(...a);
    };
    ports.policies.set('team', team);
    const apps = ports.add(
      ...Array.from({ length: 20 }, (_, i) =>
        app(i, {}, { clusters: ['west'], namespace: 'shared' }, 'team'),
      ),
      app(99, {}, { clusters: ['east'], namespace: 'shared' }, 'team'),
    );
    const r = await new BatchReconciler(ports, 'replica-a').run(
      apps.map((a) => item(a)),
      lease,
    );
    expect(r.failed).toBe(1);
    expect(checks).toBe(2); // (team, west, shared) and (team, east, shared)
    const o = ports.committed[0];
    expect(o.upserts).toHaveLength(20);
    expect(o.apps.find((a) => a.id === id(99))?.conditions[0]).toMatchObject({
      type: 'ProjectViolation',
      message: 'project "team" does not allow namespace "shared" on cluster "east"',
    });
  });

  it("stores the project's bound on cluster-scoped kinds with the policy: a project change is a new generation", async () => {
    const ports = new FakePorts();
    const bounded = (kinds?: { group: string; kind: string }[]) =>
      new ProjectPolicy('team', {
        sourceRepos: ['*'],
        destinations: [{ namespace: 'ns-*' }],
        ...(kinds ? { clusterKinds: kinds } : {}),
      });
    ports.policies.set('team', bounded());
    const [a, b] = ports.add(app(1, {}, {}, 'team'), app(2));
    const run = () => new BatchReconciler(ports, 'replica-a').run([item(a), item(b)], lease);
    await run();
    const kindsOf = (o: BatchOutcome) =>
      o.upserts.map((u) => [u.appId, u.policy.clusterKinds?.items ?? null]);
    // Limited to some namespaces: no cluster-scoped kind; default (every namespace): unbounded.
    expect(kindsOf(ports.committed[0])).toEqual([
      [id(1), []],
      [id(1), []],
      [id(2), null],
      [id(2), null],
    ]);
    // The project lists a kind: at the same commit, its applications' targets change.
    ports.policies.set(
      'team',
      bounded([{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }]),
    );
    await run();
    expect(kindsOf(ports.committed[1])).toEqual([
      [id(1), [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }]],
      [id(1), [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }]],
    ]);
  });

  it('removes the targets of clusters dropped from the destinations, and notes unknown clusters', async () => {
    const ports = new FakePorts();
    const [a] = ports.add(app(1));
    const rec = new BatchReconciler(ports, 'replica-a');
    await rec.run([item(a)], lease);
    a.spec = { ...a.spec, destination: { clusters: ['west', 'nowhere'], namespace: 'ns-1' } };
    a.specVersion = 2;
    await rec.run([item(a)], lease);
    const o = ports.committed[1];
    expect(o.removals).toEqual([{ appId: a.id, clusterId: C1 }]);
    expect(o.apps[0].conditions[0]).toMatchObject({
      type: 'DestinationError',
      message: 'clusters not registered: nowhere',
    });
    expect(ports.targets.map((t) => t.clusterId)).toEqual([C2]);
  });

  it("leaves a person's prune confirmation where it is, and writes none into the automated generations after it", async () => {
    const ports = new FakePorts();
    const [a] = ports.add(app(1));
    const rec = new BatchReconciler(ports, 'replica-a');
    await rec.run([item(a)], lease);
    // `axle app sync app-1 --prune`: the same bundle, in a generation that confirms the prune.
    ports.targets = ports.targets.map((t) => ({
      ...t,
      policy: { ...t.policy, pruneConfirmed: true },
    }));
    // Reconciled again with nothing changed: no new generation only to drop the confirmation
    // (it would overtake the confirmed one before the agent pruned).
    await rec.run([item(a)], lease);
    expect(ports.committed[1].upserts).toEqual([]);
    // A new commit with new content: an automated generation, unconfirmed.
    ports.commits = ['d00d'.padEnd(40, '0')];
    await rec.run([item(a)], lease);
    expect(ports.committed[2].upserts).toHaveLength(2);
    for (const u of ports.committed[2].upserts) {
      expect(u.policy).toEqual(toSyncPolicy(a.spec));
      expect(u.policy.pruneConfirmed).toBeUndefined();
    }
  });

  it('records the render of an application without automated sync (or suspended) but dispatches nothing', async () => {
    const ports = new FakePorts();
    const manual = app(1);
    manual.spec.syncPolicy = {};
    const suspended = { ...app(2), autoSyncSuspended: true };
    const auto = app(3);
    ports.add(manual, suspended, auto);
    // The suspended app runs an older bundle on east, and the west target was dropped since.
    ports.targets.push({
      appId: suspended.id,
      clusterId: C1,
      bundleHash: 'sha256:old',
      revision: 'old',
      namespace: 'ns-2',
      policy: toSyncPolicy(suspended.spec),
    });
    suspended.spec.destination = { clusters: ['west'], namespace: 'ns-2' };
    await new BatchReconciler(ports, 'replica-a').run(
      [item(manual), item(suspended), item(auto)],
      lease,
    );
    const o = ports.committed[0];
    expect(o.upserts.map((u) => u.appId)).toEqual([auto.id, auto.id]);
    expect(o.removals).toEqual([]);
    expect(o.history.map((h) => h.appId)).toEqual([auto.id]);
    // The render is recorded: it is what a sync deploys, and what status shows pending.
    expect(o.apps.map((a) => [a.id, a.rendered?.revision])).toEqual([
      [manual.id, ports.commits[0]],
      [suspended.id, ports.commits[0]],
      [auto.id, ports.commits[0]],
    ]);
    expect(o.done).toHaveLength(3);
  });

  it('hands its results to the fenced commit when the lease on some items was lost', async () => {
    const ports = new FakePorts();
    const [a, b] = ports.add(app(1), app(2));
    const fenced: string[][] = [];
    const commit = ports.commit.bind(ports);
    ports.commit = (o: BatchOutcome) => {
      // The store's fence: the items another replica claimed since are left out.
      fenced.push(o.done.map((i) => i.key));
      const kept = { ...o, done: o.done.filter((i) => i.key !== b.id) };
      return commit(kept).then((r) => ({ ...r, lost: 1 }));
    };
    const r = await new BatchReconciler(ports, 'replica-a').run([item(a), item(b)], {
      owner: 'replica-a',
      lost: true,
    });
    expect(fenced).toEqual([[a.id, b.id]]);
    expect(r.lost).toBe(1);
  });

  it('finishes the items of applications deleted since they were marked', async () => {
    const ports = new FakePorts();
    const gone = app(7);
    await new BatchReconciler(ports, 'replica-a').run([item(gone)], lease);
    expect(ports.committed[0].done).toEqual([item(gone)]);
  });

  describe('app of apps', () => {
    const APPLICATION = APPLICATION_REF;
    const child = {
      name: 'child',
      labels: {},
      spec: app(99).spec,
    };

    it('writes the children of an automated parent with it, pruning as the parent prunes', async () => {
      const ports = new FakePorts();
      ports.parentPaths.add('apps/root');
      ports.childPlan = { children: [child], errors: [], stale: ['old'], keep: ['child'] };
      const [parent, plain] = ports.add(app(1, { path: 'apps/root' }), app(2));
      await new BatchReconciler(ports, 'replica-a').run([item(parent), item(plain)], lease);
      const [o] = ports.committed;
      const hash = `sha256:apps/root@${ports.commits[0]}`;
      // Written after the commit, while the parent still deploys this render.
      expect(ports.childWrites).toEqual([
        [
          {
            parent: { id: parent.id, name: 'app-1' },
            children: [child],
            prune: true,
            keep: ['child'],
          },
          { specVersion: 1, bundleHash: hash },
        ],
      ]);
      // Its own resources are deployed as any application's.
      expect(o.upserts.filter((u) => u.appId === parent.id)).toHaveLength(2);
      expect(ports.apps.get(parent.id)!.conditions).toEqual([]);
      expect(ports.childPlanCalls).toEqual([parent.id]);
    });

    it('plans a parent whose manifests dropped its last child, so that it is pruned', async () => {
      const ports = new FakePorts();
      ports.childPlan = { children: [], errors: [], stale: ['last'], keep: [] };
      const parent = { ...app(1), hasChildren: true };
      ports.add(parent);
      await new BatchReconciler(ports, 'replica-a').run([item(parent)], lease);
      expect(ports.childWrites.map(([w]) => w)).toEqual([
        { parent: { id: parent.id, name: 'app-1' }, children: [], prune: true, keep: [] },
      ]);
    });

    it('writes no children while a sync window holds the parent, nor of a parent rolled out in waves', async () => {
      const ports = new FakePorts();
      ports.resources = [APPLICATION];
      ports.childPlan = { children: [child], errors: [], stale: [], keep: ['child'] };
      ports.policies.set(
        'frozen',
        new ProjectPolicy('frozen', {
          sourceRepos: ['*'],
          destinations: [{ namespace: '*' }],
          syncWindows: [{ kind: 'deny', schedule: '0 0 * * *', duration: '24h', clusters: ['*'] }],
        }),
      );
      const held = app(1, {}, {}, 'frozen');
      const waved = app(2);
      waved.spec.rollout = { waves: [{ selector: {} }] } as never;
      ports.add(held, waved);
      await new BatchReconciler(ports, 'replica-a').run([item(held), item(waved)], lease);
      expect(ports.childWrites).toEqual([]);
      expect(ports.apps.get(held.id)!.conditions.map((c) => c.type)).toEqual(['SyncBlocked']);
    });

    it('asks nothing of bundles without Application objects', async () => {
      const ports = new FakePorts();
      const [a] = ports.add(app(1));
      await new BatchReconciler(ports, 'replica-a').run([item(a)], lease);
      expect(ports.childPlanCalls).toEqual([]);
      expect(ports.committed[0].children).toEqual([]);
    });

    it('keeps children no longer in the manifests of a parent that does not prune, and says so with the refused ones', async () => {
      const ports = new FakePorts();
      ports.resources = [APPLICATION];
      ports.childPlan = {
        children: [child],
        errors: ['child application "bad": spec.source.repoURL: is required'],
        stale: ['old-1', 'old-2'],
        keep: ['child', 'bad'],
      };
      const parent = app(1);
      parent.spec.syncPolicy = { automated: { prune: false, selfHeal: false } };
      ports.add(parent);
      await new BatchReconciler(ports, 'replica-a').run([item(parent)], lease);
      expect(ports.childWrites[0][0].prune).toBe(false);
      const [c] = ports.apps.get(parent.id)!.conditions;
      expect(c.type).toBe('ChildApplicationError');
      expect(c.message).toContain('child application "bad": spec.source.repoURL: is required');
      expect(c.message).toContain('kept until pruned (sync with prune): old-1, old-2');
    });

    it('writes no children of a manual parent (its sync does) and none before it is placed on a cluster', async () => {
      const ports = new FakePorts();
      ports.resources = [APPLICATION];
      ports.childPlan = { children: [child], errors: [], stale: [], keep: ['child'] };
      const manual = app(1);
      manual.spec.syncPolicy = {};
      const unplaced = app(2, {}, { clusters: ['nowhere'] });
      ports.add(manual, unplaced);
      await new BatchReconciler(ports, 'replica-a').run([item(manual), item(unplaced)], lease);
      expect(ports.childWrites).toEqual([]);
      expect(ports.apps.get(manual.id)!.conditions).toEqual([]);
      expect(ports.apps.get(unplaced.id)!.conditions.map((c) => c.type)).toEqual([
        'DestinationError',
        'ChildApplicationError',
      ]);
    });

    it('records a parent whose children cannot be read, and deploys its resources still', async () => {
      const ports = new FakePorts();
      ports.resources = [APPLICATION, ...ports.resources];
      ports.childPlan = new Error('bundle sha256:x is missing');
      const [parent] = ports.add(app(1));
      await new BatchReconciler(ports, 'replica-a').run([item(parent)], lease);
      expect(ports.apps.get(parent.id)!.conditions[0].message).toBe(
        'child applications: bundle sha256:x is missing',
      );
      expect(ports.committed[0].upserts).toHaveLength(2);
    });
  });
});
