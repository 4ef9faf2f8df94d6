import { describe, expect, it } from 'vitest';
import {
  compressBundle,
  makeBundle,
  type KubeObject,
} from '../../../../libs/manifests/src/index.js';
import { ProjectGate } from '../projects/project-gate.js';
import { ProjectPolicy } from '../projects/project-policy.js';
import { ChildAppsService } from './child-apps.service.js';

const REPO = 'https://git.example/apps.git';

function argoApp(name: string, project: string, cluster = 'east', namespace = name): KubeObject {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: 'argocd' },
    spec: {
      project,
      source: { repoURL: REPO, targetRevision: 'HEAD', path: name },
      destination: { name: cluster, namespace },
    },
  };
}

/** A service over one stored bundle, registered clusters and existing applications. */
function service(objects: KubeObject[], existing: { name: string; parent?: string }[] = []) {
  const bundle = makeBundle(objects);
  const gz = compressBundle(bundle.json);
  const svc = new ChildAppsService(
    {} as never,
    {
      takenBesidesChildren: (names: string[], parentId: string) =>
        Promise.resolve(
          new Set(
            existing
              .filter((e) => names.includes(e.name) && e.parent !== parentId)
              .map((e) => e.name),
          ),
        ),
      childrenOf: (parentId: string) =>
        Promise.resolve(existing.filter((e) => e.parent === parentId)),
    } as never,
    {
      namesWithServer: () => Promise.resolve([]),
      destinations: (names: string[]) =>
        Promise.resolve(
          ['east', 'west']
            .filter((n) => names.includes(n))
            .map((n) => ({ id: n, name: n, labels: { env: n === 'east' ? 'prod' : 'dev' } })),
        ),
    } as never,
    {} as never,
    { getCompressed: () => Promise.resolve(gz) } as never,
    {} as never,
    {} as never,
    {} as never,
  );
  return { svc, hash: bundle.hash };
}

const gate = new ProjectGate(
  new Map([
    [
      'team-a',
      new ProjectPolicy('team-a', {
        sourceRepos: [REPO],
        destinations: [{ clusterSelector: { matchLabels: { env: 'dev' } }, namespace: 'team-a-*' }],
      }),
    ],
    [
      'default',
      new ProjectPolicy('default', { sourceRepos: ['*'], destinations: [{ namespace: '*' }] }),
    ],
  ]),
);
const parent = { id: 'p-1', spec: { project: 'team-a' } };

describe('ChildAppsService.plan (app of apps)', () => {
  it("keeps a parent's children within its project and that project's destinations", async () => {
    const { svc, hash } = service([
      argoApp('team-a-web', 'team-a', 'west'),
      // Another project than the parent's: refused, whatever that project allows.
      argoApp('escape', 'default', 'east'),
      // The parent's project, on a cluster it does not allow.
      argoApp('team-a-prod', 'team-a', 'east', 'team-a-prod'),
      // The parent's project, in a namespace it does not allow.
      argoApp('kube', 'team-a', 'west', 'kube-system'),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'own' } },
    ]);
    const plan = await svc.plan(parent, hash, gate);
    expect(plan.children.map((c) => c.name)).toEqual(['team-a-web']);
    // In the bundle's order (objects are sorted by name there).
    expect(plan.errors).toEqual([
      'child application "escape": spec.project: "default" is not its parent\'s project ("team-a"): a parent makes applications in its own project only',
      'child application "kube": project "team-a" does not allow namespace "kube-system" on cluster "west"',
      'child application "team-a-prod": project "team-a" does not allow namespace "team-a-prod" on cluster "east"',
    ]);
  });

  it('refuses names other applications have, and names the children the manifests dropped', async () => {
    const { svc, hash } = service(
      [argoApp('team-a-web', 'team-a', 'west'), argoApp('team-a-api', 'team-a', 'west')],
      [
        { name: 'team-a-api' }, // standalone
        { name: 'team-a-web', parent: 'p-1' }, // already this parent's
        { name: 'team-a-old', parent: 'p-1' },
        { name: 'other-child', parent: 'p-2' },
      ],
    );
    const plan = await svc.plan(parent, hash, gate);
    expect(plan.children.map((c) => c.name)).toEqual(['team-a-web']);
    expect(plan.errors).toEqual([
      'child application "team-a-api": an application of that name exists and is not a child of this one',
    ]);
    expect(plan.stale).toEqual(['team-a-old']);
    // Pruning keeps every child a document names, those refused too.
    expect(plan.keep?.sort()).toEqual(['team-a-api', 'team-a-web']);
  });
});
