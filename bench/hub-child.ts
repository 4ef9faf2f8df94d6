/**
 * A hub in a process of its own, for the benchmarks (so its RSS is the hub's alone). Started by
 * `forkHub` with its environment in AXLE_BENCH_HUB_ENV; tells the parent its addresses, stops on
 * "stop" or when the parent goes away. With --expose-gc it answers "gc" with its RSS after a
 * full collection, and "profile-start"/"profile-stop" with a CPU profile written to the directory
 * in AXLE_BENCH_PROFILE_DIR (when set).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { loadHubConfig } from '../apps/hub/src/config/hub-config.js';
import { startHub } from '../apps/hub/src/hub.js';

async function main(): Promise<void> {
  const env = JSON.parse(process.env.AXLE_BENCH_HUB_ENV!) as Record<string, string>;
  const hub = await startHub(loadHubConfig(env));
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= hub
      .close()
      .catch(() => undefined)
      .finally(() => process.exit(0));
    return closing;
  };
  process.on('message', (m) => {
    if (m === 'stop') void close();
    if (m === 'gc') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      process.send!({ memory: process.memoryUsage() });
    }
  });
  let profiler: Session | undefined;
  process.on('message', (m) => {
    const dir = process.env.AXLE_BENCH_PROFILE_DIR;
    if (!dir) return;
    if (m === 'profile-start' && !profiler) {
      profiler = new Session();
      profiler.connect();
      profiler.post('Profiler.enable', () => profiler!.post('Profiler.start'));
    }
    if (m === 'profile-stop' && profiler) {
      const s = profiler;
      profiler = undefined;
      s.post('Profiler.stop', (err, r) => {
        if (!err) writeFileSync(`${dir}/hub-${Date.now()}.cpuprofile`, JSON.stringify(r.profile));
        s.disconnect();
      });
    }
  });
  process.on('disconnect', () => void close());
  process.send!({ httpUrl: hub.httpUrl, grpcAddress: hub.grpcAddress });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench hub: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
