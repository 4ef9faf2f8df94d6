import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { GeneratorContext } from './types.js';

const REPO = 'https://github.com/argoproj/argo-cd.git';
const ADDONS = 'applicationset/examples/git-generator-directory/cluster-addons';
const FILES = 'applicationset/examples/git-generator-files-discovery';

const config = (name: string) =>
  JSON.stringify({
    aws_account: '123456',
    asset_id: '11223344',
    cluster: { owner: 'cluster-admin@company.com', name, address: 'https://1.2.3.4' },
  });

const tree = () =>
  new MemoryGitTree({
    [REPO]: {
      files: {
        [`${ADDONS}/argo-workflows/kustomization.yaml`]: 'resources: []',
        [`${ADDONS}/argo-workflows/namespace-install.yaml`]: '',
        [`${ADDONS}/prometheus-operator/Chart.yaml`]: 'name: x',
        [`${ADDONS}/.hidden/kustomization.yaml`]: '',
        [`${ADDONS}/exclude-helm-guestbook/Chart.yaml`]: '',
        [`${FILES}/cluster-config/engineering/dev/config.json`]: config('engineering-dev'),
        [`${FILES}/cluster-config/engineering/prod/config.json`]: config('engineering-prod'),
        [`${FILES}/apps/guestbook/kustomization.yaml`]: 'resources: []',
        'list/targets.yaml': '- cluster: a\n  replicas: 2\n- cluster: b\n  replicas: 1234567\n',
        'root.yaml': 'env: root\nenabled: yes\n',
        'empty.yaml': '',
        'broken.yaml': 'a: [',
        'scalar.yaml': 'hello',
      },
    },
  });

const ctx = (goTemplate: boolean, git = tree()): GeneratorContext => ({
  clusters: [],
  git,
  goTemplate,
});

describe('git directory generator', () => {
  it('matches directories with path.Match and skips dot directories (Generators-Git.md)', async () => {
    const params = await generate(
      { git: { repoURL: REPO, revision: 'HEAD', directories: [{ path: `${ADDONS}/*` }] } },
      ctx(false),
    );
    expect(params.map((p) => p.path)).toEqual([
      `${ADDONS}/argo-workflows`,
      `${ADDONS}/exclude-helm-guestbook`,
      `${ADDONS}/prometheus-operator`,
    ]);
    expect(params[0]).toEqual({
      path: `${ADDONS}/argo-workflows`,
      'path.basename': 'argo-workflows',
      'path.basenameNormalized': 'argo-workflows',
      'path[0]': 'applicationset',
      'path[1]': 'examples',
      'path[2]': 'git-generator-directory',
      'path[3]': 'cluster-addons',
      'path[4]': 'argo-workflows',
    });
  });

  it('exclude wins over include', async () => {
    const params = await generate(
      {
        git: {
          repoURL: REPO,
          revision: 'HEAD',
          directories: [
            { path: `${ADDONS}/exclude-helm-guestbook`, exclude: true },
            { path: `${ADDONS}/*` },
          ],
        },
      },
      ctx(false),
    );
    expect(params.map((p) => p['path.basename'])).toEqual([
      'argo-workflows',
      'prometheus-operator',
    ]);
  });

  it('produces path.segments and honours pathParamPrefix in goTemplate mode', async () => {
    const [first] = await generate(
      {
        git: {
          repoURL: REPO,
          revision: 'HEAD',
          directories: [{ path: `${ADDONS}/argo-*` }],
          pathParamPrefix: 'app',
          values: { ns: '{{.app.path.basename}}-ns' },
        },
      },
      ctx(true),
    );
    expect(first).toEqual({
      app: {
        path: {
          path: `${ADDONS}/argo-workflows`,
          basename: 'argo-workflows',
          basenameNormalized: 'argo-workflows',
          segments: [
            'applicationset',
            'examples',
            'git-generator-directory',
            'cluster-addons',
            'argo-workflows',
          ],
        },
      },
      values: { ns: 'argo-workflows-ns' },
    });
  });

  it("'*' selects top-level directories only", async () => {
    const params = await generate(
      { git: { repoURL: REPO, revision: 'HEAD', directories: [{ path: '*' }] } },
      ctx(false),
    );
    expect(params.map((p) => p.path)).toEqual(['applicationset', 'list']);
  });

  it('reports malformed patterns by path', async () => {
    await expect(
      generate(
        { git: { repoURL: REPO, revision: 'HEAD', directories: [{ path: 'a/[' }] } },
        ctx(false),
        'spec.generators[0]',
      ),
    ).rejects.toThrow(/^spec\.generators\[0\]\.git\.directories\[0\]\.path: invalid path pattern/);
  });

  it('reports unreachable repositories', async () => {
    await expect(
      generate(
        {
          git: {
            repoURL: 'https://nope.example/x.git',
            revision: 'main',
            directories: [{ path: '*' }],
          },
        },
        ctx(false),
        'spec.generators[1]',
      ),
    ).rejects.toThrow(/^spec\.generators\[1\]\.git: cannot resolve revision "main"/);
  });
});

describe('git files generator', () => {
  it('flattens JSON files in fasttemplate mode (Generators-Git.md)', async () => {
    const params = await generate(
      {
        git: {
          repoURL: REPO,
          revision: 'HEAD',
          files: [{ path: `${FILES}/cluster-config/**/config.json` }],
        },
      },
      ctx(false),
    );
    expect(params).toHaveLength(2);
    expect(params[0]).toEqual({
      aws_account: '123456',
      asset_id: '11223344',
      'cluster.owner': 'cluster-admin@company.com',
      'cluster.name': 'engineering-dev',
      'cluster.address': 'https://1.2.3.4',
      path: `${FILES}/cluster-config/engineering/dev`,
      'path.basename': 'dev',
      'path.basenameNormalized': 'dev',
      'path.filename': 'config.json',
      'path.filenameNormalized': 'config.json',
      'path[0]': 'applicationset',
      'path[1]': 'examples',
      'path[2]': 'git-generator-files-discovery',
      'path[3]': 'cluster-config',
      'path[4]': 'engineering',
      'path[5]': 'dev',
    });
  });

  it('keeps structure in goTemplate mode', async () => {
    const [dev] = await generate(
      {
        git: {
          repoURL: REPO,
          revision: 'HEAD',
          files: [{ path: `${FILES}/cluster-config/**/config.json` }],
        },
      },
      ctx(true),
    );
    expect(dev).toEqual({
      aws_account: '123456',
      asset_id: '11223344',
      cluster: {
        owner: 'cluster-admin@company.com',
        name: 'engineering-dev',
        address: 'https://1.2.3.4',
      },
      path: {
        path: `${FILES}/cluster-config/engineering/dev`,
        basename: 'dev',
        basenameNormalized: 'dev',
        filename: 'config.json',
        filenameNormalized: 'config.json',
        segments: [
          'applicationset',
          'examples',
          'git-generator-files-discovery',
          'cluster-config',
          'engineering',
          'dev',
        ],
      },
    });
  });

  it('a top-level YAML list yields one param set per item; numbers print like Go', async () => {
    const params = await generate(
      { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'list/targets.yaml' }] } },
      ctx(false),
    );
    expect(params.map((p) => [p.cluster, p.replicas, p.path, p['path.filename']])).toEqual([
      ['a', '2', 'list', 'targets.yaml'],
      ['b', '1.234567e+06', 'list', 'targets.yaml'],
    ]);
  });

  it('files at the root have path "." and YAML 1.1 booleans', async () => {
    const [p] = await generate(
      { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'root.yaml' }] } },
      ctx(false),
    );
    expect(p).toMatchObject({
      env: 'root',
      enabled: 'true',
      path: '.',
      'path.basename': '.',
      'path[0]': '.',
    });
    expect(p['path.basenameNormalized']).toBe('');
  });

  it('an empty file yields the path parameters only', async () => {
    const params = await generate(
      { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'empty.yaml' }] } },
      ctx(true),
    );
    expect(Object.keys(params[0])).toEqual(['path']);
  });

  it('supports exclude patterns', async () => {
    const params = await generate(
      {
        git: {
          repoURL: REPO,
          revision: 'HEAD',
          files: [
            { path: `${FILES}/cluster-config/**/config.json` },
            { path: `${FILES}/cluster-config/*/prod/*`, exclude: true },
          ],
        },
      },
      ctx(false),
    );
    expect(params.map((p) => p['cluster.name'])).toEqual(['engineering-dev']);
  });

  it('uses doublestar semantics with newGitFileGlobbing', async () => {
    const git = tree();
    const spec = { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: '*.yaml' }] } };
    await expect(generate(spec, { ...ctx(false, git) })).rejects.toThrow(/broken\.yaml/);
    const params = await generate(
      { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: '{root,empty}.yaml' }] } },
      { ...ctx(false, git), newGitFileGlobbing: true },
    );
    expect(params.map((p) => p['path.filename'])).toEqual(['empty.yaml', 'root.yaml']);
  });

  it('names the file that cannot be parsed', async () => {
    await expect(
      generate(
        { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'broken.yaml' }] } },
        ctx(false),
        'spec.generators[0]',
      ),
    ).rejects.toThrow(
      /^spec\.generators\[0\]\.git: unable to process file 'broken\.yaml': unable to parse file/,
    );
    await expect(
      generate(
        { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'scalar.yaml' }] } },
        ctx(false),
      ),
    ).rejects.toThrow(/expected a map or a list of maps/);
  });

  it('caps the size of files it parses', async () => {
    await expect(
      generate(
        { git: { repoURL: REPO, revision: 'HEAD', files: [{ path: 'list/targets.yaml' }] } },
        { ...ctx(false), limits: { maxParamSets: 100, maxFileBytes: 10 } },
      ),
    ).rejects.toThrow(/larger than 10 bytes \(limits\.maxFileBytes\)/);
  });

  it('requires repoURL, revision and a directories/files list', async () => {
    await expect(
      generate({ git: { repoURL: REPO, revision: 'HEAD' } }, ctx(false), 'g'),
    ).rejects.toThrow(/^g\.git: one of directories or files must list at least one path/);
    await expect(
      generate({ git: { revision: 'HEAD', files: [{ path: 'x' }] } } as never, ctx(false), 'g'),
    ).rejects.toThrow(/^g\.git\.repoURL: required field is missing/);
  });
});
