import { execFile } from 'node:child_process';
import { chmod, cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderToolPath } from '../../../test/support/chart-repo.js';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { makeBundle, parseManifests } from '../../manifests/src/index.js';
import { RenderError } from './errors.js';
import { Renderer } from './renderer.js';
import type { KustomizeOptions, RenderContext, RenderSource } from './types.js';

const run = promisify(execFile);
const ctx: RenderContext = { appName: 'web', namespace: 'default' };
const DIGEST = `sha256:${'a'.repeat(64)}`;

const FILES = {
  'base/kustomization.yaml': `resources:
  - deployment.yaml
  - service.yaml
labels:
  - pairs: { app: web }
    includeSelectors: true
`,
  'base/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.25
        - name: sidecar
          image: busybox:1.0
`,
  'base/service.yaml': `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports: [{ port: 80 }]
`,
  'overlays/prod/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ../../base
namePrefix: prod-
commonLabels:
  env: prod
images:
  - name: busybox
    newTag: "1.36"
patches:
  - path: replicas.yaml
  - target: { kind: Service, name: web }
    patch: |-
      - op: add
        path: /spec/type
        value: NodePort
configMapGenerator:
  - name: settings
    literals: [MODE=prod]
`,
  'overlays/prod/replicas.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
`,
  'broken/kustomization.yaml': 'resources:\n  - missing-file.yaml\n',
};

/** The overrides below, as the `kustomize edit` commands a person would type (Argo CD's order). */
const OVERRIDES: KustomizeOptions = {
  namePrefix: 'app-',
  nameSuffix: '-v2',
  images: ['nginx=registry.local/nginx:1.27', `busybox:*@${DIGEST}`],
  commonLabels: { team: 'platform' },
  commonAnnotations: { 'axle.io/owner': 'team-a', note: 'a:b' },
  namespace: 'prod-ns',
};
const EDITS = [
  ['edit', 'set', 'nameprefix', '--', 'app-'],
  ['edit', 'set', 'namesuffix', '--', '-v2'],
  ['edit', 'set', 'image', 'nginx=registry.local/nginx:1.27', `busybox:*@${DIGEST}`],
  ['edit', 'add', 'label', 'team:platform'],
  ['edit', 'add', 'annotation', 'axle.io/owner:team-a', 'note:a:b'],
  ['edit', 'set', 'namespace', 'prod-ns'],
];

describe('Renderer: Kustomize through the real binary', () => {
  let kustomize: string;
  let repo: TestRepo;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let git: GitCache;
  let sha: string;
  let renderer: Renderer;
  const src = (over: Partial<RenderSource> = {}): RenderSource => ({
    repoURL: repo.fileUrl,
    commit: sha,
    path: 'overlays/prod',
    ...over,
  });

  /** What `kustomize build` prints for the same files after the same edits, parsed. */
  async function direct(edits: string[][]): Promise<string> {
    const copy = join(dir.path, `direct-${Math.random().toString(36).slice(2)}`);
    await cp(repo.dir, copy, { recursive: true, filter: (s) => !s.includes('/.git') });
    const env = { PATH: process.env.PATH ?? '' };
    for (const args of edits) await run(kustomize, args, { cwd: join(copy, 'overlays/prod'), env });
    const { stdout } = await run(kustomize, ['build', join(copy, 'overlays/prod')], { env });
    return makeBundle(parseManifests(stdout, 'kustomize build')).json;
  }

  beforeAll(async () => {
    kustomize = renderToolPath('kustomize');
    repo = await TestRepo.create();
    sha = await repo.commit(FILES);
    dir = await tempDir('axle-render-kust-');
    git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
    renderer = new Renderer({ git, workDir: join(dir.path, 'work'), tools: { kustomize } });
  });
  afterAll(async () => {
    await renderer.close();
    await repo.remove();
    await dir.remove();
  });

  it('builds an overlay (base in ../../base, patches, generators) exactly as kustomize does', async () => {
    const b = await renderer.render(src(), ctx);
    expect(b.tool).toBe('kustomize');
    expect(b.json).toBe(await direct([]));
    const deploy = b.objects.find((o) => o.kind === 'Deployment')!;
    expect(deploy.metadata.name).toBe('prod-web');
    expect((deploy.spec as { replicas: number }).replicas).toBe(3);
  });

  it('applies app-level overrides like Argo CD (kustomize edit on a private copy)', async () => {
    const b = await renderer.render(src({ kustomize: OVERRIDES }), ctx);
    expect(b.json).toBe(await direct(EDITS));
    const deploy = b.objects.find((o) => o.kind === 'Deployment')!;
    expect(deploy.metadata).toMatchObject({
      name: 'app-web-v2',
      namespace: 'prod-ns',
      labels: { app: 'web', env: 'prod', team: 'platform' },
      annotations: { 'axle.io/owner': 'team-a', note: 'a:b' },
    });
    const images = (deploy.spec as any).template.spec.containers.map((c: any) => c.image);
    expect(images).toEqual(['registry.local/nginx:1.27', `busybox:1.36@${DIGEST}`]);
    // the shared checkout was not edited: a plain render still gives the original
    expect((await renderer.render(src(), ctx)).json).toBe(await direct([]));
  });

  it('makes the same overrides in-process when only kubectl is available', async () => {
    // A stand-in `kubectl` that runs `kustomize build`, so this runs wherever kustomize does.
    const shim = join(dir.path, 'kubectl');
    const calls = join(dir.path, 'kubectl-calls');
    await writeFile(
      shim,
      `#!/bin/sh\n[ "$1" = kustomize ] || { echo "unexpected: $*" >&2; exit 64; }\nshift\necho "$@" >> '${calls}'\nexec '${kustomize}' build "$@"\n`,
    );
    await chmod(shim, 0o755);
    const viaKubectl = new Renderer({
      git,
      workDir: join(dir.path, 'work-kubectl'),
      tools: { kubectl: shim },
    });
    try {
      const b = await viaKubectl.render(src({ kustomize: OVERRIDES }), ctx);
      expect(b.json).toBe(await direct(EDITS));
      expect(await readFile(calls, 'utf8')).toMatch(/overlays\/prod\n$/);
      expect(b.key).not.toBe((await renderer.render(src({ kustomize: OVERRIDES }), ctx)).key);
    } finally {
      await viaKubectl.close();
    }
  });

  it('fails with kustomize’s own message on a conflicting label unless forced', async () => {
    const conflict = { commonLabels: { env: 'staging' } };
    const err = await renderer.render(src({ kustomize: conflict }), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    expect((err as Error).message).toMatch(
      /^kustomize edit \(path "overlays\/prod"\): exited with status 1: .*label env already in kustomization file/s,
    );
    const forced = await renderer.render(
      src({ kustomize: { ...conflict, forceCommonLabels: true } }),
      ctx,
    );
    expect(forced.objects.every((o) => o.metadata.labels?.env === 'staging')).toBe(true);
  });

  it('names the tool and path and quotes stderr (without scratch paths) when the build fails', async () => {
    const err = (await renderer
      .render(src({ path: 'broken' }), ctx)
      .catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RenderError);
    expect(err.message).toMatch(
      /^kustomize build \(path "broken"\): exited with status 1: Error: /,
    );
    expect(err.message).toContain('missing-file.yaml');
    expect(err.message).not.toContain(dir.path);
  });

  it('keys kustomize renders by overrides, not by application', async () => {
    const a = await renderer.render(src(), { appName: 'a', namespace: 'x' });
    const b = await renderer.render(src(), { appName: 'b', namespace: 'y' });
    expect(a.key).toBe(b.key);
    expect(renderer.renderKey({ ...src(), tool: 'kustomize' }, ctx)).toBe(a.key);
    expect(renderer.renderKey(src({ kustomize: { namePrefix: 'x-' } }), ctx)).not.toBe(
      renderer.renderKey(src({ kustomize: { namePrefix: 'y-' } }), ctx),
    );
  });

  it('refuses a missing binary', async () => {
    const none = new Renderer({ git, workDir: join(dir.path, 'work-none') });
    await expect(none.render(src(), ctx)).rejects.toThrow(
      'kustomize (path "overlays/prod"): no kustomize or kubectl binary on the hub: put kustomize on PATH or set AXLE_KUSTOMIZE_PATH (npm install builds it when Go is present)',
    );
  });
});
