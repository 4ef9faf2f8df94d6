import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { GeneratorContext, ScmRepository } from './types.js';

const repo = (repository: string, branch: string, labels: string[] = []): ScmRepository => ({
  organization: 'team',
  repository,
  repositoryId: repository.length,
  url: `git@scm:team/${repository}.git`,
  branch,
  sha: '0123456789abcdef0123456789abcdef01234567',
  labels,
});
const files = new Set(['app@main:deploy', 'app@dev:deploy', 'lib@main:README.md']);
const ctx = (goTemplate = true): GeneratorContext => ({
  clusters: [],
  git: new MemoryGitTree({}),
  goTemplate,
  scm: {
    listPullRequests: () => Promise.resolve([]),
    listRepositories: () =>
      Promise.resolve([
        repo('app', 'main', ['preview', 'team-a']),
        repo('app', 'dev'),
        repo('lib', 'main'),
      ]),
    pathExists: (_s, r, p) => Promise.resolve(files.has(`${r.repository}@${r.branch}:${p}`)),
  },
});
const names = (ps: Record<string, unknown>[]) =>
  ps.map((p) => `${String(p.repository)}@${String(p.branch)}`);

describe('SCM provider generator', () => {
  it("gives Argo CD's parameters for every repository and branch", async () => {
    const ps = await generate({ scmProvider: { github: { organization: 'team' } } }, ctx());
    expect(names(ps)).toEqual(['app@main', 'app@dev', 'lib@main']);
    expect(ps[0]).toEqual({
      organization: 'team',
      repository: 'app',
      repository_id: 3,
      url: 'git@scm:team/app.git',
      branch: 'main',
      branchNormalized: 'main',
      sha: '0123456789abcdef0123456789abcdef01234567',
      short_sha: '01234567',
      short_sha_7: '0123456',
      labels: 'preview,team-a',
    });
  });

  it('keeps what passes any filter: names, labels, branches, paths that exist or not', async () => {
    const run = async (filters: unknown[]) =>
      names(
        await generate(
          { scmProvider: { github: { organization: 'team' }, filters } } as never,
          ctx(),
        ),
      );
    expect(await run([{ repositoryMatch: '^app$', branchMatch: '^main$' }])).toEqual(['app@main']);
    expect(await run([{ labelMatch: '^team-' }])).toEqual(['app@main']);
    expect(await run([{ pathsExist: ['deploy'] }])).toEqual(['app@main', 'app@dev']);
    expect(await run([{ pathsDoNotExist: ['deploy'] }, { branchMatch: '^dev$' }])).toEqual([
      'app@dev',
      'lib@main',
    ]);
    await expect(run([{ labelMatch: '(' }])).rejects.toThrow(
      /filters\[0\]\.labelMatch: invalid regexp/,
    );
  });
});
