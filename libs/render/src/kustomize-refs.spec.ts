import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderToolPath } from '../../../test/support/chart-repo.js';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { RenderError } from './errors.js';
import { checkKustomizeReferences, kustomizationRefs } from './kustomize-refs.js';
import { Renderer } from './renderer.js';
import type { RenderContext, RenderSource } from './types.js';

const ctx: RenderContext = { appName: 'app', namespace: 'ns' };
const SECRET = `apiVersion: v1
kind: ConfigMap
metadata:
  name: hub-local-secret
data:
  token: s3cr3t-from-hub-disk
`;
const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n';
/** Enough `..` to climb from any directory to `/`. */
const UP = '../'.repeat(40);

async function writeFiles(root: string, files: Record<string, string>): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), text);
  }
}

describe('Renderer: kustomize references must stay in the repository', () => {
  let outside: Awaited<ReturnType<typeof tempDir>>;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let repo: TestRepo;
  let other: TestRepo;
  let git: GitCache;
  let renderer: Renderer;
  let sleeper: ChildProcess;
  let sha: string;
  const src = (path: string, over: Partial<RenderSource> = {}): RenderSource => ({
    repoURL: repo.fileUrl,
    commit: sha,
    path,
    ...over,
  });
  const refused = (path: string, message: string) => new RenderError(message, 'kustomize', path);

  beforeAll(async () => {
    // A directory elsewhere on the hub's disk, a kustomization in it, and a git repository.
    outside = await tempDir('axle-kust-outside-');
    await writeFiles(outside.path, {
      'secret/kustomization.yaml': 'resources: [cm.yaml]\n',
      'secret/cm.yaml': SECRET,
    });
    other = await TestRepo.create();
    await other.commit({
      'secret/kustomization.yaml': 'resources: [cm.yaml]\n',
      'secret/cm.yaml': SECRET,
    });
    // A process whose working directory is that directory (as a concurrent render's tool is).
    sleeper = spawn('sleep', ['60'], { cwd: join(outside.path, 'secret'), stdio: 'ignore' });
    const outsideRel = `${UP}${outside.path.slice(1)}/secret`;
    repo = await TestRepo.create();
    sha = await repo.commit({
      'base/kustomization.yaml': 'resources: [cm.yaml]\n',
      'base/cm.yaml': CM,
      'ok/kustomization.yaml': 'resources:\n  - ../base\n',
      'dotdot/kustomization.yaml': `resources:\n  - ${outsideRel}\n`,
      'absolute/kustomization.yaml': `resources:\n  - ${outside.path}/secret\n`,
      'proc/kustomization.yaml': `resources:\n  - ${UP}proc/${sleeper.pid}/cwd\n`,
      'nested/kustomization.yaml': 'resources: [../mid]\n',
      'mid/kustomization.yaml': `resources:\n  - ../base\n  - ../${UP}${outside.path.slice(1)}/secret\n`,
      'fileurl/kustomization.yaml': `resources:\n  - file://${other.dir}//secret\n`,
      'generator/kustomization.yaml': `configMapGenerator:\n  - name: x\n    files: [key=${UP}etc/hostname]\n`,
      'remote/kustomization.yaml':
        'resources:\n  - https://127.0.0.1:1/org/repo//deploy?ref=v1.0.0\n',
    });
    dir = await tempDir('axle-render-kust-refs-');
    git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
    const kustomize = renderToolPath('kustomize');
    renderer = new Renderer({ git, workDir: join(dir.path, 'work'), tools: { kustomize } });
  });
  afterAll(async () => {
    sleeper?.kill();
    await renderer?.close();
    await repo?.remove();
    await other?.remove();
    await dir?.remove();
    await outside?.remove();
  });

  it('still builds a base inside the repository', async () => {
    const b = await renderer.render(src('ok'), ctx);
    expect(b.objects.map((o) => o.metadata.name)).toEqual(['cm']);
  });

  it('refuses a base outside the repository through ..', async () => {
    const entry = `${UP}${outside.path.slice(1)}/secret`;
    await expect(renderer.render(src('dotdot'), ctx)).rejects.toThrow(
      refused(
        'dotdot',
        `dotdot/kustomization.yaml: resources entry "${entry}" leads outside the repository`,
      ),
    );
    // also on the private copy made for app-level overrides
    await expect(
      renderer.render(src('dotdot', { kustomize: { namePrefix: 'x-' } }), ctx),
    ).rejects.toThrow('dotdot/kustomization.yaml: resources entry');
  });

  it('refuses an absolute path', async () => {
    await expect(renderer.render(src('absolute'), ctx)).rejects.toThrow(
      refused(
        'absolute',
        `absolute/kustomization.yaml: resources entry "${outside.path}/secret" is an absolute path: paths must be inside the repository`,
      ),
    );
  });

  it('refuses another process’s working directory through /proc/<pid>/cwd', async () => {
    await expect(renderer.render(src('proc'), ctx)).rejects.toThrow(
      `kustomize (path "proc"): proc/kustomization.yaml: resources entry "${UP}proc/${sleeper.pid}/cwd" leads outside the repository`,
    );
  });

  it('walks into bases and names the kustomization that leads out', async () => {
    await expect(renderer.render(src('nested'), ctx)).rejects.toThrow(
      'kustomize (path "nested"): mid/kustomization.yaml: resources entry "../../',
    );
  });

  it('refuses file:// URLs (kustomize clones any git repository on the disk from them)', async () => {
    await expect(renderer.render(src('fileurl'), ctx)).rejects.toThrow(
      'fileurl/kustomization.yaml: resources entry "file://',
    );
  });

  it('refuses generator files outside the repository, with the key= prefix stripped', async () => {
    await expect(renderer.render(src('generator'), ctx)).rejects.toThrow(
      `generator/kustomization.yaml: configMapGenerator[0].files entry "${UP}etc/hostname" leads outside the repository`,
    );
  });

  it('leaves remote bases to kustomize (Argo CD allows them)', async () => {
    const err = await renderer.render(src('remote'), ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RenderError);
    // kustomize itself ran (and could not fetch from a closed port)
    expect((err as Error).message).toMatch(/^kustomize build \(path "remote"\): exited/);
  });
});

describe('checkKustomizeReferences', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let root: string;
  let n = 0;
  /** A fresh repository tree on disk with `files`; returns its root. */
  const tree = async (files: Record<string, string>) => {
    const r = join(root, `t${n++}`);
    await writeFiles(r, files);
    return r;
  };
  const check = (
    r: string,
    path: string,
    limits?: Parameters<typeof checkKustomizeReferences>[3],
  ) => checkKustomizeReferences(r, join(r, path), path, limits);

  beforeAll(async () => {
    tmp = await tempDir('axle-kust-refs-');
    root = join(tmp.path, 'repos');
    await writeFiles(tmp.path, { 'outside/kustomization.yaml': 'resources: []\n' });
  });
  afterAll(async () => {
    await tmp.remove();
  });

  it('refuses a symbolic link inside the repository that points outside', async () => {
    const r = await tree({ 'app/kustomization.yaml': 'resources: [../link, ../rel]\n' });
    await symlink(join(tmp.path, 'outside'), join(r, 'link'));
    await expect(check(r, 'app')).rejects.toThrow(
      'kustomize (path "app"): app/kustomization.yaml: resources entry "../link" leads outside the repository through a symbolic link',
    );
    const r2 = await tree({ 'app/kustomization.yaml': 'resources: [../rel]\n' });
    await symlink('../../outside', join(r2, 'rel'));
    await expect(check(r2, 'app')).rejects.toThrow('resources entry "../rel" leads outside');
  });

  it('checks every path field, and not inline patches', async () => {
    const fields = [
      'bases: [X]',
      'components: [X]',
      'crds: [X]',
      'configurations: [X]',
      'generators: [X]',
      'transformers: [X]',
      'validators: [X]',
      'patchesStrategicMerge: [X]',
      'patches: [{path: X}]',
      'patchesJson6902: [{path: X, target: {kind: A}}]',
      'replacements: [{path: X}]',
      'openapi: {path: X}',
      'secretGenerator: [{name: s, envs: [X]}]',
      'configMapGenerator: [{name: s, env: X}]',
      'helmGlobals: {chartHome: X}',
      'helmCharts: [{name: c, valuesFile: X}]',
      'helmCharts: [{name: c, additionalValuesFiles: [X]}]',
    ];
    for (const f of fields) {
      const r = await tree({ 'app/kustomization.yaml': `${f.replace('X', '../../x')}\n` });
      const field = f.split(':')[0];
      await expect(check(r, 'app'), f).rejects.toThrow(
        new RegExp(`: ${field}.* entry "\\.\\./\\.\\./x" leads outside`),
      );
    }
    const r = await tree({
      'app/kustomization.yaml': `patches:
  - target: {kind: Service}
    patch: |-
      - op: add
        path: /metadata/annotations/x
        value: ../../../../etc
patchesStrategicMerge:
  - |-
    apiVersion: v1
    kind: Service
    metadata: {name: s, annotations: {a: /etc/passwd}}
`,
    });
    await expect(check(r, 'app')).resolves.toBeUndefined();
  });

  it('accepts remote bases, refuses other schemes', async () => {
    const refs = kustomizationRefs(
      'resources:\n  - github.com/org/repo//deploy?ref=v1\n  - git@github.com:org/repo.git\n  - https://example.com/a.yaml\n  - ssh://git@example.com/org/repo\n',
    );
    expect(refs).toHaveLength(4);
    const r = await tree({
      'app/kustomization.yaml': `resources:\n${refs.map((x) => `  - ${x.entry}\n`).join('')}`,
    });
    await expect(check(r, 'app')).resolves.toBeUndefined();
    const bad = await tree({ 'app/kustomization.yaml': 'resources: [FILE:///srv/git/x]\n' });
    await expect(check(bad, 'app')).rejects.toThrow('is a file URL');
  });

  it('stops at a cycle and refuses past its bounds', async () => {
    const cyc = await tree({
      'a/kustomization.yaml': 'resources: [../b]\n',
      'b/kustomization.yaml': 'resources: [../a]\n',
    });
    await expect(check(cyc, 'a')).resolves.toBeUndefined();
    const files: Record<string, string> = {};
    for (let i = 0; i < 8; i++) files[`k${i}/kustomization.yaml`] = `resources: [../k${i + 1}]\n`;
    files['k8/kustomization.yaml'] = 'resources: []\n';
    const chain = await tree(files);
    const limits = { maxKustomizations: 1000, maxDepth: 5, maxReferences: 100 };
    await expect(check(chain, 'k0', limits)).rejects.toThrow(
      'k5/kustomization.yaml: resources entry "../k6" nests kustomizations more than 5 deep',
    );
    await expect(check(chain, 'k0', { ...limits, maxKustomizations: 3 })).rejects.toThrow(
      'k2/kustomization.yaml: resources entry "../k3" is one kustomization more than the 3 allowed',
    );
    await expect(check(chain, 'k0', { ...limits, maxDepth: 50 })).resolves.toBeUndefined();
  });

  it('reads merge keys and every document like kustomize', async () => {
    const r = await tree({
      'app/kustomization.yaml': '<<: {resources: [../../x]}\n',
      'two/kustomization.yaml': 'resources: []\n---\nresources: [/etc]\n',
    });
    await expect(check(r, 'app')).rejects.toThrow('entry "../../x" leads outside');
    await expect(check(r, 'two')).rejects.toThrow('entry "/etc" is an absolute path');
  });
});
