import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../apps/hub/src/database/embedded-postgres.js';
import { startTestClusters, type TestCluster } from '../support/kube-cluster.js';
import { freePort } from '../support/ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the shared embedded PostgreSQL; each suite creates its own database. */
    pgAdminUrl: string;
    /** Two real kube-apiservers on one etcd, shared by the suites (each uses its own namespaces). */
    clusters: TestCluster[];
    /**
     * A third one whose workloads progress: kube-controller-manager, kube-scheduler and kwok
     * nodes run with it, so a Deployment becomes Available (or Degraded) for real.
     */
    workloadCluster: TestCluster;
  }
}

/** Starts the real infrastructure once for all end-to-end suites and stops it afterwards. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'axle-e2e-'));
  await chmod(dir, 0o755); // the embedded server runs as the `postgres` user when we are root
  const pg = await startEmbeddedPostgres({
    dir: join(dir, 'pg'),
    port: await freePort(),
    persistent: false,
  });
  let kube: Awaited<ReturnType<typeof startTestClusters>> | undefined;
  try {
    kube = await startTestClusters({
      count: 3,
      names: ['east', 'west', 'north'],
      workloads: ['north'],
    });
  } catch (e) {
    await pg.stop();
    throw e;
  }
  project.provide('pgAdminUrl', pg.url.replace(/\/axle$/, '/postgres'));
  project.provide('clusters', kube.clusters.slice(0, 2));
  project.provide('workloadCluster', kube.clusters[2]);
  return async () => {
    await kube?.stop();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
