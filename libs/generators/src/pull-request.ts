import { slugifyName } from '../../templating/src/index.js';
import { GeneratorError, errorMessage, filterRegExp } from './errors.js';
import { appendValues, type Runtime } from './runtime.js';
import type { ParamSet, PullRequest, PullRequestGeneratorSpec } from './types.js';

/** Argo's filters: a pull request passes when it matches any filter (all of that filter's rules). */
function compileFilters(spec: PullRequestGeneratorSpec, path: string) {
  return (spec.filters ?? []).map((f, i) => {
    const re = (field: 'branchMatch' | 'targetBranchMatch' | 'titleMatch') =>
      filterRegExp(f[field], `${path}.filters[${i}].${field}`);
    return { branch: re('branchMatch'), target: re('targetBranchMatch'), title: re('titleMatch') };
  });
}

/** gosimple/slug as Argo's pull request generator sets it up: `_` becomes `-`, at most 50. */
function branchSlug(branch: string): string {
  return slugifyName([50, true, branch.replaceAll('_', '-')]);
}

/**
 * Pull request generator: one parameter set per open pull (merge) request of a repository on
 * GitHub, Gitea, GitLab or Bitbucket Server, as Argo CD's: `number`, `title`, `branch`,
 * `branch_slug`, `target_branch`, `target_branch_slug`, `head_sha`, `head_short_sha`,
 * `head_short_sha_7`, `author`, and `labels` with goTemplate.
 */
export async function pullRequestParams(
  spec: PullRequestGeneratorSpec,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const scm = rt.ctx.scm;
  if (!scm) throw new GeneratorError(path, 'pull request providers are not available here');
  const filters = compileFilters(spec, path);
  let pulls: PullRequest[];
  try {
    pulls = await scm.listPullRequests(spec);
  } catch (e) {
    if (spec.continueOnRepoNotFoundError && (e as { notFound?: unknown }).notFound === true)
      return [];
    throw new GeneratorError(path, `error listing pull requests: ${errorMessage(e)}`);
  }
  const pass = (p: PullRequest) =>
    filters.length === 0 ||
    filters.some(
      (f) =>
        (!f.branch || f.branch.test(p.branch)) &&
        (!f.target || f.target.test(p.targetBranch)) &&
        (!f.title || f.title.test(p.title)),
    );
  const out = pulls.filter(pass).map((p) => {
    const params: ParamSet = {
      number: String(p.number),
      title: p.title,
      branch: p.branch,
      branch_slug: branchSlug(p.branch),
      target_branch: p.targetBranch,
      target_branch_slug: branchSlug(p.targetBranch),
      head_sha: p.headSha,
      head_short_sha: p.headSha.slice(0, 8),
      head_short_sha_7: p.headSha.slice(0, 7),
      author: p.author,
    };
    if (rt.renderer.goTemplate) params.labels = p.labels;
    return params;
  });
  return appendValues(spec.values, out, rt, path);
}
