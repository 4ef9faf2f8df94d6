import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { detectTool, explicitTool } from './detect.js';
import { RenderError } from './errors.js';
import { Renderer } from './renderer.js';
import type { RenderContext, RenderSource } from './types.js';

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;
const names = (b: { objects: { metadata: { name: string } }[] }) =>
  b.objects.map((o) => o.metadata.name).sort();
const ctx: RenderContext = { appName: 'app', namespace: 'ns' };

describe('Renderer: plain directories, tool detection, keys', () => {
  let repo: TestRepo;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let git: GitCache;
  let sha: string;
  let renderer: Renderer;
  const src = (over: Partial<RenderSource> = {}): RenderSource => ({
    repoURL: repo.fileUrl,
    commit: sha,
    path: 'plain',
    ...over,
  });

  beforeAll(async () => {
    repo = await TestRepo.create();
    sha = await repo.commit({
      'plain/a.yaml': cm('a'),
      'plain/b.yml': `${cm('b1')}---\n${cm('b2')}`,
      'plain/c.json': JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c' } }),
      'plain/README.md': '# not a manifest',
      'plain/nested/d.yaml': cm('d'),
      'plain/nested/deeper/e.yaml': cm('e'),
      'kust/kustomization.yaml': 'resources: []\n',
      'kust/Chart.yaml': 'apiVersion: v2\nname: x\nversion: 0.1.0\n',
      'chart/Chart.yaml': 'apiVersion: v2\nname: x\nversion: 0.1.0\n',
      'chart/sub/kustomization.yaml': 'resources: []\n',
    });
    dir = await tempDir('axle-render-dir-');
    git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
    renderer = new Renderer({ git, workDir: join(dir.path, 'work') });
  });
  afterAll(async () => {
    await renderer.close();
    await repo.remove();
    await dir.remove();
  });

  it('is not recursive by default (Argo CD), recursive on request or by configuration', async () => {
    expect(names(await renderer.render(src(), ctx))).toEqual(['a', 'b1', 'b2', 'c']);
    const deep = await renderer.render(src({ directory: { recurse: true } }), ctx);
    expect(names(deep)).toEqual(['a', 'b1', 'b2', 'c', 'd', 'e']);
    const recursing = new Renderer({
      git,
      workDir: join(dir.path, 'work2'),
      directoryRecurseDefault: true,
    });
    expect((await recursing.render(src(), ctx)).hash).toBe(deep.hash);
    expect(names(await recursing.render(src({ directory: { recurse: false } }), ctx))).toHaveLength(
      4,
    );
  });

  it('filters with include/exclude globs on the path relative to the source path', async () => {
    const r = (directory: RenderSource['directory']) =>
      renderer.render(src({ directory: { recurse: true, ...directory } }), ctx).then(names);
    expect(await r({ include: '*.yaml' })).toEqual(['a', 'd', 'e']);
    expect(await r({ include: '{*.yml,*.json}' })).toEqual(['b1', 'b2', 'c']);
    expect(await r({ exclude: 'nested/*' })).toEqual(['a', 'b1', 'b2', 'c']);
    expect(await r({ include: 'nested/*', exclude: 'nested/deeper/*' })).toEqual(['d']);
    await expect(r({ include: '{a,b' })).rejects.toThrow(/invalid include pattern/);
  });

  it('detects kustomize over helm over directory, at the top level only', async () => {
    expect(await renderer.resolveTool(src({ path: 'kust' }))).toBe('kustomize');
    expect(await renderer.resolveTool(src({ path: 'chart' }))).toBe('helm');
    expect(await renderer.resolveTool(src())).toBe('directory');
    expect(detectTool([{ path: 'x/Kustomization' }], 'x')).toBe('kustomize');
    expect(detectTool([{ path: 'x/y/Chart.yaml' }], 'x')).toBe('directory');
    expect(detectTool([{ path: 'kustomization.yml' }])).toBe('kustomize');
  });

  it('lets an explicit tool (or one options object) win over detection', async () => {
    expect(explicitTool({ ...src({ path: 'kust' }), tool: 'directory' })).toBe('directory');
    expect(explicitTool(src({ helm: {} }))).toBe('helm');
    expect(explicitTool(src({ helm: {}, kustomize: {} }))).toBeUndefined();
    expect(explicitTool(src({ chart: 'x' }))).toBe('helm');
    expect(await renderer.resolveTool(src({ path: 'kust', directory: {} }))).toBe('directory');
    // rendered as plain YAML files, Chart.yaml is not a Kubernetes object
    await expect(
      renderer.render(src({ path: 'kust', tool: 'directory', directory: {} }), ctx),
    ).rejects.toThrow('kust/Chart.yaml:1: kind is missing');
  });

  it('refuses path escapes and commits that are not SHAs', async () => {
    await expect(renderer.render(src({ path: '../other' }), ctx)).rejects.toThrow(
      new RenderError('path "../other" must not contain ".."'),
    );
    await expect(renderer.render(src({ path: '/etc' }), ctx)).rejects.toThrow(/must be relative/);
    await expect(renderer.render(src({ commit: 'main' }), ctx)).rejects.toThrow(
      /"main" is not a full commit SHA/,
    );
    await expect(renderer.render(src({ path: 'nope' }), ctx)).rejects.toThrow(
      /path "nope" does not exist/,
    );
    await expect(renderer.render(src({ path: 'plain/a.yaml' }), ctx)).rejects.toThrow(
      /is a file, not a directory/,
    );
  });

  it('keys: directory renders do not depend on the application; unknown tools are conservative', async () => {
    const a = await renderer.render(src(), { appName: 'one', namespace: 'x' });
    const b = await renderer.render(src(), { appName: 'two', namespace: 'y' });
    expect(a.key).toBe(b.key);
    expect(a.tool).toBe('directory');
    expect(renderer.renderKey({ ...src(), tool: 'directory' }, ctx)).toBe(a.key);
    expect(renderer.renderKey({ ...src({ path: './plain/' }), tool: 'directory' }, ctx)).toBe(
      a.key,
    );
    // with the tool unknown, the sync key must assume helm/plugins might use the app name
    const k1 = renderer.renderKey(src(), { appName: 'one', namespace: 'x' });
    const k2 = renderer.renderKey(src(), { appName: 'two', namespace: 'x' });
    expect(k1).not.toBe(k2);
    expect(renderer.renderKey(src({ directory: { recurse: true } }), ctx)).not.toBe(a.key);
    expect(renderer.renderKey(src({ commit: '0'.repeat(40) }), ctx)).not.toBe(
      renderer.renderKey(src(), ctx),
    );
  });

  it('shares one run between concurrent identical renders', async () => {
    const [x, y] = await Promise.all([
      renderer.render(src({ directory: { recurse: true, include: '*' } }), ctx),
      renderer.render(src({ directory: { recurse: true, include: '*' } }), ctx),
    ]);
    expect(x).toBe(y);
  });
});
