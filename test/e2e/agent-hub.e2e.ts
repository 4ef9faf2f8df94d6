// The agent in depth, end to end through a real hub: git → hub → gRPC → agent → API server.
// Application fields (syncPolicy.syncOptions/retry, ignoreDifferences) travel to the agent in
// Deploy.sync_policy; a field that does not arrive fails the test, naming it.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import type { SyncPolicyState } from '../../apps/agent/src/sync/options.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  waitFor,
  type Registration,
} from '../support/hub-harness.js';
import { finishJob, mergePatchAs, readObject, startAgent, eventually } from './agent-support.js';

const cm = (name: string, data: Record<string, string>, annotations = '') => `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
${annotations ? `  annotations: ${annotations}\n` : ''}data:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: "${v}"`)
  .join('\n')}
`;

const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.hub.axle.test
spec:
  group: hub.axle.test
  scope: Namespaced
  names: { plural: gadgets, singular: gadget, kind: Gadget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;

const gadget = `apiVersion: hub.axle.test/v1
kind: Gadget
metadata:
  name: g1
  annotations: { argocd.argoproj.io/sync-wave: "1" }
spec: { colour: blue }
`;

const hookJob = (name: string, hook: string) => `apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
  annotations:
    argocd.argoproj.io/hook: ${hook}
    argocd.argoproj.io/hook-delete-policy: HookSucceeded
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: hook, image: busybox:1.36, command: ["true"] }]
`;

describe('the agent through a real hub', () => {
  const [east] = inject('clusters');
  let repo: TestRepo;
  let hub: RunningHub;
  let dbUrl: string;
  let hubDir: Awaited<ReturnType<typeof tempDir>>;
  let agentDir: Awaited<ReturnType<typeof tempDir>>;
  let agent: Agent;
  let registration: Registration;
  let grpcPort: number;
  const extraAgents: Agent[] = [];

  const newAgent = () =>
    startAgent({
      cluster: east,
      stateDir: agentDir.path,
      hub: hub.grpcAddress,
      registration,
      // Long enough for the hub to show the drift before it is healed.
      config: { selfHeal: { delayMs: 1500, maxDelayMs: 30_000 } },
    });
  const refresh = () => api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
  const appStatus = async (name: string) =>
    (await api(hub).get(`/api/v1/applications/${name}`)).body?.status?.clusters?.[0];
  const settled = (name: string, sha: string, sync = 'Synced') =>
    waitFor(`${name} ${sync} at ${sha.slice(0, 8)}`, async () => {
      const c = await appStatus(name);
      return c?.revision === sha && c.sync === sync && c.appliedGeneration === c.desiredGeneration
        ? c
        : false;
    });
  /**
   * Creates an app. With `needs`, waits until the agent holds it and says which of those policy
   * fields did not reach the agent (the hub refused them or does not pass them on yet).
   */
  const createApp = async (
    body: Record<string, unknown>,
    needs: (keyof SyncPolicyState)[] = [],
  ): Promise<{ missing?: string }> => {
    const res = await api(hub).post('/api/v1/applications', body);
    if (res.status === 400) return { missing: `hub refused: ${JSON.stringify(res.body.fields)}` };
    expect(res.status).toBe(201);
    if (needs.length === 0) return {};
    const held = await eventually('agent holds the app', () =>
      agent.apps().find((a) => a.appName === body.name),
    );
    const lacking = needs.filter((f) => held.policy[f] === undefined);
    return lacking.length
      ? { missing: `Deploy.sync_policy lacks ${lacking.join(', ')} (the hub did not pass them)` }
      : {};
  };
  const app = (name: string, path: string, extra: Record<string, unknown> = {}) => ({
    name,
    source: { repoURL: repo.fileUrl, targetRevision: 'main', path },
    destination: { cluster: 'east', namespace: name },
    syncPolicy: { automated: { prune: true, selfHeal: true } },
    ...extra,
  });
  const cmData = async (ns: string, name: string) =>
    (await readObject(east, { apiVersion: 'v1', kind: 'ConfigMap', name, namespace: ns }))?.data as
      Record<string, string> | undefined;

  let head: string;

  beforeAll(async () => {
    repo = await TestRepo.create();
    head = await repo.commit({
      'prune/a.yaml': cm('a', { x: '1' }),
      'prune/b.yaml': cm('b', { x: '1' }),
      'crd/crd.yaml': crd,
      'crd/gadget.yaml': gadget,
      'drift/cm.yaml': cm('greeting', { greeting: 'hello' }),
      'ignore/cm.yaml': cm('greeting', { greeting: 'hello' }),
      'ignore/canary.yaml': cm('canary', { note: 'git' }),
      'hooks/migrate.yaml': hookJob('migrate', 'PreSync'),
      'hooks/cm.yaml': cm('app', { x: '1' }),
      'options/ok.yaml': cm('ok', { x: '1' }),
      'options/bad.yaml':
        'apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {type: Nope, ports: [{port: 80}]}\n',
      'observe/cm.yaml': cm('observed', { x: 'git' }),
    });
    dbUrl = await createTestDatabase();
    hubDir = await tempDir('axle-hub-agent-');
    agentDir = await tempDir('axle-agent-hub-');
    hub = await startTestHub({ databaseUrl: dbUrl, dataDir: hubDir.path });
    grpcPort = Number(hub.grpcAddress.split(':').pop());
    const res = await api(hub).post('/api/v1/clusters', { name: 'east' });
    expect(res.status).toBe(201);
    registration = res.body as Registration;
    agent = newAgent();
    await waitFor('agent connected', () => Promise.resolve(agent.connected));
  });

  afterAll(async () => {
    await agent?.stop();
    await Promise.all(extraAgents.map((a) => a.stop()));
    await hub?.close();
    await repo?.remove();
    await hubDir?.remove();
    await agentDir?.remove();
  });

  it('prunes what was removed from git', async () => {
    await createApp(app('hub-prune', 'prune'));
    await settled('hub-prune', head);
    head = await repo.commit({ 'prune/b.yaml': null });
    await refresh();
    const c = await settled('hub-prune', head);
    expect(c.resources.map((r: any) => r.name)).toEqual(['a']);
    expect(await cmData('hub-prune', 'b')).toBeUndefined();
    expect(await cmData('hub-prune', 'a')).toEqual({ x: '1' });
  });

  it('applies a CRD and its custom resource in one app across waves', async () => {
    await createApp(app('hub-crd', 'crd'));
    const c = await settled('hub-crd', head);
    expect(c.health).toBe('Healthy');
    expect(c.resources.map((r: any) => `${r.kind}/${r.name}`)).toEqual([
      'CustomResourceDefinition/gadgets.hub.axle.test',
      'Gadget/g1',
    ]);
    const g = await readObject(east, {
      apiVersion: 'hub.axle.test/v1',
      kind: 'Gadget',
      name: 'g1',
      namespace: 'hub-crd',
    });
    expect(g?.spec).toEqual({ colour: 'blue' });
  });

  it('runs a PreSync hook Job before the resources (the test completes the Job)', async () => {
    await createApp(app('hub-hooks', 'hooks'));
    await waitFor('hook Job created', () =>
      readObject(east, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        name: 'migrate',
        namespace: 'hub-hooks',
      }),
    );
    const waiting = await appStatus('hub-hooks');
    expect(waiting.sync).toBe('OutOfSync');
    expect(waiting.message).toBe('waiting for PreSync hook Job/hub-hooks/migrate');
    expect(await cmData('hub-hooks', 'app')).toBeUndefined();
    await finishJob(east, 'hub-hooks', 'migrate', 'Complete');
    const c = await settled('hub-hooks', head);
    expect(c.resources.map((r: any) => r.name)).toEqual(['app']);
    expect(await cmData('hub-hooks', 'app')).toEqual({ x: '1' });
    await waitFor(
      'hook deleted (HookSucceeded)',
      async () =>
        (await readObject(east, {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: 'migrate',
          namespace: 'hub-hooks',
        })) === undefined,
    );
  });

  it('detects an edit by another field manager, reports the field, and heals it', async () => {
    await createApp(app('hub-drift', 'drift'));
    await settled('hub-drift', head);
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'greeting', namespace: 'hub-drift' };
    await mergePatchAs(east, 'kubectl-edit', ref, { data: { greeting: 'hacked' } });
    const drift = await waitFor(
      'hub shows the drift',
      async () => {
        const c = await appStatus('hub-drift');
        return c?.sync === 'OutOfSync' ? c : false;
      },
      { intervalMs: 50 },
    );
    const r = drift.resources.find((x: any) => x.name === 'greeting');
    expect(r.sync).toBe('OutOfSync');
    expect(r.message).toBe('drift in /data/greeting (desired "hello", live "hacked")');
    expect(drift.message).toBe(
      'ConfigMap/hub-drift/greeting: drift in /data/greeting (desired "hello", live "hacked")',
    );
    // Structured diffs, as the hub stores them (ResourceStatus.drifted/diffs).
    expect(r.drifted).toBe(true);
    expect(r.diffs).toEqual([{ path: '/data/greeting', desired: '"hello"', live: '"hacked"' }]);
    await waitFor(
      'healed in the cluster',
      async () => (await cmData('hub-drift', 'greeting'))?.greeting === 'hello',
    );
    await settled('hub-drift', head);
  });

  it('leaves the same edit alone under ignoreDifferences', async () => {
    const created = await createApp(
      app('hub-ignore', 'ignore', {
        ignoreDifferences: [
          { group: '', kind: 'ConfigMap', name: 'greeting', jsonPointers: ['/data/greeting'] },
        ],
      }),
      ['ignoreDifferences'],
    );
    expect(created.missing).toBeUndefined();
    await settled('hub-ignore', head);
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'greeting', namespace: 'hub-ignore' };
    await mergePatchAs(east, 'kubectl-edit', ref, { data: { greeting: 'hacked' } });
    // Then an edit that is not ignored, on another object of the app: once it is healed, the agent
    // has seen the first edit too (one watch, in order) and its self-heal has run.
    const canary = { ...ref, name: 'canary' };
    await mergePatchAs(east, 'kubectl-edit', canary, { data: { note: 'edited' } });
    await waitFor(
      'the canary healed',
      async () => (await cmData('hub-ignore', 'canary'))?.note === 'git',
    );
    expect(await cmData('hub-ignore', 'greeting')).toEqual({ greeting: 'hacked' });
    await settled('hub-ignore', head);
    const greeting = (await appStatus('hub-ignore')).resources.find(
      (x: any) => x.name === 'greeting',
    );
    expect(greeting.sync).toBe('Synced');
    expect(greeting.drifted ?? false).toBe(false); // the hub leaves `drifted` out when false
  });

  it('passes sync options and retry to the agent', async () => {
    const created = await createApp(
      app('hub-options', 'options', {
        syncPolicy: {
          automated: { prune: true, selfHeal: false },
          syncOptions: ['CreateNamespace=true', 'ApplyOutOfSyncOnly=true'],
          retry: { limit: 1, backoff: { duration: '500ms', factor: 2, maxDuration: '2s' } },
        },
      }),
      ['syncOptions', 'retry'],
    );
    expect(created.missing).toBeUndefined();
    const c = await waitFor('retry exhausted', async () => {
      const s = await appStatus('hub-options');
      return s?.message?.startsWith('sync failed: Service/hub-options/bad') ? s : false;
    });
    expect(c.sync).toBe('OutOfSync');
    // One retry (limit 1) after the first failure: two failed attempts in all.
    expect(agent.events().filter((e) => e.reason === 'SyncRetrying')).toHaveLength(1);
    expect(await cmData('hub-options', 'ok')).toEqual({ x: '1' });
  });

  it('observe-only applies nothing and reports the difference', async () => {
    const created = await createApp(
      app('hub-observe', 'observe', {
        syncPolicy: {
          automated: { prune: true, selfHeal: true },
          syncOptions: ['ObserveOnly=true'],
        },
      }),
      ['syncOptions'],
    );
    expect(created.missing).toBeUndefined();
    const c = await waitFor('observed', async () => {
      const s = await appStatus('hub-observe');
      return s?.revision === head && s.appliedGeneration === s.desiredGeneration ? s : false;
    });
    expect(c.sync).toBe('OutOfSync');
    expect(c.message).toMatch(/^observe only: /);
    expect(await cmData('hub-observe', 'observed')).toBeUndefined();
  });

  it('keeps its inventory across an agent restart: the removal is pruned afterwards', async () => {
    await agent.stop();
    head = await repo.commit({ 'prune/a.yaml': null, 'prune/c.yaml': cm('c', { x: '1' }) });
    await refresh();
    agent = newAgent();
    const c = await settled('hub-prune', head);
    expect(c.resources.map((r: any) => r.name)).toEqual(['c']);
    expect(await cmData('hub-prune', 'a')).toBeUndefined();
  });

  it('heals drift while the hub is down and tells the hub when it is back', async () => {
    await hub.close();
    await eventually('agent notices the hub is gone', () => !agent.connected);
    const ref = { apiVersion: 'v1', kind: 'ConfigMap', name: 'greeting', namespace: 'hub-drift' };
    await mergePatchAs(east, 'kubectl-edit', ref, { data: { greeting: 'offline-edit' } });
    await waitFor(
      'healed without the hub',
      async () => (await cmData('hub-drift', 'greeting'))?.greeting === 'hello',
    );
    const healed = await eventually('an offline SelfHealed event', () =>
      agent.events().findLast((e) => e.reason === 'SelfHealed' && e.offline),
    );
    expect(healed.message).toMatch(
      /ConfigMap\/hub-drift\/greeting \(drift in \/data\/greeting \(desired "hello", live "offline-edit"\)\)/,
    );
    hub = await startTestHub({ databaseUrl: dbUrl, dataDir: hubDir.path, grpcPort });
    await waitFor('agent reconnected', () => Promise.resolve(agent.connected));
    await settled('hub-drift', head);
    // What happened offline reaches the hub after the reconnect (where it serves app events).
    const events = await api(hub).get('/api/v1/applications/hub-drift/events');
    expect(events.status).toBe(200);
    await waitFor('offline SelfHealed event at the hub', async () => {
      const res = await api(hub).get('/api/v1/applications/hub-drift/events');
      return res.body.some(
        (e: any) => e.reason === 'SelfHealed' && e.offline && e.message.includes('offline-edit'),
      );
    });
  });
});
