import { AxeBuilder } from '@axe-core/playwright';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { launchChromium, screenshotDir } from '../support/browser.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestHub,
  tempDir,
  TEST_ADMIN_TOKEN,
  waitFor,
  registerAndStartAgent,
} from '../support/hub-harness.js';
import { configMapValue, mergePatchAs } from './agent-support.js';

const cm = (name: string, v: string) =>
  `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n  v: "${v}"\n`;

/**
 * The web console in Debian's Chromium against a real hub, real agents and real test clusters:
 * sign-in, the fleet matrix, live drift, sync, rollback, adding a cluster, the audit log, a
 * read-only user, sign-out and an expired session. Every view is screenshotted
 * (test-results/web-console/) and checked with axe-core.
 */
describe('web console', () => {
  const clusters = inject('clusters');
  const [east, west] = clusters;
  let hub: RunningHub;
  let repo: TestRepo;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;
  let viewerToken: string;
  const agents: Agent[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  const shots = screenshotDir('web-console');
  const sha: Record<string, string> = {};

  const shoot = (name: string, p = page) =>
    p.screenshot({ path: join(shots, `${name}.png`), fullPage: true });

  /** axe-core on the current view: no serious or critical violations. */
  const accessible = async (view: string, p = page) => {
    const result = await new AxeBuilder({ page: p }).analyze();
    const bad = result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    expect(bad, `accessibility of ${view}`).toEqual([]);
  };

  const cellText = (p: Page, app: string, cluster: string) =>
    p.locator(`[data-app="${app}"] [data-cluster="${cluster}"]`).textContent({ timeout: 1000 });

  const signIn = async (p: Page, token: string) => {
    await p.goto(hub.httpUrl);
    await p.getByLabel('API token').fill(token);
    await p.keyboard.press('Enter');
  };

  beforeAll(async () => {
    repo = await TestRepo.create('axle-web-repo-');
    cleanup.push(() => repo.remove());
    sha.m1 = await repo.commit({
      'auto/cm.yaml': cm('auto', 'a1'),
      'manual/cm.yaml': cm('manual', 'm1'),
    });
    const dir = await tempDir('axle-hub-web-');
    cleanup.push(dir.remove);
    hub = await startTestHub({ databaseUrl: await createTestDatabase(), dataDir: dir.path });
    for (const c of clusters) {
      const labels = { env: c.name === 'east' ? 'prod' : 'staging' };
      agents.push(await registerAndStartAgent(hub, { cluster: c, labels, cleanup }));
    }
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
    viewerToken = (await api(hub).post('/api/v1/tokens', { name: 'viewer', role: 'readonly' })).body
      .token;
    const app = (name: string, path: string, automated: boolean) => ({
      name,
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path },
      destination: { clusters: clusters.map((c) => c.name), namespace: `ui-${path}` },
      syncPolicy: {
        ...(automated ? { automated: { prune: true, selfHeal: false } } : {}),
        syncOptions: ['CreateNamespace=true'],
      },
    });
    expect(
      (await api(hub).post('/api/v1/applications', app('web-auto', 'auto', true))).status,
    ).toBe(201);
    expect(
      (await api(hub).post('/api/v1/applications', app('web-manual', 'manual', false))).status,
    ).toBe(201);
    await waitFor('web-auto synced and healthy', async () => {
      const a = (await api(hub).get('/api/v1/applications/web-auto')).body;
      return a.status.sync === 'Synced' && a.status.health === 'Healthy';
    });
    browser = await launchChromium();
    admin = await browser.newContext({
      viewport: { width: 1400, height: 900 },
      reducedMotion: 'reduce',
    });
    page = await admin.newPage();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    for (const c of cleanup) await c();
  });

  it('signs in with a token typed into a password field, kept only as an HttpOnly SameSite=Strict cookie', async () => {
    await page.goto(hub.httpUrl);
    expect(await page.getByLabel('API token').getAttribute('type')).toBe('password');
    await signIn(page, 'axle_api_not-a-real-token');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('invalid API token');
    await accessible('sign-in');
    await shoot('sign-in');

    await signIn(page, TEST_ADMIN_TOKEN);
    await page.getByTestId('matrix').waitFor();
    const cookie = (await admin.cookies()).find((c) => c.name === 'axle_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(cookie!.value).not.toContain(TEST_ADMIN_TOKEN);
    expect(page.url()).not.toContain('axle_api');
    expect(
      await page.evaluate('localStorage.length + sessionStorage.length + document.cookie.length'),
    ).toBe(0);
  });

  it('shows every application × cluster with summary counts, filters and a live state', async () => {
    await page.getByTestId('live-state').filter({ hasText: 'Live' }).waitFor();
    await waitFor(
      'web-auto cells',
      async () => (await cellText(page, 'web-auto', 'east')) === 'SH',
    );
    expect(await cellText(page, 'web-auto', 'west')).toBe('SH');
    expect(await cellText(page, 'web-manual', 'east')).toBe('OM');
    const title = await page
      .locator('[data-app="web-auto"] [data-cluster="east"]')
      .getAttribute('title');
    expect(title).toBe(`web-auto on east: Synced, Healthy, revision ${sha.m1.slice(0, 8)}`);
    expect(await page.getByTestId('count-Synced').textContent()).toBe('1');
    expect(await page.getByTestId('count-OutOfSync').textContent()).toBe('1');
    expect(await page.getByTestId('count-Unreachable clusters').textContent()).toBe('0');

    // A cluster label filter keeps only the matching columns; a status filter only the bad rows.
    await page.getByLabel('Cluster labels').fill('env=prod');
    await waitFor('west column gone', async () =>
      (await page.locator('[data-cluster="west"]').count()) === 0 ? true : false,
    );
    expect(await page.locator('[data-cluster="east"]').count()).toBe(2);
    await page.getByLabel('Cluster labels').fill('');
    await page.getByLabel('Search').fill('manual');
    await waitFor('only web-manual', async () =>
      (await page.locator('[data-app]').count()) === 1 ? true : false,
    );
    await page.getByLabel('Search').fill('');
    // Keyboard: from an application's name, arrows move into its cells; Enter opens it there.
    await page.getByRole('link', { name: 'web-auto' }).focus();
    await page.keyboard.press('ArrowRight');
    await waitFor('a cell focused', async () =>
      (await page.evaluate('document.activeElement?.getAttribute("data-cluster")')) === 'east'
        ? true
        : false,
    );
    await page.keyboard.press('ArrowRight');
    await waitFor('the next cell focused', async () =>
      (await page.evaluate('document.activeElement?.getAttribute("data-cluster")')) === 'west'
        ? true
        : false,
    );
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/apps\/web-auto\?cluster=west$/);
    await page.goBack();
    await page.getByTestId('matrix').waitFor();
    await accessible('fleet');
    await shoot('fleet');
  });

  it('shows a hand edit in a cluster live in the matrix, then as a field diff', async () => {
    await mergePatchAs(
      east,
      'kubectl-edit',
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'auto', namespace: 'ui-auto' },
      { data: { v: 'edited' } },
    );
    // No reload: the hub's live stream changes the cell.
    await waitFor('drift in the east cell', async () =>
      (await cellText(page, 'web-auto', 'east'))?.includes('≠') ? true : false,
    );
    expect(await cellText(page, 'web-auto', 'west')).toBe('SH');
    expect(await page.getByTestId('count-Drifted').textContent()).toBe('1');

    await page.locator('[data-app="web-auto"] [data-cluster="east"]').click();
    await page.getByRole('heading', { name: 'Resources on east' }).waitFor();
    const diff = page.getByTestId('drift-diff');
    await diff.waitFor();
    const text = await diff.textContent();
    expect(text).toContain('/data/v');
    expect(text).toContain('"a1"');
    expect(text).toContain('"edited"');
    await accessible('application');
    await shoot('application-drift');

    await page.getByRole('tab', { name: 'Diff' }).click();
    await page.getByText('ConfigMap ui-auto/auto: live').waitFor();
    await shoot('application-diff');
  });

  it('syncs, and rolls back from the history', async () => {
    await page.goto(`${hub.httpUrl}/apps/web-manual`);
    await page.getByRole('button', { name: 'Sync', exact: true }).click();
    await waitFor('m1 on both clusters', async () =>
      (await configMapValue(east, 'ui-manual', 'manual')) === 'm1' &&
      (await configMapValue(west, 'ui-manual', 'manual')) === 'm1'
        ? true
        : false,
    );
    // The page follows by itself: both clusters Synced at m1.
    await waitFor('clusters Synced on the page', async () => {
      const rows = await page.locator('[data-testid="app-clusters"] tbody tr').allTextContents();
      return (
        rows.length === 2 &&
        rows.every((r) => r.includes('Synced') && r.includes(sha.m1.slice(0, 8)))
      );
    });

    sha.m2 = await repo.commit({ 'manual/cm.yaml': cm('manual', 'm2') });
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page
      .getByText(`pending ${sha.m2.slice(0, 8)}`)
      .first()
      .waitFor();
    await page.getByRole('button', { name: 'Sync', exact: true }).click();
    await waitFor('m2 on east', async () =>
      (await configMapValue(east, 'ui-manual', 'manual')) === 'm2' ? true : false,
    );

    const history = (await api(hub).get('/api/v1/applications/web-manual/history')).body;
    const first = history.find((h: any) => h.revision === sha.m1);
    await page.getByRole('tab', { name: 'History' }).click();
    await page.getByTestId('history').waitFor();
    await shoot('application-history');
    await page.getByRole('button', { name: `Roll back to #${first.id}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    await waitFor('m1 again on both clusters', async () =>
      (await configMapValue(east, 'ui-manual', 'manual')) === 'm1' &&
      (await configMapValue(west, 'ui-manual', 'manual')) === 'm1'
        ? true
        : false,
    );
  });

  it('adds a cluster by keyboard and shows the one-time bootstrap token and install manifest', async () => {
    await page.goto(`${hub.httpUrl}/clusters`);
    await page.getByTestId('clusters').waitFor();
    await accessible('clusters');
    // The Kubernetes version each agent reported its API server runs.
    expect(await page.getByTestId('clusters').textContent()).toMatch(/v1\.34\.\d+/);
    // Tab to "Add cluster" as a keyboard user would.
    await waitFor(
      'focus on Add cluster',
      async () => {
        await page.keyboard.press('Tab');
        return (await page.evaluate('document.activeElement?.textContent')) === 'Add cluster';
      },
      { intervalMs: 10, timeoutMs: 10_000 },
    );
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Add a cluster' }).waitFor();
    await page.keyboard.type('north');
    await page.keyboard.press('Tab');
    await page.keyboard.type('env=dev');
    await page.getByRole('button', { name: 'Add', exact: true }).press('Enter');
    await page.getByRole('dialog', { name: 'Add a cluster' }).waitFor({ state: 'hidden' });
    const token = await page.getByTestId('bootstrap-token').textContent();
    expect(token).toMatch(/^axle_boot/);
    expect(await page.getByTestId('install-manifest').textContent()).toContain(token!);
    await page.getByRole('button', { name: 'Copy install manifest' }).waitFor();
    await accessible('enrolment kit');
    await shoot('cluster-added');
    const north = (await api(hub).get('/api/v1/clusters/north')).body;
    expect(north.labels).toEqual({ env: 'dev' });
    await page.keyboard.press('Escape');
    // The new cluster (not connected) joins the matrix, counted unreachable.
    await page.goto(hub.httpUrl);
    await page.getByTestId('matrix').waitFor();
    expect(await page.getByTestId('count-Unreachable clusters').textContent()).toBe('1');
  });

  it('shows ApplicationSets with a dry-run preview, and the audit log with filters', async () => {
    const appset = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'ApplicationSet',
      metadata: { name: 'web-set' },
      spec: {
        generators: [{ list: { elements: [{ n: 'one' }, { n: 'two' }] } }],
        template: {
          metadata: { name: 'set-{{.n}}' },
          spec: {
            project: 'default',
            source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'auto' },
            destination: { name: 'east', namespace: 'ui-set-{{.n}}' },
          },
        },
        goTemplate: true,
      },
    };
    expect((await api(hub).post('/api/v1/applicationsets', appset)).status).toBe(201);
    await page.goto(`${hub.httpUrl}/appsets`);
    await page.getByRole('link', { name: 'web-set' }).click();
    await page.getByRole('link', { name: 'set-one' }).waitFor();
    // Generated applications show their own state: not deployed (manual sync) is not hidden.
    await waitFor('generated applications with their state', async () => {
      const text = (await page.getByTestId('generated').textContent()) ?? '';
      return text.includes('set-one') && text.includes('OutOfSync') && text.includes('Missing');
    });
    expect(await page.getByText('2 not synced').count()).toBe(1);
    await accessible('applicationset');
    await shoot('applicationset');

    await page.goto(`${hub.httpUrl}/appsets`);
    const preview = JSON.stringify({
      ...appset,
      spec: {
        ...appset.spec,
        generators: [{ list: { elements: [{ n: 'two' }, { n: 'three' }] } }],
      },
    });
    await page.getByLabel('ApplicationSet YAML').fill(preview);
    await page.getByRole('button', { name: 'Preview' }).click();
    const plan = await page.getByTestId('dry-run').textContent();
    expect(plan).toContain('Create (1): set-three');
    expect(plan).toContain('Delete (1): set-one');
    await accessible('applicationsets');
    await shoot('applicationsets');

    await page.goto(`${hub.httpUrl}/audit`);
    await page.getByTestId('audit').waitFor();
    expect(await page.getByTestId('audit').textContent()).toContain('session.start');
    await page.getByLabel('Kind').fill('Cluster');
    await waitFor('only Cluster events', async () => {
      const rows = await page.locator('[data-testid="audit"] tbody tr').allTextContents();
      return rows.length > 0 && rows.every((r) => r.includes('Cluster')) ? rows : false;
    });
    await accessible('audit log');
    await shoot('audit');
  });

  it('shows a read-only user no mutating controls, and the API refuses them anyway', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const viewer = await ctx.newPage();
      await signIn(viewer, viewerToken);
      await viewer.getByTestId('matrix').waitFor();
      await viewer.goto(`${hub.httpUrl}/apps/web-manual`);
      await viewer.getByRole('heading', { name: 'web-manual' }).waitFor();
      expect(await viewer.getByRole('button', { name: 'Sync', exact: true }).count()).toBe(0);
      expect(await viewer.getByRole('button', { name: 'Refresh' }).count()).toBe(0);
      await viewer.getByRole('tab', { name: 'History' }).click();
      await viewer.getByTestId('history').waitFor();
      expect(await viewer.getByRole('button', { name: /Roll back/ }).count()).toBe(0);
      await viewer.goto(`${hub.httpUrl}/clusters`);
      await viewer.getByTestId('clusters').waitFor();
      expect(await viewer.getByRole('button', { name: 'Add cluster' }).count()).toBe(0);
      expect(await viewer.getByRole('button', { name: 'Revoke' }).count()).toBe(0);
      await viewer.goto(`${hub.httpUrl}/appsets`);
      await viewer.getByRole('heading', { name: 'ApplicationSets' }).waitFor();
      expect(await viewer.getByRole('button', { name: 'Preview' }).count()).toBe(0);
      await shoot('read-only-clusters', viewer);
      const refused = await viewer.request.post(
        `${hub.httpUrl}/api/v1/applications/web-manual/sync`,
        {
          headers: { 'x-axle-console': '1' },
          data: {},
        },
      );
      expect(refused.status()).toBe(403);
      expect(await refused.text()).toContain('has role readonly');
    } finally {
      await ctx.close();
    }
    // The admin's cookie alone, without the console's header, changes nothing either.
    const bare = await page.request.post(`${hub.httpUrl}/api/v1/applications/web-manual/refresh`, {
      data: {},
    });
    expect(bare.status()).toBe(403);
    expect(await bare.text()).toContain('x-axle-console');
  });

  it("shows an app of apps: the parent's child applications, each linked back to it", async () => {
    await repo.commit({
      'root/child.yaml': [
        'apiVersion: argoproj.io/v1alpha1',
        'kind: Application',
        'metadata: { name: web-child, namespace: argocd }',
        'spec:',
        '  project: default',
        `  source: { repoURL: '${repo.fileUrl}', targetRevision: main, path: auto }`,
        '  destination: { name: east, namespace: ui-child }',
        '  syncPolicy: { automated: {}, syncOptions: [CreateNamespace=true] }',
        '',
      ].join('\n'),
    });
    await api(hub).post('/api/v1/webhooks/git', { repoURL: repo.fileUrl });
    const root = await api(hub).post('/api/v1/applications', {
      name: 'web-root',
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'root' },
      destination: { cluster: 'east', namespace: 'ui-root' },
      syncPolicy: { automated: { prune: true } },
    });
    expect(root.status, JSON.stringify(root.body)).toBe(201);
    await waitFor(
      'the child created',
      async () => (await api(hub).get('/api/v1/applications/web-child')).status === 200,
    );
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    try {
      const p = await ctx.newPage();
      await signIn(p, TEST_ADMIN_TOKEN);
      await p.getByTestId('matrix').waitFor();
      await p.goto(`${hub.httpUrl}/apps/web-root`);
      await p.getByRole('tab', { name: 'Child applications (1)' }).click();
      const table = p.getByRole('table', { name: 'Child applications' });
      await table.getByRole('link', { name: 'web-child' }).waitFor();
      await accessible('the child applications of a parent', p);
      await shoot('application-children', p);
      await table.getByRole('link', { name: 'web-child' }).click();
      await p.getByRole('heading', { name: 'web-child' }).waitFor();
      await p.getByRole('link', { name: 'web-root' }).click();
      await p.getByRole('heading', { name: 'web-root' }).waitFor();
    } finally {
      await ctx.close();
    }
  });

  it('signs out, and an expired session returns to sign-in', async () => {
    const cookie = (await admin.cookies()).find((c) => c.name === 'axle_session')!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    const after = await fetch(`${hub.httpUrl}/api/v1/fleet`, {
      headers: { cookie: `axle_session=${cookie.value}` },
    });
    expect(after.status).toBe(401);

    const brief = (
      await api(hub).post('/api/v1/tokens', { name: 'brief', role: 'admin', expiresInHours: 0.001 })
    ).body.token;
    const ctx = await browser.newContext();
    try {
      const p = await ctx.newPage();
      await signIn(p, brief);
      await p.getByTestId('matrix').waitFor();
      const session = (await ctx.cookies()).find((c) => c.name === 'axle_session')!;
      await waitFor(
        'the session to expire with its token',
        async () =>
          (
            await fetch(`${hub.httpUrl}/api/v1/session`, {
              headers: { cookie: `axle_session=${session.value}` },
            })
          ).status === 401,
        { timeoutMs: 20_000, intervalMs: 250 },
      );
      await p.reload();
      await p.getByLabel('API token').waitFor();
      expect(await p.getByTestId('matrix').count()).toBe(0);
    } finally {
      await ctx.close();
    }
  });
});
