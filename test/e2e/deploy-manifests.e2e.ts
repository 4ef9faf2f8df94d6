import { readFileSync } from 'node:fs';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import { parseManifests } from '../../libs/manifests/src/index.js';
import { HUB_NODE_ARGS } from '../support/hub-node-args.js';

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

  it('start the hub as npm start and the image do, with its Node options, under tini', () => {
    const hub = ['node', ...HUB_NODE_ARGS, 'dist/apps/hub/src/main.js'];
    const objects = parseManifests(readFileSync('deploy/kubernetes/hub.yaml', 'utf8'), 'hub.yaml');
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as {
      spec: {
        template: { spec: { containers: { name: string; command?: string[]; args: string[] }[] } };
      };
    };
    const container = deployment.spec.template.spec.containers.find((c) => c.name === 'hub');
    // args, not command: the image's entrypoint (tini) reaps and forwards signals.
    expect(container?.command).toBeUndefined();
    expect(container?.args).toEqual(hub);
    expect(readFileSync('deploy/Dockerfile', 'utf8')).toContain(
      `CMD [${hub.map((a) => JSON.stringify(a)).join(', ')}]`,
    );
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
    expect(pkg.scripts.start).toBe(`npm run build && ${hub.join(' ')}`);
  });
});
