// Starts local test clusters (etcd + kube-apiservers) in the foreground, for humans:
//
//   npm run test:cluster -- --start 2        (toolchain check first, then this script)
//   node scripts/test-cluster.mjs --count 2 [--names a,b] [--log-dir DIR]
//
// Ctrl-C (or SIGTERM) stops everything. The harness itself is the TypeScript module the
// end-to-end tests use (test/support/kube-cluster.ts); Node 20 can't run TypeScript, so it is
// transpiled here with @swc/core (already a dev dependency, used by Vitest) into
// .cache/harness/ and imported from there. No types are checked; `npm run typecheck` does that.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { transformFile } from '@swc/core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1' },
    names: { type: 'string' },
    'log-dir': { type: 'string', default: join(root, '.cache', 'test-clusters', 'logs') },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: node scripts/test-cluster.mjs --count N [--names a,b,...] [--log-dir DIR]');
  process.exit(0);
}
const count = Number(values.count);
const names = values.names?.split(',').map((s) => s.trim());

const source = join(root, 'test', 'support', 'kube-cluster.ts');
const outDir = join(root, '.cache', 'harness');
const { code } = await transformFile(source, {
  jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
  module: { type: 'es6' },
  sourceMaps: 'inline',
  swcrc: false,
});
await mkdir(outDir, { recursive: true });
const compiled = join(outDir, 'kube-cluster.mjs');
await writeFile(compiled, code);
const { startTestClusters } = await import(pathToFileURL(compiled).href);

const t0 = Date.now();
console.error(`starting ${count} test cluster(s)…`);
const envs = await startTestClusters({ count, names, logDir: values['log-dir'] });
console.error(`ready in ${((Date.now() - t0) / 1000).toFixed(1)}s; logs in ${values['log-dir']}\n`);
for (const c of envs.clusters) {
  console.log(`${c.name}\t${c.server}\t${c.kubeconfigPath}`);
}
console.log(`\nexport KUBECONFIG=${envs.clusters.map((c) => c.kubeconfigPath).join(':')}`);
console.log(
  `# contexts: ${envs.clusters.map((c) => c.name).join(', ')}. Ctrl-C stops the clusters.`,
);

const keepAlive = setInterval(() => {}, 1 << 30);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.error(`\n${sig}: stopping test clusters…`);
    envs.stop().then(
      () => {
        clearInterval(keepAlive);
        process.exit(0);
      },
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
