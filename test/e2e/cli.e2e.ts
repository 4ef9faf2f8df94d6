import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  waitFor,
  TOKEN_AUTH,
} from '../support/hub-harness.js';
import { axle as runAxle } from '../support/cli.js';

describe('axle CLI against a running hub', () => {
  let hub: RunningHub;
  let dir: Awaited<ReturnType<typeof tempDir>>;

  const axle = (...args: string[]) => runAxle(hub, args);

  beforeAll(async () => {
    dir = await tempDir('axle-cli-hub-');
    hub = await startTestHub({
      databaseUrl: await createTestDatabase(),
      dataDir: dir.path,
      env: TOKEN_AUTH,
    });
  });
  afterAll(async () => {
    await hub?.close();
    await dir?.remove();
  });

  it('cluster add|list|get|delete with -o json|yaml and tables', async () => {
    const add = await axle(
      'cluster',
      'add',
      'prod-eu',
      '--label',
      'env=prod',
      '--label',
      'region=eu',
      '-o',
      'json',
    );
    expect(add.code).toBe(0);
    const added = JSON.parse(add.out) as {
      cluster: { name: string; labels: object };
      agentToken: string;
    };
    expect(added.cluster).toMatchObject({ name: 'prod-eu', labels: { env: 'prod', region: 'eu' } });
    expect(added.agentToken).toMatch(/^axle_agent_/);

    expect((await axle('cluster', 'add', 'dev')).out).toMatch(
      /cluster "dev" registered\nagent token \(shown once\): axle_agent_/,
    );

    const list = await axle('cluster', 'list');
    expect(list.out.split('\n')[0]).toMatch(/^NAME\s+AGENT\s+KUBERNETES\s+LABELS\s+AGE$/);
    expect(list.out).toMatch(/prod-eu\s+disconnected\s+<unknown>\s+env=prod,region=eu/);
    // Filtered by labels (as kubectl's -l) and by the agent's connection.
    const clusterNames = async (...args: string[]) =>
      (
        JSON.parse((await axle('-o', 'json', 'cluster', 'list', ...args)).out) as {
          name: string;
        }[]
      ).map((c) => c.name);
    expect(await clusterNames('-l', 'env=prod,region in (eu,us)')).toEqual(['prod-eu']);
    expect(await clusterNames('-l', 'env!=prod')).toEqual(['dev']);
    expect(await clusterNames('-l', '!region')).toEqual(['dev']);
    expect(await clusterNames('-l', 'region')).toEqual(['prod-eu']);
    expect(await clusterNames('--disconnected')).toEqual(['dev', 'prod-eu']);
    expect(await clusterNames('--connected')).toEqual([]);
    const clusterPage = await api(hub).get('/api/v1/clusters?limit=1&after=dev');
    expect((clusterPage.body as { name: string }[]).map((c) => c.name)).toEqual(['prod-eu']);
    const badSelector = await axle('cluster', 'list', '-l', 'env=prod,,x');
    expect(badSelector.code).toBe(1);
    expect(badSelector.err).toMatch(/selector.*empty requirement/);
    expect((await api(hub).get('/api/v1/clusters?selector=replicas%3E3')).status).toBe(400);
    expect((await api(hub).get('/api/v1/clusters?connected=yes')).status).toBe(400);

    const get = await axle('-o', 'yaml', 'cluster', 'get', 'prod-eu');
    expect(parse(get.out)).toMatchObject({ name: 'prod-eu', labels: { env: 'prod' } });

    expect((await axle('cluster', 'delete', 'dev')).code).toBe(0);
    const missing = await axle('cluster', 'get', 'dev');
    expect(missing.code).toBe(1);
    expect(missing.err).toBe('error: 404 cluster "dev" not found\n');
  });

  it('says which applications of a file were created before one was refused', async () => {
    const file = join(dir.path, 'partly.yaml');
    writeFileSync(
      file,
      `name: partly-ok
source: { repoURL: "file:///nowhere/repo", targetRevision: main, path: ok }
destination: { cluster: prod-eu, namespace: ok }
---
name: Partly_Bad
source: { repoURL: "file:///nowhere/repo", targetRevision: main, path: bad }
destination: { cluster: prod-eu, namespace: bad }
`,
    );
    const r = await axle('app', 'create', '-f', file);
    expect(r.code).toBe(1);
    expect(r.out).toBe('application "partly-ok" created\n');
    expect(r.err).toMatch(/^error: 400/);
    expect((await api(hub).delete('/api/v1/applications/partly-ok')).status).toBe(204);
  });

  it('names the bad field when the hub refuses input', async () => {
    const r = await axle('cluster', 'add', 'Bad_Name');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: 400 invalid cluster\n {2}name: must be a DNS-1123 label/);
    const kv = await axle('cluster', 'add', 'ok', '--label', 'novalue');
    expect(kv.err).toBe('error: --label "novalue": expected key=value\n');
  });

  it('app create -f (Axle and Argo CD documents), list, get', async () => {
    const file = join(dir.path, 'apps.yaml');
    writeFileSync(
      file,
      `name: guestbook
labels: { team: web }
source: { repoURL: "file:///nowhere/repo", targetRevision: main, path: guestbook }
destination: { cluster: prod-eu, namespace: guestbook }
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: { name: podinfo, labels: { team: infra, tier: edge } }
spec:
  project: default
  source: { repoURL: "file:///nowhere/repo", targetRevision: HEAD, path: podinfo }
  destination: { name: prod-eu, namespace: podinfo }
  syncPolicy: { automated: { prune: true } }
`,
    );
    const c = await axle('app', 'create', '-f', file);
    expect(c.code).toBe(0);
    expect(c.out).toBe('application "guestbook" created\napplication "podinfo" created\n');
    const list = await axle('-o', 'json', 'app', 'list');
    expect((JSON.parse(list.out) as { name: string }[]).map((a) => a.name)).toEqual([
      'guestbook',
      'podinfo',
    ]);
    // Read a page at a time, and filtered.
    const names = async (...args: string[]) =>
      (
        JSON.parse((await axle('-o', 'json', 'app', 'list', ...args)).out) as { name: string }[]
      ).map((a) => a.name);
    expect(await names('--limit', '1')).toEqual(['guestbook']);
    expect(await names('--project', 'default', '--cluster', 'prod-eu')).toEqual([
      'guestbook',
      'podinfo',
    ]);
    expect(await names('--cluster', 'dev-us')).toEqual([]);
    expect(await names('--project', 'nope')).toEqual([]);
    // By labels (Axle's, and an Argo CD document's metadata.labels), as kubectl's -l selects.
    expect(await names('-l', 'team=web')).toEqual(['guestbook']);
    expect(await names('-l', 'team in (web,infra)', '--cluster', 'prod-eu')).toEqual([
      'guestbook',
      'podinfo',
    ]);
    expect(await names('-l', 'tier')).toEqual(['podinfo']);
    expect(await names('-l', '!tier,team!=infra')).toEqual(['guestbook']);
    expect(await names('-l', 'team=nobody')).toEqual([]);
    const badAppSelector = await api(hub).get('/api/v1/applications?selector=team%3D%3D%3Dx');
    expect(badAppSelector.status).toBe(400);
    expect(badAppSelector.body.fields[0].field).toBe('selector');
    const badLabel = await api(hub).post('/api/v1/applications', {
      name: 'badly-labelled',
      labels: { 'team/with/slashes': 'x' },
      source: { repoURL: 'file:///nowhere/repo', targetRevision: 'main', path: 'x' },
      destination: { cluster: 'prod-eu', namespace: 'x' },
    });
    expect(badLabel.status).toBe(400);
    expect(badLabel.body.fields[0].field).toMatch(/^labels/);
    const page = await api(hub).get('/api/v1/applications?limit=1&after=guestbook');
    expect((page.body as { name: string }[]).map((a) => a.name)).toEqual(['podinfo']);
    const bad = await api(hub).get('/api/v1/applications?limit=0');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('limit');
    expect((await api(hub).get('/api/v1/applications?sort=name')).status).toBe(400);
    // By status, as the list shows it: each state asked gets exactly the applications in it.
    // Their repository does not exist: once both renders have failed, their status stays put
    // (before, one could still be pending, OutOfSync, and turn Unknown between two reads).
    type Status = { name: string; status: { sync: string; health: string; conditions: unknown[] } };
    const shown = await waitFor('both renders failed', async () => {
      const apps = (await api(hub).get('/api/v1/applications')).body as Status[];
      return apps.every((a) => a.status.conditions.length > 0) && apps;
    });
    for (const [flag, of] of [
      ['--sync', (a: Status) => a.status.sync],
      ['--health', (a: Status) => a.status.health],
    ] as const) {
      const states = [...new Set(shown.map(of))];
      for (const state of states)
        expect(await names(flag, state), `${flag} ${state}`).toEqual(
          shown.filter((a) => of(a) === state).map((a) => a.name),
        );
      expect(await names(flag, states.join(','), '--limit', '1')).toEqual(['guestbook']);
    }
    const everyHealth = ['Healthy', 'Progressing', 'Degraded', 'Suspended', 'Missing', 'Unknown'];
    const absent = everyHealth.filter((h) => !shown.some((a) => a.status.health === h));
    expect(await names('--health', absent.join(','))).toEqual([]);
    const badState = await api(hub).get('/api/v1/applications?health=Broken');
    expect(badState.status).toBe(400);
    expect(badState.body.fields).toEqual([
      { field: 'health', reason: expect.stringMatching(/^"Broken" is not one of Healthy, /) },
    ]);
    // A repeated parameter is the union of its lists, through the hub's own query parser.
    const repeated = await api(hub).get(
      `/api/v1/applications?${everyHealth.map((h) => `health=${h}`).join('&')}`,
    );
    expect((repeated.body as Status[]).map((a) => a.name)).toEqual(['guestbook', 'podinfo']);
    // Given empty, a filter is refused by name, not dropped (which listed every application).
    const empty = await axle('app', 'list', '--sync', '');
    expect(empty.code).not.toBe(0);
    expect(empty.err).toMatch(/sync/);
    const get = await axle('-o', 'yaml', 'app', 'get', 'podinfo');
    const app = parse(get.out) as {
      labels: object;
      spec: { destination: object; syncPolicy: object };
    };
    expect(app.labels).toEqual({ team: 'infra', tier: 'edge' });
    expect(app.spec.destination).toEqual({ cluster: 'prod-eu', namespace: 'podinfo' });
    expect(app.spec.syncPolicy).toEqual({ automated: { prune: true, selfHeal: false } });
    // A spec alone keeps the labels; a whole application replaces them (none given: none).
    const shownBack = (await api(hub).get('/api/v1/applications/guestbook')).body;
    const specOnly = await api(hub).put('/api/v1/applications/guestbook', shownBack.spec);
    expect(specOnly.body.labels).toEqual({ team: 'web' });
    const relabelled = await api(hub).put('/api/v1/applications/guestbook', {
      name: 'guestbook',
      labels: { team: 'web', env: 'prod' },
      spec: shownBack.spec,
    });
    expect(relabelled.status, JSON.stringify(relabelled.body)).toBe(200);
    expect(relabelled.body.labels).toEqual({ team: 'web', env: 'prod' });
    expect(await names('-l', 'env=prod')).toEqual(['guestbook']);
    const audit = (await api(hub).get('/api/v1/events?kind=Application&name=guestbook')).body;
    expect(audit[0]).toMatchObject({
      action: 'application.update',
      after: { labels: { env: 'prod' } },
    });
    const table = await axle('app', 'get', 'guestbook');
    expect(table.out.split('\n')[0]).toMatch(/^NAME\s+SYNC\s+HEALTH\s+REVISION\s+CLUSTERS$/);

    // The agent of the destination away past the grace: Unknown in a page as in the whole list.
    const db = hub.app.get(DataSource);
    await db.query(
      `UPDATE clusters SET connected = false, last_seen_at = now() - interval '1 hour' WHERE name = 'prod-eu'`,
    );
    type Listed = { name: string; status: { clusters: { sync: string; message: string }[] } };
    const away = (list: Listed[]) =>
      list
        .filter((a) => a.name === 'guestbook')
        .map((a) => [a.status.clusters[0]?.sync, a.status.clusters[0]?.message.split(';')[0]]);
    const expected = [['Unknown', expect.stringMatching(/^agent not connected since /)]];
    expect(away((await api(hub).get('/api/v1/applications?limit=1')).body)).toEqual(expected);
    expect(away((await api(hub).get('/api/v1/applications')).body)).toEqual(expected);
    await db.query(`UPDATE clusters SET last_seen_at = NULL WHERE name = 'prod-eu'`);
  });

  it('appset create --dry-run, create, list, get', async () => {
    const file = join(dir.path, 'appset.yaml');
    writeFileSync(
      file,
      `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: { name: envs }
spec:
  goTemplate: true
  generators:
    - list:
        elements:
          - { env: one }
          - { env: two }
  template:
    metadata: { name: 'svc-{{.env}}' }
    spec:
      project: default
      source: { repoURL: "file:///nowhere/repo", targetRevision: main, path: 'envs/{{.env}}' }
      destination: { name: prod-eu, namespace: 'svc-{{.env}}' }
`,
    );
    const dry = await axle('appset', 'create', '--dry-run', '-f', file);
    expect(dry.code).toBe(0);
    expect(dry.out).toBe(
      'create   svc-one\ncreate   svc-two\n2 application(s): 2 to create, 0 to update, 0 to delete, 0 unchanged\n',
    );
    // A preview with an error fails (exit 1), the rest still shown.
    const broken = join(dir.path, 'broken.yaml');
    writeFileSync(
      broken,
      readFileSync(file, 'utf8')
        .replace('name: envs', 'name: broken')
        .replace('- { env: two }', '- { env: two }\n          - { env: Bad_Name }'),
    );
    const failed = await axle('appset', 'create', '--dry-run', '-f', broken);
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/^create {3}svc-one\ncreate {3}svc-two\nerror {4}svc-Bad_Name: /);
    expect((await axle('appset', 'create', '-f', file)).out).toBe(
      'applicationset "envs" created\n',
    );
    await waitFor('generated', async () =>
      (await axle('-o', 'json', 'appset', 'get', 'envs')).out.includes('svc-two'),
    );
    const got = JSON.parse((await axle('-o', 'json', 'appset', 'get', 'envs')).out);
    expect(got.applications).toEqual(['svc-one', 'svc-two']);
    // Their repository does not exist: the ApplicationSet is not called Healthy.
    await waitFor('failing applications shown', async () =>
      /^NAME\s+APPS\s+STATUS\s+MESSAGE\nenvs\s+2\s+ApplicationErrors\s+2 application\(s\) failing; svc-one: SourceError: /.test(
        (await axle('appset', 'list')).out,
      ),
    );
    const dup = await axle('appset', 'create', '-f', file);
    expect(dup.err).toBe('error: 409 ApplicationSet "envs" already exists\n');
  });
});
