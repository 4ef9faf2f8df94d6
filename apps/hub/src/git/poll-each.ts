/**
 * Runs `poll` for every URL, `concurrency` at a time. A poll still running after `boundMs` is left
 * to end on its own and the next URL starts (`onOverrun`); a poll that fails is reported
 * (`onError`) and the next starts too. Resolves once every URL was polled or given up on: one
 * repository that never answers must not stop the polling of the others.
 */
export async function pollEach(
  urls: readonly string[],
  poll: (url: string) => Promise<unknown>,
  opts: {
    concurrency: number;
    boundMs: number;
    onOverrun(url: string): void;
    onError(url: string, error: unknown): void;
  },
): Promise<void> {
  const queue = [...urls];
  const bounded = async (url: string) => {
    let timer: NodeJS.Timeout | undefined;
    const overran = new Promise<'overran'>((resolve) => {
      timer = setTimeout(() => resolve('overran'), opts.boundMs);
    });
    try {
      const outcome = await Promise.race([poll(url), overran]);
      if (outcome === 'overran') opts.onOverrun(url);
    } catch (e) {
      opts.onError(url, e);
    } finally {
      clearTimeout(timer);
    }
  };
  const worker = async () => {
    for (let u = queue.shift(); u !== undefined; u = queue.shift()) await bounded(u);
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, urls.length) }, worker));
}
