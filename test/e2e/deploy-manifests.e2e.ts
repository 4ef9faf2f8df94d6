import { readFileSync } from 'node:fs';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { parseManifests } from '../../libs/manifests/src/index.js';

describe('deploy/kubernetes manifests', () => {
  const [east] = inject('clusters');

  for (const file of ['deploy/kubernetes/agent.yaml', 'deploy/kubernetes/hub.yaml']) {
    it(`${file} is accepted by a real API server (server-side apply, dry run)`, async () => {
      const kc = new KubeConfig();
      kc.loadFromString(east.kubeconfig);
      const client = KubernetesObjectApi.makeApiClient(kc);
      const objects = parseManifests(readFileSync(file, 'utf8'), file);
      expect(objects.length).toBeGreaterThan(2);
      // Namespaces for real (a dry run cannot create what the rest needs), everything else dry.
      for (const o of objects.filter((x) => x.kind === 'Namespace')) {
        await client.patch(
          o,
          undefined,
          undefined,
          'axle-test',
          true,
          PatchStrategy.ServerSideApply,
        );
      }
      for (const o of objects.filter((x) => x.kind !== 'Namespace')) {
        await client.patch(o, undefined, 'All', 'axle-test', true, PatchStrategy.ServerSideApply);
      }
    });
  }
});
