import { describe, expect, it } from 'vitest';
import { generate } from './generate.js';
import { MemoryGitTree } from './testing.js';
import type { GeneratorContext, PullRequest } from './types.js';

const pull: PullRequest = {
  number: 42,
  title: 'Add login',
  branch: 'Feature_Login/UI',
  targetBranch: 'release_1.0',
  headSha: '0123456789abcdef0123456789abcdef01234567',
  labels: ['preview'],
  author: 'dev',
};
const ctx = (goTemplate: boolean): GeneratorContext => ({
  clusters: [],
  git: new MemoryGitTree({}),
  goTemplate,
  scm: {
    listPullRequests: () => Promise.resolve([pull]),
    listRepositories: () => Promise.resolve([]),
    pathExists: () => Promise.resolve(false),
  },
});

describe('pull request generator', () => {
  it('gives Argo CD’s parameters; labels only with goTemplate', async () => {
    const spec = {
      pullRequest: { github: { owner: 'o', repo: 'r' }, values: { env: 'pr-{{.number}}' } },
    };
    expect(await generate(spec, ctx(true))).toEqual([
      {
        number: '42',
        title: 'Add login',
        branch: 'Feature_Login/UI',
        branch_slug: 'feature-login-ui',
        target_branch: 'release_1.0',
        target_branch_slug: 'release-1-0',
        head_sha: pull.headSha,
        head_short_sha: '01234567',
        head_short_sha_7: '0123456',
        author: 'dev',
        labels: ['preview'],
        values: { env: 'pr-42' },
      },
    ]);
    const fast = await generate(
      { pullRequest: { github: { owner: 'o', repo: 'r' }, values: { env: 'pr-{{number}}' } } },
      ctx(false),
    );
    expect(fast[0]).not.toHaveProperty('labels');
    expect(fast[0]['values.env']).toBe('pr-42');
  });

  it('keeps a pull request matching any filter, and names a bad pattern', async () => {
    const run = (filters: unknown[]) =>
      generate({ pullRequest: { github: { owner: 'o', repo: 'r' }, filters } } as never, ctx(true));
    expect(
      await run([
        { branchMatch: '^nope$' },
        { titleMatch: 'login', targetBranchMatch: '^release' },
      ]),
    ).toHaveLength(1);
    expect(await run([{ branchMatch: '^Feature', titleMatch: 'nope' }])).toHaveLength(0);
    await expect(run([{ branchMatch: '(' }])).rejects.toThrow(
      /filters\[0\]\.branchMatch: invalid regexp/,
    );
  });

  it("matches filters as Go's regexp does: RE2 syntax, in time linear in the value", async () => {
    const run = (filters: unknown[]) =>
      generate({ pullRequest: { github: { owner: 'o', repo: 'r' }, filters } } as never, ctx(true));
    // Backtracking JavaScript regexps ran past the test's time-out on this title (crafted by
    // whoever opens a pull request).
    const crafted = { ...pull, title: `${'a'.repeat(40)}!` };
    const hub = {
      ...ctx(true),
      scm: { ...ctx(true).scm!, listPullRequests: () => Promise.resolve([crafted]) },
    };
    const spec = {
      pullRequest: { github: { owner: 'o', repo: 'r' }, filters: [{ titleMatch: '^(a+)+$' }] },
    };
    expect(await generate(spec as never, hub)).toHaveLength(0);
    // Lookahead is not RE2: refused by name, as Argo CD refuses it.
    await expect(run([{ branchMatch: '^(?!main)' }])).rejects.toThrow(
      /filters\[0\]\.branchMatch: invalid regexp/,
    );
  });

  it('refuses a generator without exactly one provider', async () => {
    await expect(generate({ pullRequest: {} }, ctx(true))).rejects.toThrow(
      /exactly one of github, gitea, gitlab or bitbucketServer/,
    );
  });
});
