import { GeneratorError, GeneratorLimitError } from './errors.js';
import { Renderer } from './render.js';
import {
  DEFAULT_GENERATOR_LIMITS,
  type GeneratorContext,
  type GeneratorLimits,
  type GitTreeReader,
  type ParamSet,
} from './types.js';

/** Memoises git lookups for the duration of one generation run. */
export class CachedGit {
  private readonly commits = new Map<string, Promise<string>>();
  private readonly dirs = new Map<string, Promise<string[]>>();
  private readonly files = new Map<string, Promise<string[]>>();
  private readonly parsed = new Map<string, Promise<unknown>>();

  constructor(readonly reader: GitTreeReader) {}

  private memo<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
    let p = map.get(key);
    if (!p) {
      p = load();
      map.set(key, p);
    }
    return p;
  }

  resolve(repoURL: string, revision: string): Promise<string> {
    return this.memo(this.commits, `${repoURL}\n${revision}`, () =>
      this.reader.resolve(repoURL, revision),
    );
  }

  listDirectories(repoURL: string, commit: string): Promise<string[]> {
    return this.memo(this.dirs, `${repoURL}\n${commit}`, () =>
      this.reader.listDirectories(repoURL, commit),
    );
  }

  listFiles(repoURL: string, commit: string): Promise<string[]> {
    return this.memo(this.files, `${repoURL}\n${commit}`, () =>
      this.reader.listFiles(repoURL, commit),
    );
  }

  /** Reads and converts a file once per run (`convert` must be pure). */
  readParsed<T>(
    repoURL: string,
    commit: string,
    path: string,
    convert: (buf: Buffer) => T,
  ): Promise<T> {
    return this.memo(this.parsed, `${repoURL}\n${commit}\n${path}`, async () =>
      convert(await this.reader.readFile(repoURL, commit, path)),
    ) as Promise<T>;
  }
}

/** Longest one generator value may take to render (see appendValues). */
const MAX_VALUE_RENDER_MS = 2000;

/** Everything a generator needs while running. */
export interface Runtime {
  ctx: GeneratorContext;
  limits: Required<GeneratorLimits>;
  renderer: Renderer;
  git: CachedGit;
}

export function createRuntime(ctx: GeneratorContext, path: string): Runtime {
  let renderer: Renderer;
  try {
    renderer = new Renderer({
      goTemplate: ctx.goTemplate,
      goTemplateOptions: ctx.goTemplateOptions,
    });
  } catch (e) {
    throw new GeneratorError(path, e instanceof Error ? e.message : String(e));
  }
  return {
    ctx,
    limits: { ...DEFAULT_GENERATOR_LIMITS, ...(ctx.limits ?? {}) },
    renderer,
    git: new CachedGit(ctx.git),
  };
}

export function checkParamLimit(rt: Runtime, count: number, path: string): void {
  if (count > rt.limits.maxParamSets)
    throw new GeneratorLimitError(
      path,
      `produced more than ${rt.limits.maxParamSets} parameter sets (limits.maxParamSets); narrow the generator or raise the limit`,
    );
}

/**
 * Argo's `appendTemplatedValues`: every `values` entry is templated with the parameters produced
 * so far and added as `values.<key>` (fasttemplate) or under `values` (goTemplate). Values cannot
 * see each other.
 */
export function appendValues(
  values: Record<string, string> | undefined,
  params: ParamSet,
  rt: Runtime,
  path: string,
): void {
  if (!values) return;
  const keys = Object.keys(values);
  if (keys.length === 0) return;
  const rendered: Record<string, string> = {};
  for (const k of keys) {
    try {
      // As long as one application's templates may take (they run without a yield).
      rt.renderer.setDeadline(performance.now() + MAX_VALUE_RENDER_MS);
      rendered[k] = rt.renderer.render(values[k], params);
    } catch (e) {
      throw new GeneratorError(
        `${path}.values[${JSON.stringify(k)}]`,
        `failed to template value: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  if (rt.renderer.goTemplate) params.values = rendered;
  else for (const k of keys) params[`values.${k}`] = rendered[k];
}
