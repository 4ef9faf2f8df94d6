// The agent against a real API server, driven directly with hub messages (agent.deliver): waves,
// CRDs, hooks, prune, sync options, retries, restarts. The hub-driven suites are agent-hub-*.e2e.ts.
import { truncateSync } from 'node:fs';
import { join } from 'node:path';
import { PatchStrategy } from '@kubernetes/client-node';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import { tempDir, waitFor } from '../support/hub-harness.js';
import type { TestCluster } from '../support/kube-cluster.js';
import {
  agentView,
  deploy,
  eventually,
  fetchMetrics,
  finishJob,
  mergePatchAs,
  newAppId,
  objectApi,
  markDeploymentAvailable,
  readObject,
  startAgent,
  yamlObjects,
} from './agent-support.js';

const cm = (name: string, data: Record<string, string>, annotations?: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  data,
});

const job = (name: string, annotations: Record<string, string>) => ({
  apiVersion: 'batch/v1',
  kind: 'Job',
  metadata: { name, annotations },
  spec: {
    backoffLimit: 0,
    template: {
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'hook', image: 'busybox:1.36', command: ['true'] }],
      },
    },
  },
});

const deployment = (name: string, annotations?: Record<string, string>) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, ...(annotations ? { annotations } : {}) },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
    },
  },
});

/** A namespace and a ConfigMap someone else created (data x=live), before the agent sees them. */
async function seedLiveConfigMap(ns: string, name: string): Promise<void> {
  const [east] = inject('clusters');
  await objectApi(east)
    .create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as never)
    .catch(() => undefined);
  await objectApi(east).create({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: ns },
    data: { x: 'live' },
  } as never);
}

describe('agent sync against a real API server', () => {
  const [east] = inject('clusters');
  const agents: Agent[] = [];
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];

  const newAgent = async (config = {}, dir?: string) => {
    let path = dir;
    if (!path) {
      const d = await tempDir('axle-agent-sync-');
      dirs.push(d);
      path = d.path;
    }
    const a = startAgent({ cluster: east, stateDir: path, config });
    agents.push(a);
    return { agent: a, dir: path };
  };
  const view = (a: Agent, appId: string) => agentView(a.status(appId));
  const cmValue = async (ns: string, name: string) =>
    (await readObject(east, { apiVersion: 'v1', kind: 'ConfigMap', name, namespace: ns }))?.data as
      Record<string, string> | undefined;

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
  });
  afterAll(async () => {
    await Promise.all(dirs.map((d) => d.remove()));
  });

  it('prunes what left git, except Prune=false, with PruneLast after the rest', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-prune';
    await agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [
          cm('keep', { x: '1' }),
          cm('gone', { x: '1' }),
          cm('last', { x: '1' }, { 'argocd.argoproj.io/sync-options': 'PruneLast=true' }),
          cm('stay', { x: '1' }, { 'app.axle.io/sync-options': 'Prune=false' }),
        ],
      }),
    );
    await agent.idle();
    expect(view(agent, appId)?.sync).toBe('Synced');
    await agent.deliver(
      deploy({ appId, generation: 2, namespace: ns, objects: [cm('keep', { x: '2' })] }),
    );
    await agent.idle();
    expect(await cmValue(ns, 'keep')).toEqual({ x: '2' });
    expect(await cmValue(ns, 'gone')).toBeUndefined();
    expect(await cmValue(ns, 'last')).toBeUndefined();
    expect(await cmValue(ns, 'stay')).toEqual({ x: '1' });
    const pruned = agent
      .events(appId)
      .filter((e) => e.reason === 'Pruned')
      .map((e) => e.message);
    expect(pruned).toEqual([`ConfigMap/${ns}/gone deleted`, `ConfigMap/${ns}/last deleted`]);
    const s = view(agent, appId)!;
    expect(s.sync).toBe('OutOfSync');
    expect(s.resources.find((r) => r.name === 'stay')).toMatchObject({
      requiresPruning: true,
      message: 'no longer desired; not pruned (Prune=false)',
    });
  });

  it('holds the prune of an emptied bundle until a generation confirms it', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-prune-held';
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    const objects = names.map((n) => cm(n, { x: '1' }));
    await agent.deliver(deploy({ appId, generation: 1, namespace: ns, objects }));
    await agent.idle();
    expect(view(agent, appId)?.sync).toBe('Synced');
    // A bad render: nothing is left in the bundle. Nothing is deleted either.
    await agent.deliver(deploy({ appId, generation: 2, namespace: ns, objects: [] }));
    await agent.idle();
    for (const n of names) expect(await cmValue(ns, n)).toEqual({ x: '1' });
    const s = view(agent, appId)!;
    expect(s.sync).toBe('OutOfSync');
    expect(s.message).toMatch(
      /^prune of 6 objects \(all it runs: .*\) held: confirm with "axle app sync /,
    );
    expect(agent.events(appId).filter((e) => e.reason === 'PruneHeld')).toHaveLength(1);
    // The person's sync with prune: the same bundle, confirmed.
    await agent.deliver(
      deploy({
        appId,
        generation: 3,
        namespace: ns,
        objects: [],
        policy: { pruneConfirmed: true },
      }),
    );
    await agent.idle();
    for (const n of names) expect(await cmValue(ns, n)).toBeUndefined();
    expect(view(agent, appId)?.sync).toBe('Synced');
  });

  it('prunes with PrunePropagationPolicy=foreground: a resource being deleted is Progressing', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-prune-fg';
    const policy = { syncOptions: { items: ['PrunePropagationPolicy=foreground'] } };
    await agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [cm('a', { x: '1' }), cm('b', { x: '1' })],
        policy,
      }),
    );
    await agent.idle();
    await agent.deliver(
      deploy({ appId, generation: 2, namespace: ns, objects: [cm('a', { x: '1' })], policy }),
    );
    await agent.idle();
    // No garbage collector runs here: the foreground finalizer keeps b, Terminating.
    const b = await readObject(east, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'b',
      namespace: ns,
    });
    expect(b?.metadata.finalizers).toEqual(['foregroundDeletion']);
    const s = view(agent, appId)!;
    expect(s.health).toBe('Progressing');
    expect(s.resources.find((r) => r.name === 'b')).toMatchObject({
      health: 'Progressing',
      sync: 'OutOfSync',
      requiresPruning: true,
      message: 'being deleted',
    });
  });

  it('waits for each wave to be healthy; a CRD and its custom resource across waves', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-waves';
    const objects = yamlObjects(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.axle.test
  annotations: { argocd.argoproj.io/sync-wave: "-1" }
spec:
  group: axle.test
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
---
apiVersion: axle.test/v1
kind: Widget
metadata:
  name: w1
  annotations: { argocd.argoproj.io/sync-wave: "2" }
spec: { size: 3 }
`);
    objects.push(deployment('gate', { 'app.axle.io/sync-wave': '1' }));
    objects.push(cm('after', { x: '1' }, { 'argocd.argoproj.io/sync-wave': '2' }));
    await agent.deliver(deploy({ appId, generation: 1, namespace: ns, objects }));
    await agent.idle();
    // Wave 1's Deployment never becomes available (no controllers): wave 2 waits.
    const waiting = view(agent, appId)!;
    expect(waiting.health).toBe('Progressing');
    expect(waiting.message).toMatch(
      /^waiting for wave 1: Deployment\/agent-waves\/gate is Progressing/,
    );
    expect(waiting.operation?.phase).toBe('Running');
    expect(await cmValue(ns, 'after')).toBeUndefined();
    // The CRD (wave -1) was applied and established; its custom resource waits for wave 2.
    expect(
      await readObject(east, {
        apiVersion: 'axle.test/v1',
        kind: 'Widget',
        name: 'w1',
        namespace: ns,
      }),
    ).toBeUndefined();
    // Make the Deployment available, as a controller would; the watch wakes the agent up.
    await markDeploymentAvailable(east, ns, 'gate');
    const done = await eventually('wave 2 applied and synced', () => {
      const s = view(agent, appId);
      return s?.operation?.phase === 'Succeeded' && s.sync === 'Synced' ? s : false;
    });
    expect(done.health).toBe('Healthy');
    const w = await readObject(east, {
      apiVersion: 'axle.test/v1',
      kind: 'Widget',
      name: 'w1',
      namespace: ns,
    });
    expect(w?.spec).toEqual({ size: 3 });
    expect(done.resources.map((r) => [r.kind, r.syncWave])).toEqual([
      ['CustomResourceDefinition', -1],
      ['Deployment', 1],
      ['ConfigMap', 2],
      ['Widget', 2],
    ]);
  });

  it("runs a chart's Helm hooks as Argo CD maps them; test and delete hooks are never applied", async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-helm-hooks';
    const testPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app-test-connection', annotations: { 'helm.sh/hook': 'test' } },
      spec: {
        restartPolicy: 'Never',
        containers: [{ name: 'wget', image: 'busybox:1.36', command: ['wget', 'app:80'] }],
      },
    };
    // As charts run admission jobs: the Job's ServiceAccount is a hook of a lower weight, deleted
    // once it succeeded; it must outlive the Job that uses it.
    const serviceAccount = {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: {
        name: 'migrate',
        annotations: {
          'helm.sh/hook': 'pre-install,pre-upgrade',
          'helm.sh/hook-weight': '-5',
          'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
        },
      },
    };
    const objects = [
      serviceAccount,
      job('migrate', {
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-weight': '-1',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
      }),
      testPod,
      job('cleanup', { 'argocd.argoproj.io/hook': 'PostDelete' }),
      cm('app', { x: '1' }),
    ];
    await agent.deliver(deploy({ appId, generation: 1, namespace: ns, objects }));
    await agent.idle();
    await eventually('the Job started after its ServiceAccount', () =>
      view(agent, appId)!.message === `waiting for PreSync hook Job/${ns}/migrate` ? true : false,
    );
    expect(await cmValue(ns, 'app')).toBeUndefined();
    const live = (apiVersion: string, kind: string, name: string) =>
      readObject(east, { apiVersion, kind, name, namespace: ns });
    expect(await live('v1', 'ServiceAccount', 'migrate')).toBeDefined();
    await finishJob(east, ns, 'migrate', 'Complete');
    const s = await eventually('sync succeeded', () => {
      const v = view(agent, appId);
      return v?.operation?.phase === 'Succeeded' ? v : false;
    });
    expect(await cmValue(ns, 'app')).toEqual({ x: '1' });
    expect(s.resources.map((r) => r.name)).toEqual(['app']);
    expect(s.operation?.hooks.map((h) => [h.hookType, h.kind, h.name, h.phase])).toEqual([
      ['PreSync', 'ServiceAccount', 'migrate', 'Succeeded'],
      ['PreSync', 'Job', 'migrate', 'Succeeded'],
    ]);
    // hook-succeeded: both gone with the operation; the test pod and the PostDelete Job were
    // never created.
    expect(await live('v1', 'ServiceAccount', 'migrate')).toBeUndefined();
    expect(await live('batch/v1', 'Job', 'migrate')).toBeUndefined();
    expect(await live('v1', 'Pod', 'app-test-connection')).toBeUndefined();
    expect(await live('batch/v1', 'Job', 'cleanup')).toBeUndefined();
  });

  it('runs PreSync/PostSync hooks as Jobs with delete policies; SyncFail on failure', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-hooks';
    const objects = [
      job('migrate', {
        'argocd.argoproj.io/hook': 'PreSync',
        'argocd.argoproj.io/hook-delete-policy': 'HookSucceeded',
      }),
      job('smoke', { 'argocd.argoproj.io/hook': 'PostSync' }),
      cm('app', { x: '1' }),
    ];
    await agent.deliver(deploy({ appId, generation: 1, namespace: ns, objects }));
    await agent.idle();
    let s = view(agent, appId)!;
    expect(s.message).toBe(`waiting for PreSync hook Job/${ns}/migrate`);
    expect(await cmValue(ns, 'app')).toBeUndefined();
    await finishJob(east, ns, 'migrate', 'Complete');
    await waitFor('PostSync hook created', () =>
      readObject(east, { apiVersion: 'batch/v1', kind: 'Job', name: 'smoke', namespace: ns }),
    );
    expect(await cmValue(ns, 'app')).toEqual({ x: '1' });
    const migrate = () =>
      readObject(east, { apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', namespace: ns });
    // HookSucceeded: deleted when the whole operation has succeeded (as gitops-engine), not yet.
    expect(await migrate()).toBeDefined();
    await finishJob(east, ns, 'smoke', 'Complete');
    s = await eventually('sync succeeded', () => {
      const v = view(agent, appId);
      return v?.operation?.phase === 'Succeeded' ? v : false;
    });
    expect(await migrate()).toBeUndefined();
    // Hooks are not resources of the app; the PostSync Job stays (default BeforeHookCreation).
    expect(s.resources.map((r) => r.name)).toEqual(['app']);
    expect(s.operation?.hooks.map((h) => [h.hookType, h.name, h.phase])).toEqual([
      ['PreSync', 'migrate', 'Succeeded'],
      ['PostSync', 'smoke', 'Succeeded'],
    ]);
    expect(
      await readObject(east, { apiVersion: 'batch/v1', kind: 'Job', name: 'smoke', namespace: ns }),
    ).toBeDefined();

    // Generation 2: the PreSync hook fails; the SyncFail hook runs and the sync is Failed.
    await agent.deliver(
      deploy({
        appId,
        generation: 2,
        namespace: ns,
        objects: [
          job('migrate', { 'argocd.argoproj.io/hook': 'PreSync' }),
          job('cleanup', { 'argocd.argoproj.io/hook': 'SyncFail' }),
          cm('app', { x: '2' }),
        ],
      }),
    );
    await agent.idle();
    await finishJob(east, ns, 'migrate', 'Failed');
    s = await eventually('sync failed', () => {
      const v = view(agent, appId);
      return v?.operation?.phase === 'Failed' ? v : false;
    });
    expect(s.message).toMatch(new RegExp(`^sync failed: PreSync hook Job/${ns}/migrate failed`));
    expect(
      await readObject(east, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: 'cleanup',
        namespace: ns,
      }),
    ).toBeDefined();
    expect(await cmValue(ns, 'app')).toEqual({ x: '1' });
  });

  it('retries a failed sync with backoff', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-retry';
    const bad = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bad' },
      spec: { type: 'Nope', ports: [{ port: 80 }] },
    };
    await agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [cm('ok', { x: '1' }), bad],
        policy: { retry: { limit: 2, duration: '200ms', factor: 2, maxDuration: '1s' } },
      }),
    );
    const s = await eventually(
      'retries exhausted',
      () => {
        const v = view(agent, appId);
        return v?.operation?.phase === 'Failed' && v.operation.retryCount === 3 ? v : false;
      },
      { timeoutMs: 15_000 },
    );
    expect(s.operation?.nextRetryAtUnixMs).toBe(0);
    expect(s.message).toMatch(
      /^sync failed: Service\/agent-retry\/bad: .*Unsupported value: "Nope"/,
    );
    const reasons = agent.events(appId).map((e) => e.reason);
    expect(reasons.filter((r) => r === 'SyncRetrying')).toHaveLength(2);
    expect(reasons.filter((r) => r === 'SyncFailed')).toHaveLength(3);
    expect(await cmValue(ns, 'ok')).toEqual({ x: '1' });
  });

  it('Replace=true replaces; ApplyOutOfSyncOnly leaves in-sync objects untouched', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-options';
    const gen = (g: number, changed: string) =>
      deploy({
        appId,
        generation: g,
        namespace: ns,
        objects: [
          cm('same', { x: '1' }),
          cm('changed', { x: changed }),
          cm('replaced', { x: changed }, { 'argocd.argoproj.io/sync-options': 'Replace=true' }),
        ],
        policy: { syncOptions: { items: ['ApplyOutOfSyncOnly=true'] } },
      });
    await agent.deliver(gen(1, 'a'));
    await agent.idle();
    const rv = async (name: string) =>
      (await readObject(east, { apiVersion: 'v1', kind: 'ConfigMap', name, namespace: ns }))!
        .metadata.resourceVersion;
    const before = await rv('same');
    const replaced = await readObject(east, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'replaced',
      namespace: ns,
    });
    expect(replaced!.metadata.managedFields).toEqual([
      expect.objectContaining({ manager: 'axle', operation: 'Update' }),
    ]);
    await agent.deliver(gen(2, 'b'));
    await agent.idle();
    expect(await rv('same')).toBe(before);
    expect(await cmValue(ns, 'changed')).toEqual({ x: 'b' });
    expect(await cmValue(ns, 'replaced')).toEqual({ x: 'b' });
    expect(view(agent, appId)?.sync).toBe('Synced');
  });

  it('keeps its inventory across a restart: pruning after the restart is still correct', async () => {
    const first = await newAgent();
    const appId = newAppId();
    const ns = 'agent-restart';
    await first.agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [cm('a', { x: '1' }), cm('b', { x: '1' })],
      }),
    );
    await first.agent.idle();
    await first.agent.stop();
    const second = await newAgent({}, first.dir);
    await second.agent.idle();
    await second.agent.deliver(
      deploy({ appId, generation: 2, namespace: ns, objects: [cm('a', { x: '2' })] }),
    );
    await second.agent.idle();
    expect(await cmValue(ns, 'b')).toBeUndefined();
    expect(await cmValue(ns, 'a')).toEqual({ x: '2' });
    expect(view(second.agent, appId)?.sync).toBe('Synced');
  });

  it('removes an app: deletes its resources except Delete=false, or keeps them all', async () => {
    const { agent } = await newAgent();
    const ns = 'agent-remove';
    const a1 = newAppId();
    const a2 = newAppId();
    await agent.deliver(
      deploy({
        appId: a1,
        generation: 1,
        namespace: ns,
        objects: [
          cm('r1', { x: '1' }),
          cm('r1-kept', { x: '1' }, { 'argocd.argoproj.io/sync-options': 'Delete=false' }),
        ],
      }),
    );
    await agent.deliver(
      deploy({ appId: a2, generation: 1, namespace: ns, objects: [cm('r2', { x: '1' })] }),
    );
    await agent.idle();
    await agent.deliver({ msg: { $case: 'remove', value: { appId: a1, prune: true } } });
    await agent.deliver({ msg: { $case: 'remove', value: { appId: a2, prune: false } } });
    expect(await cmValue(ns, 'r1')).toBeUndefined();
    expect(await cmValue(ns, 'r1-kept')).toEqual({ x: '1' });
    expect(await cmValue(ns, 'r2')).toEqual({ x: '1' });
    expect(agent.status(a1)).toBeUndefined();
  });

  it('observe-only reports the difference and applies nothing', async () => {
    const { agent } = await newAgent({ observeOnly: true });
    const appId = newAppId();
    const ns = 'agent-observe';
    await seedLiveConfigMap(ns, 'cfg');
    await agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [cm('cfg', { x: 'git' }), cm('absent', { x: '1' })],
      }),
    );
    await agent.idle();
    const s = view(agent, appId)!;
    expect(s.observeOnly).toBe(true);
    expect(s.sync).toBe('OutOfSync');
    expect(s.message).toMatch(/^observe only: /);
    const cfg = s.resources.find((r) => r.name === 'cfg')!;
    expect(cfg.diffs).toContainEqual({ path: '/data/x', desired: '"git"', live: '"live"' });
    expect(s.resources.find((r) => r.name === 'absent')).toMatchObject({
      health: 'Missing',
      sync: 'OutOfSync',
    });
    expect(await cmValue(ns, 'cfg')).toEqual({ x: 'live' });
    expect(await cmValue(ns, 'absent')).toBeUndefined();
  });

  it('ObserveOnly=true on one resource: compared, never applied', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-observe-one';
    await seedLiveConfigMap(ns, 'theirs');
    await agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [
          cm('ours', { x: '1' }),
          cm('theirs', { x: 'git' }, { 'app.axle.io/sync-options': 'ObserveOnly=true' }),
        ],
        policy: { selfHeal: true },
      }),
    );
    await agent.idle();
    expect(await cmValue(ns, 'ours')).toEqual({ x: '1' });
    expect(await cmValue(ns, 'theirs')).toEqual({ x: 'live' });
    const theirs = view(agent, appId)!.resources.find((r) => r.name === 'theirs')!;
    expect(theirs.sync).toBe('OutOfSync');
    expect(theirs.diffs).toContainEqual({ path: '/data/x', desired: '"git"', live: '"live"' });
    // Drift on the other object is healed (after the self-heal delay): by then a heal of
    // `theirs`, detected earlier, would have happened too. It did not.
    await mergePatchAs(
      east,
      'kubectl-edit',
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'ours', namespace: ns },
      { data: { x: 'edited' } },
    );
    await waitFor('ours healed', async () => (await cmValue(ns, 'ours'))?.x === '1');
    expect(await cmValue(ns, 'theirs')).toEqual({ x: 'live' });
  });

  it('reports drift by another field manager field by field; ignoreDifferences leaves it alone', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-ignore';
    await agent.deliver(
      deploy({
        appId,
        generation: 1,
        namespace: ns,
        objects: [
          cm('watched', { x: '1' }),
          cm('ignored', { x: '1', y: '1' }),
          cm('by-manager', { x: '1' }),
        ],
        policy: {
          selfHeal: true,
          ignoreDifferences: {
            items: [
              {
                group: '',
                kind: 'ConfigMap',
                name: 'ignored',
                namespace: '',
                jsonPointers: ['/data/x'],
                managedFieldsManagers: [],
              },
              {
                group: '',
                kind: 'ConfigMap',
                name: 'by-manager',
                namespace: ns,
                jsonPointers: [],
                managedFieldsManagers: ['hpa-like'],
              },
            ],
          },
        },
      }),
    );
    await agent.idle();
    const ref = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', name, namespace: ns });
    await mergePatchAs(east, 'kubectl-edit', ref('ignored'), { data: { x: 'hand' } });
    await mergePatchAs(east, 'hpa-like', ref('by-manager'), { data: { x: 'hand' } });
    await mergePatchAs(east, 'kubectl-edit', ref('watched'), { data: { x: 'hand' } });
    const drift = await eventually('drift reported', () => {
      const v = view(agent, appId);
      return v?.drifted ? v : false;
    });
    expect(drift.resources.filter((r) => r.drifted).map((r) => [r.name, r.diffs])).toEqual([
      ['watched', [{ path: '/data/x', desired: '"1"', live: '"hand"' }]],
    ]);
    expect(drift.message).toBe(
      `ConfigMap/${ns}/watched: drift in /data/x (desired "1", live "hand")`,
    );
    await waitFor('healed', async () => (await cmValue(ns, 'watched'))?.x === '1');
    await eventually('Synced', () => view(agent, appId)?.sync === 'Synced');
    // A deleted resource is drift too: reported Missing, then re-created.
    await objectApi(east).delete({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'watched', namespace: ns },
    });
    const gone = await eventually('deletion reported', () => {
      const r = view(agent, appId)?.resources.find((x) => x.name === 'watched');
      return r?.health === 'Missing' ? r : false;
    });
    expect(gone).toMatchObject({
      drifted: true,
      sync: 'OutOfSync',
      message: 'resource is missing',
    });
    await waitFor('re-created', async () => (await cmValue(ns, 'watched'))?.x === '1');
    // `kubectl apply --server-side --force-conflicts` by another manager takes the field over.
    await waitFor('Synced again', () => Promise.resolve(view(agent, appId)?.sync === 'Synced'));
    await objectApi(east).patch(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'watched', namespace: ns },
        data: { x: 'ssa' },
      },
      undefined,
      undefined,
      'kubectl',
      true,
      PatchStrategy.ServerSideApply,
    );
    const ssa = await eventually('SSA edit reported', () => {
      const r = view(agent, appId)?.resources.find((x) => x.name === 'watched');
      return r?.drifted ? r : false;
    });
    expect(ssa.diffs).toEqual([{ path: '/data/x', desired: '"1"', live: '"ssa"' }]);
    await waitFor('healed again', async () => (await cmValue(ns, 'watched'))?.x === '1');
    expect(await cmValue(ns, 'ignored')).toEqual({ x: 'hand', y: '1' });
    expect(await cmValue(ns, 'by-manager')).toEqual({ x: 'hand' });
    expect(agent.events(appId).map((e) => e.reason)).toEqual(
      expect.arrayContaining(['DriftDetected', 'SelfHealed']),
    );
  });

  it('a new generation sends only the objects it changed (applies counted by the API server); a sync asked for sends all', async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-unchanged';
    // LimitRanges: a kind no other suite applies, so the API server's counter is this test's.
    const limits = (name: string, cpu: string) => ({
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name },
      spec: { limits: [{ type: 'Container', default: { cpu } }] },
    });
    const objects = (changed: string) => [
      limits('a', '100m'),
      limits('b', '100m'),
      limits('c', changed),
    ];
    await agent.deliver(deploy({ appId, generation: 1, namespace: ns, objects: objects('100m') }));
    await agent.idle();
    expect(view(agent, appId)?.sync).toBe('Synced');
    const before = await appliedLimitRanges(east);
    await agent.deliver(deploy({ appId, generation: 2, namespace: ns, objects: objects('200m') }));
    await agent.idle();
    expect(view(agent, appId)).toMatchObject({ sync: 'Synced', generation: 2 });
    expect(await appliedLimitRanges(east)).toBe(before + 1);
    // A user's sync re-applies everything (Argo CD's semantics).
    await agent.deliver({ msg: { $case: 'syncNow', value: { appId } } });
    await agent.idle();
    expect(await appliedLimitRanges(east)).toBe(before + 4);
    // ApplyOutOfSyncOnly=false: every object on every generation.
    const policy = { syncOptions: { items: ['ApplyOutOfSyncOnly=false'] } };
    await agent.deliver(
      deploy({ appId, generation: 3, namespace: ns, objects: objects('200m'), policy }),
    );
    await agent.idle();
    expect(await appliedLimitRanges(east)).toBe(before + 7);
  });

  it("refuses unknown fields with the API server's message; with Replace=true, Validate=false drops them", async () => {
    const { agent } = await newAgent();
    const appId = newAppId();
    const ns = 'agent-validate';
    const typo = { ...cm('typo', { x: '1' }), dta: { y: '2' } };
    await agent.deliver(deploy({ appId, generation: 1, namespace: ns, objects: [typo] }));
    await agent.idle();
    // Server-side apply refuses what the schema does not declare, whatever the validation.
    expect(view(agent, appId)?.operation).toMatchObject({ phase: 'Failed' });
    expect(view(agent, appId)?.operation?.message).toMatch(/\.dta: field not declared in schema/);
    expect(await cmValue(ns, 'typo')).toBeUndefined();
    // Replace=true (PUT/POST): Strict by default, as kubectl...
    const replace = { syncOptions: { items: ['Replace=true'] } };
    await agent.deliver(
      deploy({ appId, generation: 2, namespace: ns, objects: [typo], policy: replace }),
    );
    await agent.idle();
    expect(view(agent, appId)?.operation).toMatchObject({ phase: 'Failed' });
    expect(view(agent, appId)?.operation?.message).toMatch(/unknown field "dta"/);
    // ...and Validate=false drops the unknown field, as kubectl --validate=false.
    const lax = { syncOptions: { items: ['Replace=true', 'Validate=false'] } };
    await agent.deliver(
      deploy({ appId, generation: 3, namespace: ns, objects: [typo], policy: lax }),
    );
    await agent.idle();
    expect(view(agent, appId)?.operation).toMatchObject({ phase: 'Succeeded' });
    expect(await cmValue(ns, 'typo')).toEqual({ x: '1' });
  });

  it('a bundle lost from its store (machine crash) is taken again when the hub resends the same generation', async () => {
    const first = await newAgent();
    const appId = newAppId();
    const ns = 'agent-lost-bundle';
    const msg = deploy({ appId, generation: 1, namespace: ns, objects: [cm('kept', { x: '1' })] });
    await first.agent.deliver(msg);
    await first.agent.idle();
    expect(view(first.agent, appId)?.sync).toBe('Synced');
    await first.agent.stop();
    agents.splice(agents.indexOf(first.agent), 1);
    // The pack lost its data (as after a power loss before the page cache was written out).
    truncateSync(join(first.dir, 'bundles.pack'), 10);
    const { agent } = await newAgent({}, first.dir);
    expect(agent.apps().map((a) => a.generation)).toEqual([1]);
    // The same generation again (what the hub does when the agent's Hello reports it missing):
    // taken, not acknowledged as a duplicate.
    await agent.deliver(msg);
    await agent.idle();
    expect(view(agent, appId)).toMatchObject({ sync: 'Synced', generation: 1 });
    expect(await cmValue(ns, 'kept')).toEqual({ x: '1' });
  });
});

/** Successful server-side applies of LimitRanges, from the API server's own request counter. */
async function appliedLimitRanges(c: TestCluster): Promise<number> {
  const res = await fetchMetrics(c);
  let total = 0;
  for (const line of res.split('\n')) {
    if (
      line.startsWith('apiserver_request_total{') &&
      line.includes('resource="limitranges"') &&
      line.includes('verb="APPLY"') &&
      line.includes('code="200"') &&
      line.includes('dry_run=""')
    ) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}
