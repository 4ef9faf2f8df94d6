import { GeneratorError, errorMessage, filterRegExp, type FilterPattern } from './errors.js';
import { sanitizeName } from './go.js';
import { appendValues, type Runtime } from './runtime.js';
import type { ParamSet, ScmProviderGeneratorSpec, ScmRepository } from './types.js';

interface CompiledFilter {
  repository?: FilterPattern;
  label?: FilterPattern;
  branch?: FilterPattern;
  pathsExist: string[];
  pathsDoNotExist: string[];
}

function compileFilters(spec: ScmProviderGeneratorSpec, path: string): CompiledFilter[] {
  return (spec.filters ?? []).map((f, i) => {
    const re = (field: 'repositoryMatch' | 'labelMatch' | 'branchMatch') =>
      filterRegExp(f[field], `${path}.filters[${i}].${field}`);
    return {
      repository: re('repositoryMatch'),
      label: re('labelMatch'),
      branch: re('branchMatch'),
      pathsExist: f.pathsExist ?? [],
      pathsDoNotExist: f.pathsDoNotExist ?? [],
    };
  });
}

/**
 * SCM provider generator, as Argo CD's: every repository of an organization (group, project) on
 * GitHub, Gitea, GitLab or Bitbucket Server, at its default branch or at every branch, that
 * passes any of the filters (all of a filter's rules: repository and label patterns, branch
 * pattern, paths that must or must not exist). Parameters: `organization`, `repository`,
 * `repository_id`, `url`, `branch`, `branchNormalized`, `sha`, `short_sha`, `short_sha_7`,
 * `labels` (comma-separated).
 */
export async function scmProviderParams(
  spec: ScmProviderGeneratorSpec,
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const scm = rt.ctx.scm;
  if (!scm) throw new GeneratorError(path, 'SCM providers are not available here');
  const filters = compileFilters(spec, path);
  let repos: ScmRepository[];
  try {
    repos = await scm.listRepositories(spec);
  } catch (e) {
    throw new GeneratorError(path, `error listing repositories: ${errorMessage(e)}`);
  }
  const out: ParamSet[] = [];
  for (const repo of repos) {
    let passes = filters.length === 0;
    for (const f of filters) {
      if (f.repository && !f.repository.test(repo.repository)) continue;
      if (f.label && !repo.labels.some((l) => f.label!.test(l))) continue;
      if (f.branch && !f.branch.test(repo.branch)) continue;
      try {
        let ok = true;
        for (const p of f.pathsExist) if (!(await scm.pathExists(spec, repo, p))) ok = false;
        for (const p of f.pathsDoNotExist)
          if (ok && (await scm.pathExists(spec, repo, p))) ok = false;
        if (!ok) continue;
      } catch (e) {
        throw new GeneratorError(
          path,
          `error checking paths of ${repo.repository}: ${errorMessage(e)}`,
        );
      }
      passes = true;
      break;
    }
    if (!passes) continue;
    const params: ParamSet = {
      organization: repo.organization,
      repository: repo.repository,
      repository_id: repo.repositoryId,
      url: repo.url,
      branch: repo.branch,
      branchNormalized: sanitizeName(repo.branch),
      sha: repo.sha,
      short_sha: repo.sha.slice(0, 8),
      short_sha_7: repo.sha.slice(0, 7),
      labels: repo.labels.join(','),
    };
    out.push(params);
  }
  return appendValues(spec.values, out, rt, path);
}
