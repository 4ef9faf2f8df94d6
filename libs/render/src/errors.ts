/** Most characters of a tool's stderr quoted in an error message. */
export const MAX_ERROR_DETAIL = 4096;

/**
 * A render that could not be done: a refused input (path escape, symlink out of the repository,
 * oversized file), a tool that failed, timed out or printed too much, or output that is not
 * manifests. Safe to show to users: it names the tool and the source path, and quotes the tool's
 * stderr (bounded) with the scratch directories replaced by `<repo>`.
 */
export class RenderError extends Error {
  constructor(
    message: string,
    readonly tool?: string,
    readonly path?: string,
    readonly detail?: string,
    options?: { cause?: unknown },
  ) {
    super(RenderError.format(message, tool, path, detail), options);
    this.name = 'RenderError';
  }

  private static format(message: string, tool?: string, path?: string, detail?: string): string {
    const where = path === undefined ? '' : ` (path "${path || '.'}")`;
    const head = tool ? `${tool}${where}: ${message}` : `${message}${where}`;
    const d = detail?.trim();
    return d ? `${head}: ${boundDetail(d)}` : head;
  }
}

/** Keeps the start and the end (where tools print their final error) of a long text. */
export function boundDetail(text: string, max = MAX_ERROR_DETAIL): string {
  if (text.length <= max) return text;
  const head = Math.floor(max / 4);
  const tail = max - head - 5;
  return `${text.slice(0, head)}\n…\n${text.slice(text.length - tail)}`;
}
