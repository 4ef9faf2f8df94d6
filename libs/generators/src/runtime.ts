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
/** Template work hands the event loop back this often (timers, I/O, other requests go on). */
const YIELD_EVERY_MS = 20;

/**
 * The time templates may take over one generation run, shared by everything that renders for one
 * ApplicationSet: generators' `values`, matrix children interpolated with earlier parameters, and
 * (in libs/appset) the applications. Also the pace at which that work hands the event loop back,
 * and the signal that abandons it.
 */
export class TemplateBudget {
  /** Milliseconds spent rendering so far (not the time others ran while this yielded). */
  private spentMs = 0;
  private sliceStart = performance.now();

  constructor(
    readonly maxMs = Infinity,
    readonly signal?: AbortSignal,
  ) {}

  left(): number {
    return this.maxMs - this.spentMs;
  }

  /**
   * Runs one render with the renderer's deadline at `perRenderMs` from now, or sooner when less
   * is left, and counts its time.
   */
  run<T>(renderer: Renderer, perRenderMs: number, render: () => T): T {
    const start = performance.now();
    renderer.setDeadline(start + Math.max(0, Math.min(perRenderMs, this.left())));
    try {
      return render();
    } finally {
      this.spentMs += performance.now() - start;
      renderer.setDeadline(undefined);
    }
  }

  /**
   * Hands the event loop back once YIELD_EVERY_MS passed since it last did (a promise to await;
   * undefined, nothing to wait for: a hot loop need not await each time); throws if aborted.
   */
  pace(): Promise<void> | undefined {
    if (performance.now() - this.sliceStart < YIELD_EVERY_MS) return undefined;
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.checkAborted();
      this.sliceStart = performance.now();
    });
  }

  /** Throws the signal's reason once it is aborted. */
  checkAborted(): void {
    this.signal?.throwIfAborted();
  }
}

/** Everything a generator needs while running. */
export interface Runtime {
  ctx: GeneratorContext;
  limits: Required<GeneratorLimits>;
  renderer: Renderer;
  git: CachedGit;
  budget: TemplateBudget;
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
    budget: ctx.templateBudget ?? new TemplateBudget(),
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
 * Argo's `appendTemplatedValues`, for each of `list`: every `values` entry is templated with that
 * parameter set and added as `values.<key>` (fasttemplate) or under `values` (goTemplate). Values
 * cannot see each other. Each value may render for 2 s, all of them for what is left of the run's
 * budget (past it: a GeneratorLimitError, the ApplicationSet is refused whole); the event loop is
 * handed back between them. Returns `list`.
 */
export async function appendValues(
  values: Record<string, string> | undefined,
  list: ParamSet[],
  rt: Runtime,
  path: string,
): Promise<ParamSet[]> {
  const keys = values ? Object.keys(values) : [];
  if (!values || keys.length === 0) return list;
  const { renderer, budget } = rt;
  for (const params of list) {
    await budget.pace();
    const rendered: Record<string, string> = {};
    for (const k of keys) {
      if (budget.left() <= 0) throw overBudget(rt, path);
      try {
        rendered[k] = budget.run(renderer, MAX_VALUE_RENDER_MS, () =>
          renderer.render(values[k], params),
        );
      } catch (e) {
        if (budget.left() <= 0) throw overBudget(rt, path);
        throw new GeneratorError(
          `${path}.values[${JSON.stringify(k)}]`,
          `failed to template value: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    if (renderer.goTemplate) params.values = rendered;
    else for (const k of keys) params[`values.${k}`] = rendered[k];
  }
  return list;
}

/** The run's render time is used up (by this generator's templates or what rendered before). */
export function overBudget(rt: Runtime, path: string): GeneratorLimitError {
  return new GeneratorLimitError(
    path,
    `rendering templates took longer than ${rt.budget.maxMs / 1000} s in all, the most one ApplicationSet may take; simplify the templates or raise the limit`,
    'renderTime',
  );
}
