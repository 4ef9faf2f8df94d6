import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../../../test/support/git-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import { GitCache } from '../../git/src/index.js';
import { paramEnvName, pluginEnv } from './plugin.js';
import { Renderer } from './renderer.js';
import type { PluginConfig, RenderContext, RenderSource } from './types.js';

/** Prints a ConfigMap whose data are the variables the plugin sees, plus a file of the app dir. */
const ECHO_ENV = `set -eu
: > scratch-file   # writes go to a private copy
printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: from-plugin\\ndata:\\n'
for v in ARGOCD_APP_NAME ARGOCD_APP_NAMESPACE ARGOCD_APP_REVISION ARGOCD_APP_REVISION_SHORT \\
         ARGOCD_APP_SOURCE_PATH ARGOCD_APP_SOURCE_REPO_URL ARGOCD_APP_SOURCE_TARGET_REVISION \\
         AXLE_APP_NAME ARGOCD_ENV_COLOR PARAM_REPLICA_COUNT ARGOCD_APP_PARAMETERS KUBE_VERSION \\
         KUBE_API_VERSIONS; do
  eval "val=\\\${$v:-unset}"
  printf '  %s: %s\\n' "$v" "'$val'"
done
printf '  SECRET: %s\\n' "\${AXLE_TEST_SECRET:-absent}"
printf '  HOME_IS_PRIVATE: %s\\n' "$(case "$HOME" in */runs/*) echo yes;; *) echo no;; esac)"
printf '  FILE: %s\\n' "$(cat input.txt)"
printf '  PWD_BASENAME: %s\\n' "$(basename "$PWD")"
if [ -n "\${ARGOCD_ENV_COUNTER:-}" ]; then echo run >> "$ARGOCD_ENV_COUNTER"; sleep 0.3; fi
`;

const PLUGINS: PluginConfig[] = [
  { name: 'echo-env', command: ['sh', '-c', ECHO_ENV] },
  {
    name: 'failing',
    command: ['sh', '-c', 'echo "first line" >&2; echo "plugin broke: bad input" >&2; exit 3'],
  },
];

describe('Renderer: plugins (configured commands)', () => {
  let repo: TestRepo;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let sha: string;
  let renderer: Renderer;
  const ctx: RenderContext = {
    appName: 'guestbook',
    namespace: 'gb',
    revision: 'main',
    kubeVersion: 'v1.34.2',
  };
  const src = (over: Partial<RenderSource> = {}): RenderSource => ({
    repoURL: repo.fileUrl,
    commit: sha,
    path: 'app',
    plugin: {
      name: 'echo-env',
      env: [{ name: 'COLOR', value: 'blue' }],
      parameters: { 'replica-count': '3' },
    },
    ...over,
  });

  beforeAll(async () => {
    repo = await TestRepo.create();
    sha = await repo.commit({ 'app/input.txt': 'from-the-repo\n' });
    dir = await tempDir('axle-render-plugin-');
    const git = new GitCache(join(dir.path, 'git'), 30_000);
    await git.fetch(repo.fileUrl);
    renderer = new Renderer({ git, workDir: join(dir.path, 'work'), plugins: PLUGINS });
  });
  afterAll(async () => {
    await renderer.close();
    await repo.remove();
    await dir.remove();
  });

  it('makes as many private copies of the repository at once as tools run at once', async () => {
    // The plugin runs in <runs>/<scratch>/repo/app: it counts the copies existing meanwhile.
    const count = `n=$(ls -d ../../../*/repo | wc -l); sleep 0.2
printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: c\\ndata:\\n  copies: "%s"\\n' "$n"`;
    const two = new Renderer({
      git: new GitCache(join(dir.path, 'git'), 30_000),
      workDir: join(dir.path, 'work-copies'),
      maxConcurrency: 2,
      plugins: [{ name: 'count', command: ['sh', '-c', count] }],
    });
    try {
      // Eight applications at once (a batch): before, all eight copies were made first.
      const bundles = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          two.render(src({ plugin: { name: 'count' } }), { ...ctx, appName: `app-${i}` }),
        ),
      );
      const seen = bundles.map((b) => Number((b.objects[0].data as { copies: string }).copies));
      expect(Math.max(...seen)).toBeLessThanOrEqual(2);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(1);
    } finally {
      await two.close();
    }
  });

  it('runs in the app directory with Argo CD’s variables and nothing inherited', async () => {
    process.env.AXLE_TEST_SECRET = 'hunter2';
    try {
      const b = await renderer.render(src(), ctx);
      expect(b.tool).toBe('plugin');
      expect(b.objects[0].data).toEqual({
        ARGOCD_APP_NAME: 'guestbook',
        ARGOCD_APP_NAMESPACE: 'gb',
        ARGOCD_APP_REVISION: sha,
        ARGOCD_APP_REVISION_SHORT: sha.slice(0, 7),
        ARGOCD_APP_SOURCE_PATH: 'app',
        ARGOCD_APP_SOURCE_REPO_URL: repo.fileUrl,
        ARGOCD_APP_SOURCE_TARGET_REVISION: 'main',
        AXLE_APP_NAME: 'guestbook',
        ARGOCD_ENV_COLOR: 'blue',
        PARAM_REPLICA_COUNT: '3',
        ARGOCD_APP_PARAMETERS: '[{"name":"replica-count","string":"3"}]',
        KUBE_VERSION: 'v1.34.2',
        KUBE_API_VERSIONS: 'unset',
        SECRET: 'absent',
        HOME_IS_PRIVATE: 'yes',
        FILE: 'from-the-repo',
        PWD_BASENAME: 'app',
      });
      // the plugin wrote into a private copy, not into the shared checkout
      const trees = join(dir.path, 'work', 'trees');
      const [tree] = (await readdir(trees)).filter((t) => !t.includes('.tmp-'));
      expect(await readdir(join(trees, tree, 'app'))).toEqual(['input.txt']);
    } finally {
      delete process.env.AXLE_TEST_SECRET;
    }
  });

  it('gives the API versions in KUBE_API_VERSIONS while they fit one environment variable', async () => {
    const small = await renderer.render(src(), { ...ctx, apiVersions: ['v1', 'apps/v1'] });
    expect((small.objects[0].data as Record<string, string>).KUBE_API_VERSIONS).toBe('v1,apps/v1');
    // 5,000 CRD kinds: 200 KB, more than Linux takes in one variable; the render still runs.
    const many = Array.from({ length: 5000 }, (_, i) => `group-${i}.example.com/v1/Kind${i}`);
    const big = await renderer.render(src(), { ...ctx, apiVersions: many });
    expect(big.objects[0].data).toMatchObject({
      KUBE_API_VERSIONS: 'unset',
      KUBE_VERSION: 'v1.34.2',
    });
  });

  it('keys plugin renders by application, env and parameters; runs identical ones once', async () => {
    expect(renderer.renderKey(src(), ctx)).not.toBe(
      renderer.renderKey(src(), { ...ctx, appName: 'x' }),
    );
    expect(renderer.renderKey(src(), ctx)).not.toBe(
      renderer.renderKey(src({ plugin: { name: 'echo-env' } }), ctx),
    );
    const counter = join(dir.path, 'counter');
    const s = src({ plugin: { name: 'echo-env', env: [{ name: 'COUNTER', value: counter }] } });
    const [a, b, c] = await Promise.all([
      renderer.render(s, ctx),
      renderer.render(s, ctx),
      renderer.render(s, ctx),
    ]);
    expect(a).toBe(b);
    expect(b).toBe(c);
    expect(await readFile(counter, 'utf8')).toBe('run\n');
  });

  it('puts a failing plugin’s stderr in the error', async () => {
    await expect(renderer.render(src({ plugin: { name: 'failing' } }), ctx)).rejects.toThrow(
      'plugin failing (path "app"): exited with status 3: first line\nplugin broke: bad input',
    );
  });

  it('refuses plugins that are not configured', async () => {
    await expect(renderer.render(src({ plugin: { name: 'nope' } }), ctx)).rejects.toThrow(
      'plugin (path "app"): plugin "nope" is not configured on this hub',
    );
    expect(
      () =>
        new Renderer({
          git: undefined as never,
          workDir: dir.path,
          plugins: [PLUGINS[0], PLUGINS[0]],
        }),
    ).toThrow('plugin "echo-env" is configured twice');
  });

  it('names parameters and env like Argo CD', () => {
    expect(paramEnvName('values-files.0')).toBe('PARAM_VALUES_FILES_0');
    expect(() =>
      pluginEnv(src(), ctx, { name: 'x', env: [{ name: 'BAD-NAME', value: '' }] }),
    ).toThrow(/not a valid variable name/);
  });

  it("takes Argo CD's list of string, array and map parameters, named as its plugin server names them", () => {
    const parameters = [
      { name: 'replica-count', string: '3' },
      { name: 'values-files', array: ['a.yaml', 'b.yaml'] },
      { name: 'helm-parameters', map: { 'image.tag': 'v2' } },
    ];
    const env = pluginEnv(src(), ctx, { name: 'x', parameters });
    expect(env).toMatchObject({
      PARAM_REPLICA_COUNT: '3',
      PARAM_VALUES_FILES_0: 'a.yaml',
      PARAM_VALUES_FILES_1: 'b.yaml',
      PARAM_HELM_PARAMETERS_IMAGE_TAG: 'v2',
    });
    expect(JSON.parse(env.ARGOCD_APP_PARAMETERS)).toEqual(parameters);
    // By name, Axle's shape: the same as the list of strings, sorted.
    const byName = pluginEnv(src(), ctx, { name: 'x', parameters: { b: '2', a: '1' } });
    expect(JSON.parse(byName.ARGOCD_APP_PARAMETERS)).toEqual([
      { name: 'a', string: '1' },
      { name: 'b', string: '2' },
    ]);
  });
});
