import { symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderToolPath } from '../../../test/support/chart-repo.js';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { RenderError } from './errors.js';
import { Renderer } from './renderer.js';
import type { PluginConfig, RenderContext, RenderSource } from './types.js';

const ctx: RenderContext = { appName: 'app', namespace: 'ns' };
const KUST = 'resources:\n  - cm.yaml\n';
const CM = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n';

const PLUGINS: PluginConfig[] = [
  { name: 'sleeper', command: ['sh', '-c', 'sleep 30; echo late'], timeoutSeconds: 1 },
  { name: 'chatty', command: ['sh', '-c', 'while :; do echo "# padding padding padding"; done'] },
  { name: 'broken-yaml', command: ['sh', '-c', 'printf "apiVersion: v1\\nkind: [ConfigMap\\n"'] },
  {
    name: 'yaml-bomb',
    command: [
      'sh',
      '-c',
      `printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: bomb}\\ndata:\\n  a: &a [x,x,x,x,x,x,x,x,x,x]\\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\\n  d: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\\n'`,
    ],
  },
  { name: 'ok', command: ['cat', 'cm.yaml'] },
  {
    name: 'noisy-failure',
    command: [
      'sh',
      '-c',
      'i=0; while [ $i -lt 500 ]; do echo "noise line $i" >&2; i=$((i+1)); done; echo "Error: the real cause" >&2; exit 1',
    ],
  },
];

describe('Renderer: refusals', () => {
  let kustomize: string;
  let repo: TestRepo;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let git: GitCache;
  let good: string;
  let outward: string;
  let chained: string;
  let absolute: string;
  let big: string;
  let bigInside: string;
  let bigReferenced: string;
  let renderer: Renderer;
  const src = (commit: string, over: Partial<RenderSource> = {}): RenderSource => ({
    repoURL: repo.fileUrl,
    commit,
    path: 'app',
    ...over,
  });

  beforeAll(async () => {
    kustomize = renderToolPath('kustomize');
    repo = await TestRepo.create();
    good = await repo.commit({ 'app/kustomization.yaml': KUST, 'app/cm.yaml': CM });
    // links that stay inside are fine
    await symlink('../app/cm.yaml', join(repo.dir, 'app', 'inside.yaml'));
    await symlink('app', join(repo.dir, 'app-link'));
    good = await repo.commit({});
    await repo.commit({ 'unrelated/readme.md': 'x' });
    await symlink('../../../../../../../../../etc', join(repo.dir, 'unrelated', 'etc'));
    outward = await repo.commit({});
    await repo.commit({ 'unrelated/etc': null });
    // "self/../x" is inside by lexical reading but outside once self -> . is followed
    await symlink('.', join(repo.dir, 'self'));
    await symlink('self/../outside', join(repo.dir, 'sneaky'));
    chained = await repo.commit({});
    await repo.commit({ self: null, sneaky: null });
    await symlink('/etc/hostname', join(repo.dir, 'app', 'abs.yaml'));
    absolute = await repo.commit({});
    await repo.commit({ 'app/abs.yaml': null });
    big = await repo.commit({ 'docs/big.bin': 'x'.repeat(4096) });
    bigInside = await repo.commit({ 'app/big.bin': 'x'.repeat(4096) });
    await repo.commit({ 'app/big.bin': null });
    bigReferenced = await repo.commit({
      'other/kustomization.yaml': 'resources:\n  - ../docs/huge.yaml\n',
      'docs/huge.yaml': `# ${'x'.repeat(4096)}\n`,
    });
    dir = await tempDir('axle-render-refuse-');
    git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
    renderer = new Renderer({
      git,
      workDir: join(dir.path, 'work'),
      tools: { kustomize },
      plugins: PLUGINS,
      maxOutputBytes: 64 * 1024,
      tree: { maxFileBytes: 2048 },
    });
  });
  afterAll(async () => {
    await renderer.close();
    await repo.remove();
    await dir.remove();
  });

  it('accepts symbolic links that stay inside the repository', async () => {
    expect((await renderer.render(src(good), ctx)).objects).toHaveLength(1);
    // a source path through a link works with an explicit tool (detection reads git, not disk)
    const viaLink = await renderer.render(src(good, { path: 'app-link', tool: 'kustomize' }), ctx);
    expect(viaLink.objects[0].metadata.name).toBe('cm');
    await expect(renderer.render(src(good, { path: 'app-link' }), ctx)).rejects.toThrow(
      'directory (path "app-link"): "app-link" is a symbolic link, not a directory',
    );
  });

  it('refuses a symbolic link leading out of the repository, anywhere in it', async () => {
    await expect(renderer.render(src(outward), ctx)).rejects.toThrow(
      new RenderError(
        'symbolic link unrelated/etc -> ../../../../../../../../../etc points outside the repository',
        'kustomize',
        'app',
      ),
    );
    await expect(renderer.render(src(chained), ctx)).rejects.toThrow(
      /symbolic link sneaky -> self\/\.\.\/outside points outside the repository/,
    );
    await expect(renderer.render(src(absolute), ctx)).rejects.toThrow(
      /symbolic link app\/abs\.yaml -> \/etc\/hostname points outside the repository/,
    );
  });

  it('leaves oversized files out of the checkout: only the app that holds or reads one fails', async () => {
    // Elsewhere in the repository: the application renders.
    expect((await renderer.render(src(big), ctx)).objects.map((o) => o.metadata.name)).toEqual([
      'cm',
    ]);
    // In the application's own directory: it fails, naming the file.
    await expect(renderer.render(src(bigInside), ctx)).rejects.toThrow(
      'kustomize (path "app"): file is larger than 2048 bytes: app/big.bin',
    );
    // Read from elsewhere: the tool's error says what was left out.
    await expect(renderer.render(src(bigReferenced, { path: 'other' }), ctx)).rejects.toThrow(
      /files over 2048 bytes were left out of the checkout: docs\/big\.bin, docs\/huge\.yaml/,
    );
  });

  it('refuses path escapes', async () => {
    await expect(
      renderer.render(src(good, { path: 'app/../../x', tool: 'kustomize' }), ctx),
    ).rejects.toThrow(/must not contain "\.\."/);
  });

  it('kills a tool that runs too long (its whole process group)', async () => {
    const t0 = Date.now();
    await expect(renderer.render(src(good, { plugin: { name: 'sleeper' } }), ctx)).rejects.toThrow(
      'plugin sleeper (path "app"): timed out after 1s',
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('kills a tool that prints too much', async () => {
    await expect(renderer.render(src(good, { plugin: { name: 'chatty' } }), ctx)).rejects.toThrow(
      'plugin chatty (path "app"): output is larger than 65536 bytes',
    );
  });

  it('bounds the quoted stderr, keeping its start and its end', async () => {
    const err = (await renderer
      .render(src(good, { plugin: { name: 'noisy-failure' } }), ctx)
      .catch((e: unknown) => e)) as RenderError;
    expect(err.message.length).toBeLessThan(4300);
    expect(err.message).toMatch(
      /^plugin noisy-failure \(path "app"\): exited with status 1: noise line 0\n/,
    );
    expect(err.message).toContain('\n…\n');
    expect(err.message.endsWith('Error: the real cause')).toBe(true);
    expect(err.detail!.length).toBeGreaterThan(7000);
  });

  it('refuses output that is not valid YAML, and YAML bombs', async () => {
    await expect(
      renderer.render(src(good, { plugin: { name: 'broken-yaml' } }), ctx),
    ).rejects.toThrow(
      /^plugin broken-yaml \(path "app"\): invalid output: plugin broken-yaml output:\d+: invalid YAML/,
    );
    await expect(
      renderer.render(src(good, { plugin: { name: 'yaml-bomb' } }), ctx),
    ).rejects.toThrow(/invalid output: .*(alias|Excessive)/i);
    expect(
      (await renderer.render(src(good, { plugin: { name: 'ok' } }), ctx)).objects,
    ).toHaveLength(1);
  });
});
