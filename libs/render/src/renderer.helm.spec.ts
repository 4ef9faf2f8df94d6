import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isolatedHelmEnv,
  renderToolPath,
  serveChartRepo,
  type ChartRepo,
} from '../../../test/support/chart-repo.js';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { makeBundle, parseManifests } from '../../manifests/src/index.js';
import { RenderError } from './errors.js';
import { escapeSetValue } from './helm.js';
import { Renderer } from './renderer.js';
import type { HelmOptions, RenderContext, RenderSource } from './types.js';

const run = promisify(execFile);

const CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicas | quote }}
  replicasKind: {{ kindOf .Values.replicas | quote }}
  tag: {{ .Values.image.tag | quote }}
  tagKind: {{ kindOf .Values.image.tag | quote }}
  shared: {{ .Values.shared | default "none" | quote }}
  inline: {{ .Values.inline | default "none" | quote }}
  csv: {{ .Values.csv | default "none" | quote }}
  kube: {{ .Capabilities.KubeVersion.Version | quote }}
  hasApi: {{ .Capabilities.APIVersions.Has "example.com/v1" | quote }}
{{- if .Values.boom }}{{ fail "boom-from-chart" }}{{ end }}
`;
const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: { kind: Widget, plural: widgets }
  scope: Namespaced
  versions: [{ name: v1, served: true, storage: true, schema: { openAPIV3Schema: { type: object } } }]
`;
const TEST_HOOK = `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations: { "helm.sh/hook": test }
spec:
  containers: [{ name: t, image: busybox }]
`;
const HELLO_CHART = {
  'Chart.yaml': 'apiVersion: v2\nname: hello\nversion: 0.1.0\n',
  'values.yaml': 'message: hi\n',
  'values-alt.yaml': 'message: alt\n',
  'templates/cm.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hello\ndata:\n  message: {{ .Values.message | quote }}\n',
};

const ctx: RenderContext = { appName: 'web-app', namespace: 'team' };
const data = (b: { objects: any[] }, kind = 'ConfigMap') =>
  b.objects.find((o) => o.kind === kind && o.metadata.name.endsWith('-config'))?.data;

/**
 * A chart depending on `sub` from `declared`, with a lock file naming `locked` instead and the
 * digest `helm dependency build` checks (sha256 of both lists as JSON, as helm's HashReq), so
 * helm takes the lock. A template shows a file of what it fetched.
 */
function lockedChart(name: string, lockFile: string, declared: string, locked: string) {
  const dep = (repository: string) => ({ name: 'sub', version: '0.1.0', repository });
  const json = JSON.stringify([[dep(declared)], [dep(locked)]]);
  const digest = `sha256:${createHash('sha256').update(json).digest('hex')}`;
  return {
    [`charts/${name}/Chart.yaml`]: `apiVersion: v2\nname: ${name}\nversion: 1.0.0\ndependencies:\n  - name: sub\n    version: 0.1.0\n    repository: ${declared}\n`,
    [`charts/${name}/${lockFile}`]: `dependencies:\n  - name: sub\n    repository: ${locked}\n    version: 0.1.0\ndigest: ${digest}\ngenerated: "2024-01-01T00:00:00Z"\n`,
    [`charts/${name}/templates/cm.yaml`]:
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sub-file\ndata:\n  secret: {{ (index .Subcharts "sub").Files.Get "secret.txt" | quote }}\n',
  };
}

describe('Renderer: Helm through the real binary', () => {
  let helm: string;
  let repo: TestRepo;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let git: GitCache;
  let sha: string;
  let renderer: Renderer;
  let chartRepo: ChartRepo;
  let outside: string;
  const src = (helmOpts?: HelmOptions, over: Partial<RenderSource> = {}): RenderSource => ({
    repoURL: repo.fileUrl,
    commit: sha,
    path: 'charts/web',
    helm: helmOpts,
    ...over,
  });

  /** `helm template` run by hand on the working copy, parsed the same way. */
  async function direct(args: string[]): Promise<string> {
    const env = isolatedHelmEnv(join(dir.path, 'direct-helm'));
    const { stdout } = await run(helm, ['template', ...args], { env, cwd: dir.path });
    return makeBundle(parseManifests(stdout, 'helm template')).json;
  }

  beforeAll(async () => {
    helm = renderToolPath('helm');
    dir = await tempDir('axle-render-helm-');
    const hello = join(dir.path, 'hello');
    for (const [f, text] of Object.entries(HELLO_CHART)) {
      await mkdir(join(hello, f, '..'), { recursive: true });
      await writeFile(join(hello, f), text);
    }
    chartRepo = await serveChartRepo([hello]);
    // A chart outside the repository, with something a lock file could make helm copy in.
    outside = join(dir.path, 'outside-chart');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'Chart.yaml'), 'apiVersion: v2\nname: sub\nversion: 0.1.0\n');
    await writeFile(join(outside, 'secret.txt'), 'hub-secret');
    const toOutside = `file://${'../'.repeat(40)}${outside.slice(1)}`;
    repo = await TestRepo.create();
    sha = await repo.commit({
      ...lockedChart('locked-ok', 'Chart.lock', 'file://../sub', 'file://../sub'),
      ...lockedChart('locked-escape', 'Chart.lock', 'file://../sub', toOutside),
      ...lockedChart('locked-absolute', 'requirements.lock', 'file://../sub', `file://${outside}`),
      ...lockedChart('locked-elsewhere', 'Chart.lock', 'file://../sub', 'file://../web'),
      ...lockedChart('locked-http', 'Chart.lock', 'file://../sub', 'http://169.254.169.254/charts'),
      'charts/sub/Chart.yaml': 'apiVersion: v2\nname: sub\nversion: 0.1.0\n',
      'charts/sub/secret.txt': 'in-repo',
      'charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 0.1.0\n',
      'charts/web/values.yaml': 'replicas: 1\ngreeting: hello\nimage:\n  tag: "1.0"\n',
      'charts/web/values-prod.yaml': 'replicas: 3\ngreeting: bonjour\n',
      'charts/web/templates/configmap.yaml': CONFIGMAP,
      'charts/web/templates/tests/test.yaml': TEST_HOOK,
      'charts/web/crds/crd.yaml': CRD,
      'shared/common.yaml': 'shared: from-repo\n',
      'charts/umbrella/Chart.yaml': `apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n  - name: hello\n    version: 0.1.0\n    repository: ${chartRepo.url}\n`,
      'charts/umbrella/templates/own.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: own\n',
      'charts/floating/Chart.yaml': `apiVersion: v2\nname: floating\nversion: 1.0.0\ndependencies:\n  - name: hello\n    version: ~0.1.0\n    repository: ${chartRepo.url}\n`,
      'charts/escape/Chart.yaml':
        'apiVersion: v2\nname: escape\nversion: 1.0.0\ndependencies:\n  - name: x\n    version: 1.0.0\n    repository: file://../../../outside\n',
      'charts/absolute/Chart.yaml':
        'apiVersion: v2\nname: absolute\nversion: 1.0.0\ndependencies:\n  - name: x\n    version: 1.0.0\n    repository: file:///tmp/some-chart\n',
      'charts/alias/Chart.yaml':
        'apiVersion: v2\nname: alias\nversion: 1.0.0\ndependencies:\n  - name: x\n    version: 1.0.0\n    repository: "@stable"\n',
    });
    git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
    renderer = new Renderer({ git, workDir: join(dir.path, 'work'), tools: { helm } });
  });
  afterAll(async () => {
    await renderer?.close();
    await chartRepo?.close();
    await repo?.remove();
    await dir?.remove();
  });

  it('reads a value file from the repository root with a leading /, as Argo CD does, and no further', async () => {
    const up = await renderer.render(src({ valueFiles: ['../../shared/common.yaml'] }), ctx);
    const root = await renderer.render(src({ valueFiles: ['/shared/common.yaml'] }), ctx);
    expect(data(root)).toEqual(data(up));
    expect(data(root)).toMatchObject({ shared: 'from-repo' });
    await expect(renderer.render(src({ valueFiles: ['/../outside.yaml'] }), ctx)).rejects.toThrow(
      'value file "/../outside.yaml" is outside the repository',
    );
  });

  it('renders a chart from git with value files, inline values and parameters like `helm template`', async () => {
    const opts: HelmOptions = {
      releaseName: 'web-release',
      valueFiles: ['values-prod.yaml', '../../shared/common.yaml'],
      values: 'inline: from-values\n',
      parameters: [
        { name: 'image.tag', value: '2.0', forceString: true },
        { name: 'replicas', value: '5' },
        { name: 'csv', value: 'a,b,c', forceString: true },
      ],
    };
    const b = await renderer.render(src(opts), ctx);
    expect(b.tool).toBe('helm');
    const inline = join(dir.path, 'inline.yaml');
    await writeFile(inline, 'inline: from-values\n');
    const w = join(repo.dir, 'charts/web');
    expect(b.json).toBe(
      await direct([
        'web-release',
        w,
        '--namespace',
        'team',
        '--values',
        join(w, 'values-prod.yaml'),
        '--values',
        join(repo.dir, 'shared/common.yaml'),
        '--values',
        inline,
        '--set-string',
        'image.tag=2.0',
        '--set',
        'replicas=5',
        '--set-string',
        'csv=a\\,b\\,c',
        '--include-crds',
      ]),
    );
    expect(data(b)).toMatchObject({
      greeting: 'bonjour',
      replicas: '5',
      replicasKind: 'int64',
      tag: '2.0',
      tagKind: 'string',
      shared: 'from-repo',
      inline: 'from-values',
      csv: 'a,b,c',
    });
    expect(b.objects.find((o) => o.kind === 'CustomResourceDefinition')).toBeDefined();
    expect(b.objects.find((o) => o.kind === 'ConfigMap')!.metadata).toMatchObject({
      name: 'web-release-config',
      namespace: 'team',
    });
  });

  it('defaults the release name and namespace to the application’s, and honours skipCrds/skipTests', async () => {
    const b = await renderer.render(src({ skipCrds: true, skipTests: true }), ctx);
    expect(b.json).toBe(
      await direct([
        'web-app',
        join(repo.dir, 'charts/web'),
        '--namespace',
        'team',
        '--skip-tests',
      ]),
    );
    expect(b.objects.map((o) => o.kind)).toEqual(['ConfigMap']);
    expect(data(b)).toMatchObject({ greeting: 'hello', inline: 'none' });
    const withTests = await renderer.render(src(), ctx);
    expect(withTests.objects.map((o) => o.kind).sort()).toEqual([
      'ConfigMap',
      'CustomResourceDefinition',
      'Pod',
    ]);
  });

  it('uses valuesObject over values, and passes the destination’s kube and API versions', async () => {
    const b = await renderer.render(
      src({ values: 'inline: from-values', valuesObject: { inline: 'from-object' } }),
      { ...ctx, kubeVersion: 'v1.31.0', apiVersions: ['example.com/v1'] },
    );
    expect(data(b)).toMatchObject({ inline: 'from-object', kube: 'v1.31.0', hasApi: 'true' });
  });

  it('keys helm renders by release name and namespace (the application’s by default)', () => {
    const k = (c: RenderContext, h?: HelmOptions) => renderer.renderKey(src(h ?? {}), c);
    expect(k(ctx)).not.toBe(k({ ...ctx, appName: 'other' }));
    expect(k(ctx)).not.toBe(k({ ...ctx, namespace: 'other' }));
    expect(k(ctx, { releaseName: 'r', namespace: 'n' })).toBe(
      k({ appName: 'other', namespace: 'elsewhere' }, { releaseName: 'r', namespace: 'n' }),
    );
    expect(k(ctx)).not.toBe(k({ ...ctx, kubeVersion: 'v1.30.0' }));
  });

  it('renders a chart from an HTTP chart repository (helm pull into a private HELM_* home)', async () => {
    const chartSrc = (h?: HelmOptions): RenderSource => ({
      repoURL: chartRepo.url,
      commit: '',
      path: '',
      chart: 'hello',
      chartVersion: '0.1.0',
      helm: h,
    });
    const before = chartRepo.requests();
    const b = await renderer.render(chartSrc({ valueFiles: ['values-alt.yaml'] }), ctx);
    expect(chartRepo.requests()).toBeGreaterThan(before);
    const env = isolatedHelmEnv(join(dir.path, 'pull-helm'));
    const pulled = join(dir.path, 'pulled');
    await run(
      helm,
      [
        'pull',
        'hello',
        '--repo',
        chartRepo.url,
        '--version',
        '0.1.0',
        '--untar',
        '--untardir',
        pulled,
      ],
      { env },
    );
    expect(b.json).toBe(
      await direct([
        'web-app',
        'hello',
        '--repo',
        chartRepo.url,
        '--version',
        '0.1.0',
        '--namespace',
        'team',
        '--values',
        join(pulled, 'hello/values-alt.yaml'),
        '--include-crds',
      ]),
    );
    expect(b.objects[0].data).toEqual({ message: 'alt' });
    await expect(
      renderer.render(chartSrc({ valueFiles: ['../../../../etc/passwd'] }), ctx),
    ).rejects.toThrow('helm (path "."): value file "../../../../etc/passwd" is outside the chart');
    // A leading / is the chart's root here (the repository's for a chart from git).
    await expect(
      renderer.render(chartSrc({ valueFiles: ['/../../etc/passwd'] }), ctx),
    ).rejects.toThrow('helm (path "."): value file "/../../etc/passwd" is outside the chart');
    await expect(renderer.render({ ...chartSrc(), chartVersion: '9.9.9' }, ctx)).rejects.toThrow(
      /^helm pull hello \(path "."\): exited with status 1: .*9\.9\.9/s,
    );
  });

  it('builds chart dependencies from their repository (bounded), refusing escapes and unknown repositories', async () => {
    const b = await renderer.render(src(undefined, { path: 'charts/umbrella' }), ctx);
    expect(b.objects.map((o) => o.metadata.name).sort()).toEqual(['own', 'web-app-hello']);
    expect(b.unpinned).toBeUndefined(); // one version: the same output whenever it renders
    // A range with no lock file: what it resolves to moves without a commit, not to be cached.
    const floating = await renderer.render(src(undefined, { path: 'charts/floating' }), ctx);
    expect(floating.objects.map((o) => o.metadata.name)).toEqual(['web-app-hello']);
    expect(floating.unpinned).toBe(true);
    await expect(renderer.render(src(undefined, { path: 'charts/escape' }), ctx)).rejects.toThrow(
      'helm (path "charts/escape"): dependency x: file://../../../outside is outside the repository',
    );
    await expect(renderer.render(src(undefined, { path: 'charts/absolute' }), ctx)).rejects.toThrow(
      'helm (path "charts/absolute"): dependency x: file:///tmp/some-chart is outside the repository',
    );
    await expect(renderer.render(src(undefined, { path: 'charts/alias' }), ctx)).rejects.toThrow(
      /dependency x is not in charts\/ and its repository "@stable" is not an http\(s\), oci or file URL/,
    );
    const few = new Renderer({
      git,
      workDir: join(dir.path, 'work-few'),
      tools: { helm },
      maxChartDependencies: 0,
    });
    await expect(few.render(src(undefined, { path: 'charts/umbrella' }), ctx)).rejects.toThrow(
      /chart has 1 dependencies, more than 0/,
    );
  });

  it('checks the dependencies a lock file names as those of Chart.yaml', async () => {
    // helm builds what the lock names when its digest matches; the digest anyone can compute.
    const ok = await renderer.render(src(undefined, { path: 'charts/locked-ok' }), ctx);
    expect(ok.objects[0].data).toEqual({ secret: 'in-repo' });
    const render = (path: string) => renderer.render(src(undefined, { path }), ctx);
    await expect(render('charts/locked-escape')).rejects.toThrow(
      /^helm \(path "charts\/locked-escape"\): Chart\.lock: dependency sub: file:\/\/(\.\.\/)+.* is outside the repository$/,
    );
    await expect(render('charts/locked-absolute')).rejects.toThrow(
      `helm (path "charts/locked-absolute"): requirements.lock: dependency sub: file://${outside} is outside the repository`,
    );
    await expect(render('charts/locked-elsewhere')).rejects.toThrow(
      'helm (path "charts/locked-elsewhere"): Chart.lock: dependency sub from "file://../web", but the chart declares it from "file://../sub"',
    );
    await expect(render('charts/locked-http')).rejects.toThrow(
      'helm (path "charts/locked-http"): Chart.lock: dependency sub from "http://169.254.169.254/charts", but the chart declares it from "file://../sub"',
    );
  });

  it('quotes the chart’s error and refuses value files outside the repository', async () => {
    const err = (await renderer
      .render(src({ parameters: [{ name: 'boom', value: 'true' }] }), ctx)
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RenderError);
    expect(err.message).toMatch(/^helm template \(path "charts\/web"\): exited with status 1: /);
    expect(err.message).toContain('boom-from-chart');
    expect(err.message).not.toContain(dir.path);
    await expect(
      renderer.render(src({ valueFiles: ['../../../secrets.yaml'] }), ctx),
    ).rejects.toThrow(
      'helm (path "charts/web"): value file "../../../secrets.yaml" is outside the repository',
    );
    // A leading / is the repository's root (Argo CD's reading), never the hub's file system.
    await expect(renderer.render(src({ valueFiles: ['/etc/passwd'] }), ctx)).rejects.toThrow(
      'value file "/etc/passwd" does not exist',
    );
    await expect(renderer.render(src({ valueFiles: ['nope.yaml'] }), ctx)).rejects.toThrow(
      'helm (path "charts/web"): value file "nope.yaml" does not exist',
    );
    const ignored = await renderer.render(
      src({ valueFiles: ['nope.yaml'], ignoreMissingValueFiles: true }),
      ctx,
    );
    expect(data(ignored)).toMatchObject({ greeting: 'hello' });
  });

  it('escapes commas in --set values', () => {
    expect(escapeSetValue('a,b\\,c,')).toBe('a\\,b\\,c\\,');
  });
});
