import { describe, expect, it } from 'vitest';
import { ValidationFailed } from '../common/validation.js';
import {
  argoDestinationServer,
  deleteQuerySchema,
  listQuerySchema,
  parseApplicationInput,
  targetNamespace,
  asWritten,
} from './application.schemas.js';

const valid = {
  name: 'guestbook',
  source: {
    repoURL: 'https://git.example/repo.git',
    targetRevision: 'main',
    path: './apps//guestbook/',
  },
  destination: { clusters: ['a', 'b'], namespace: 'guestbook' },
  syncPolicy: { automated: { prune: true } },
};

function fields(body: unknown): string[] {
  try {
    parseApplicationInput(body);
  } catch (e) {
    if (e instanceof ValidationFailed) return e.fields.map((f) => `${f.field}: ${f.reason}`);
    throw e;
  }
  return [];
}

describe('application input', () => {
  it('normalises a valid application', () => {
    const a = parseApplicationInput(valid);
    expect(a.source.path).toBe('apps/guestbook');
    expect(a.syncPolicy.automated).toEqual({ prune: true, selfHeal: false });
  });

  it('names unknown, missing and invalid fields', () => {
    expect(fields({ ...valid, colour: 'red' })).toEqual(['colour: unknown field']);
    expect(fields({ ...valid, name: 'Not_Valid' })[0]).toMatch(
      /^name: must be a DNS-1123 subdomain/,
    );
    const { source: _s, ...noSource } = valid;
    expect(fields(noSource)).toEqual(['source: is required']);
    expect(fields({ ...valid, source: { ...valid.source, path: '../etc' } })).toEqual([
      'source.path: must not contain ".." segments',
    ]);
    expect(
      fields({ ...valid, source: { ...valid.source, targetRevision: '--upload-pack=x' } })[0],
    ).toMatch(/^source\.targetRevision:/);
    // A chart's version may be a range, as Helm (and Argo CD) take it; a git revision may not.
    const chart = (targetRevision: string) => ({
      ...valid,
      source: { repoURL: 'https://charts.example', chart: 'web', targetRevision },
    });
    for (const range of ['1.2.3', '^1.2', '>=1.0.0 <2.0.0', '1.2.*', '~1.4.0-0'])
      expect(parseApplicationInput(chart(range)).source.targetRevision).toBe(range);
    expect(fields(chart('-1'))[0]).toMatch(/^source\.targetRevision: must be a chart version/);
    expect(fields(chart('1.2; rm -rf /'))).toEqual([
      'source.targetRevision: must be a chart version or a version range (1.2.3, ^1.2, >=1.0.0 <2.0.0)',
    ]);
    expect(fields({ ...valid, source: { ...valid.source, targetRevision: '>=1.0.0' } })).toEqual([
      'source.targetRevision: must be a branch, tag or commit SHA',
    ]);
    expect(fields({ ...valid, destination: { namespace: 'x' } })).toEqual([
      'destination: give exactly one of destination.cluster or destination.clusters',
    ]);
  });

  it('takes an application as the API shows it back (axle -o yaml app get), naming spec fields', () => {
    const { name, ...spec } = valid;
    const shown = { name, spec, status: { sync: 'Synced' }, createdAt: '2026-12-06T00:00:00Z' };
    expect(parseApplicationInput(shown)).toEqual(parseApplicationInput(valid));
    expect(
      fields({ ...shown, spec: { ...spec, source: { ...spec.source, path: '../etc' } } }),
    ).toEqual(['spec.source.path: must not contain ".." segments']);
    expect(fields({ ...shown, colour: 'red' })).toEqual(['colour: unknown field']);
  });

  it('accepts an Argo CD Application and refuses its unsupported fields by name', () => {
    const argo = {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'guestbook' },
      spec: {
        project: 'default',
        source: {
          repoURL: 'https://git.example/repo.git',
          path: 'guestbook',
          targetRevision: 'HEAD',
        },
        destination: { name: 'in-cluster', namespace: 'guestbook' },
      },
    };
    expect(parseApplicationInput(argo).destination).toEqual({
      cluster: 'in-cluster',
      namespace: 'guestbook',
    });
    expect(
      parseApplicationInput({ ...argo, spec: { ...argo.spec, revisionHistoryLimit: 3 } })
        .revisionHistoryLimit,
    ).toBe(3);
    expect(fields({ ...argo, spec: { ...argo.spec, revisionHistoryLimit: 0 } })).toEqual([
      'spec.revisionHistoryLimit: Too small: expected number to be >=1',
    ]);
    // A document exported from Argo CD (kubectl get -o yaml) is taken as it is.
    const exported = {
      ...argo,
      metadata: {
        ...argo.metadata,
        namespace: 'argocd',
        uid: '0b6c4d1e',
        resourceVersion: '12345',
        generation: 3,
        creationTimestamp: '2026-01-01T00:00:00Z',
        managedFields: [{ manager: 'argocd-server' }],
      },
      status: { sync: { status: 'Synced' }, health: { status: 'Healthy' } },
    };
    expect(parseApplicationInput(exported).name).toBe('guestbook');
    expect(fields({ ...argo, metadata: { ...argo.metadata, colour: 'red' } })).toEqual([
      'metadata.colour: unknown field',
    ]);
    expect(fields({ ...argo, spec: { ...argo.spec, info: [] } })).toEqual([
      'spec.info: not supported by Axle',
    ]);
    // As in Argo CD: a name or a server, not both.
    expect(
      fields({
        ...argo,
        spec: { ...argo.spec, destination: { server: 'https://k', name: 'a', namespace: 'x' } },
      }),
    ).toEqual(["spec.destination.server: can't have both name and server defined"]);
    expect(
      fields({
        ...argo,
        spec: { ...argo.spec, source: { ...argo.spec.source, ksonnet: { environment: 'x' } } },
      }),
    ).toEqual(['spec.source.ksonnet: unknown field']);
    const helm = parseApplicationInput({
      ...argo,
      spec: {
        ...argo.spec,
        source: {
          ...argo.spec.source,
          helm: {
            releaseName: 'gb',
            valueFiles: ['values-prod.yaml'],
            parameters: [{ name: 'a', value: '1' }],
          },
        },
        syncPolicy: {
          automated: { prune: true },
          syncOptions: ['CreateNamespace=true'],
          retry: { limit: 3, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
        },
        ignoreDifferences: [
          { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
        ],
      },
    });
    expect(helm.source.helm?.valueFiles).toEqual(['values-prod.yaml']);
    // Every option the renderer honours (docs/rendering.md) is taken, none refused.
    const options = parseApplicationInput({
      ...argo,
      spec: {
        ...argo.spec,
        source: {
          ...argo.spec.source,
          helm: { ignoreMissingValueFiles: true, skipTests: true, skipSchemaValidation: true },
        },
      },
    }).source.helm;
    expect(options).toEqual({
      ignoreMissingValueFiles: true,
      skipTests: true,
      skipSchemaValidation: true,
    });
    const kustomize = parseApplicationInput({
      ...argo,
      spec: {
        ...argo.spec,
        source: {
          ...argo.spec.source,
          kustomize: {
            commonLabels: { team: 'a' },
            forceCommonLabels: true,
            commonAnnotations: { note: 'x' },
            forceCommonAnnotations: true,
          },
        },
      },
    }).source.kustomize;
    expect(kustomize?.forceCommonLabels).toBe(true);
    expect(kustomize?.forceCommonAnnotations).toBe(true);
    expect(helm.syncPolicy.syncOptions).toEqual(['CreateNamespace=true']);
    expect(helm.ignoreDifferences?.[0].jsonPointers).toEqual(['/spec/replicas']);
    // Value files may leave the chart (`..`, or `/` for the repository's root), as in Argo CD:
    // the renderer refuses those that leave the repository.
    const shared = ['../values/common.yaml', '/values/prod.yaml'];
    expect(
      parseApplicationInput({
        ...argo,
        spec: { ...argo.spec, source: { ...argo.spec.source, helm: { valueFiles: shared } } },
      }).source.helm?.valueFiles,
    ).toEqual(shared);
    expect(
      fields({
        ...argo,
        spec: {
          ...argo.spec,
          source: { ...argo.spec.source, helm: { valueFiles: ['x\0.yaml'] } },
        },
      }),
    ).toEqual(['spec.source.helm.valueFiles[0]: must not contain NUL']);
  });

  it('takes no destination namespace, as Argo CD does: objects naming none go to default', () => {
    const native = parseApplicationInput({ ...valid, destination: { cluster: 'east' } });
    expect(native.destination).toEqual({ cluster: 'east' });
    expect(targetNamespace(native)).toBe('default');
    expect(targetNamespace(parseApplicationInput(valid))).toBe('guestbook');
    const argo = (destination: Record<string, string>) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'addons' },
      spec: { source: { repoURL: 'https://git.example/repo.git', path: 'crds' }, destination },
    });
    // Left out, or "" as Argo CD writes an unset one back: no namespace of its own.
    for (const d of [{ name: 'east' }, { name: 'east', namespace: '' }] as Record<
      string,
      string
    >[]) {
      const a = parseApplicationInput(argo(d));
      expect(a.destination).toEqual({ cluster: 'east' });
      expect(targetNamespace(a)).toBe('default');
    }
    // Given, it is still a DNS-1123 label.
    expect(
      fields({ ...valid, destination: { cluster: 'east', namespace: 'Not_Valid' } })[0],
    ).toMatch(/^destination\.namespace: /);
    expect(fields(argo({ name: 'east', namespace: 'Not_Valid' }))[0]).toMatch(
      /^spec\.destination\.namespace: /,
    );
  });

  it('takes the Argo CD fields it honours and says which ones it does not support, and why', () => {
    const argo = (spec: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'web' },
      spec: {
        source: { repoURL: 'https://git.example/repo.git', path: 'web' },
        destination: { name: 'east', namespace: 'web' },
        ...spec,
      },
      ...more,
    });
    // A retry duration given as a number is seconds; automated.enabled false is no automation.
    const retry = parseApplicationInput(
      argo({ syncPolicy: { retry: { backoff: { duration: '5', maxDuration: '3m' } } } }),
    ).syncPolicy.retry;
    expect(retry?.backoff).toEqual({ duration: '5s', maxDuration: '3m' });
    expect(
      parseApplicationInput(argo({ syncPolicy: { automated: { enabled: false, prune: true } } }))
        .syncPolicy.automated,
    ).toBeUndefined();
    expect(
      parseApplicationInput(argo({ syncPolicy: { automated: { allowEmpty: true } } })).syncPolicy
        .automated,
    ).toEqual({ prune: false, selfHeal: false, allowEmpty: true });
    // Helm's render versions, as Argo CD takes them.
    const helm = parseApplicationInput(
      argo({
        source: {
          repoURL: 'https://git.example/repo.git',
          path: 'chart',
          helm: { kubeVersion: '1.30', apiVersions: ['monitoring.coreos.com/v1'] },
        },
      }),
    ).source.helm;
    expect(helm).toEqual({ kubeVersion: '1.30', apiVersions: ['monitoring.coreos.com/v1'] });
    // A plugin's parameters as Argo CD writes them: a string, an array or a map each.
    const plugin = {
      name: 'envsubst',
      parameters: [
        { name: 'replicas', string: '3' },
        { name: 'files', array: ['a.yaml'] },
        { name: 'extra', map: { k: 'v' } },
      ],
    };
    expect(
      parseApplicationInput(
        argo({ source: { repoURL: 'https://git.example/repo.git', path: 'web', plugin } }),
      ).source.plugin,
    ).toEqual(plugin);
    expect(
      fields(
        argo({
          source: {
            repoURL: 'https://git.example/repo.git',
            path: 'web',
            plugin: { name: 'envsubst', parameters: [{ name: 'x', string: '1', array: [] }] },
          },
        }),
      ),
    ).toEqual(['spec.source.plugin.parameters[0]: give exactly one of string, array, map']);
    // Another kind of document is named as such, not as an application missing its fields.
    expect(fields({ apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject', spec: {} })).toEqual([
      "kind: AppProject is not an Application: applications are Axle's JSON or Argo CD's kind Application (projects go to /api/v1/projects)",
    ]);
    expect(fields({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: {} })[0]).toMatch(
      /^kind: Deployment is not an Application/,
    );
    // An exported document of an application Argo CD was syncing.
    expect(parseApplicationInput(argo({}, { operation: { sync: {} } })).name).toBe('web');
    expect(
      fields(
        argo({
          source: {
            repoURL: 'https://git.example/repo.git',
            path: 'web',
            kustomize: { patches: [], namePrefix: 'x-' },
          },
          ignoreDifferences: [{ kind: 'Deployment', jqPathExpressions: ['.spec.replicas'] }],
        }),
      ),
    ).toEqual([
      'spec.source.kustomize.patches: not supported by Axle (put the patches in the kustomization in git)',
      'spec.ignoreDifferences[0].jqPathExpressions: not supported by Axle (use jsonPointers)',
    ]);
    // A typo is still an unknown field.
    expect(fields(argo({ syncPolicy: { automated: { prunne: true } } }))).toEqual([
      'spec.syncPolicy.automated.prunne: unknown field',
    ]);
    expect(fields(argo({ syncPolicy: { retry: { backoff: { duration: 'soon' } } } }))).toEqual([
      'spec.syncPolicy.retry.backoff.duration: must be a duration like 5s, 2m or 1h (a number alone is seconds)',
    ]);
  });

  it("names the fields of a later check (the project's) as the document writes them", () => {
    const refused = new ValidationFailed('application not allowed by its project', [
      { field: 'project', reason: 'project "ghost" does not exist' },
      { field: 'labels', reason: 'generated' },
    ]);
    const named = (body: unknown) =>
      (asWritten(body, refused) as ValidationFailed).fields.map((f) => f.field);
    const argo = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', spec: {} };
    expect(named(argo)).toEqual(['spec.project', 'metadata.labels']);
    expect(named({ name: 'web', spec: { source: {} } })).toEqual(['spec.project', 'labels']);
    expect(named(valid)).toEqual(['project', 'labels']);
    const other = new Error('not a validation');
    expect(asWritten(argo, other)).toBe(other);
  });

  it('resolves an Argo CD destination server to the one cluster registered with it', () => {
    const byServer = (server: string) => ({
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: { name: 'guestbook' },
      spec: {
        source: { repoURL: 'https://git.example/repo.git', path: 'guestbook' },
        destination: { server, namespace: 'guestbook' },
      },
    });
    const servers = new Map([
      ['https://east.example:6443', ['east']],
      ['https://shared.example', ['a', 'b']],
    ]);
    expect(argoDestinationServer(byServer('https://east.example:6443'))).toBe(
      'https://east.example:6443',
    );
    expect(
      parseApplicationInput(byServer('https://east.example:6443'), servers).destination,
    ).toEqual({ cluster: 'east', namespace: 'guestbook' });
    // Argo CD's local cluster needs no lookup.
    expect(argoDestinationServer(byServer('https://kubernetes.default.svc/'))).toBeUndefined();
    expect(parseApplicationInput(byServer('https://kubernetes.default.svc')).destination).toEqual({
      cluster: 'in-cluster',
      namespace: 'guestbook',
    });
    expect(fields(byServer('https://nowhere.example'))).toEqual([
      'spec.destination.server: no registered cluster has server "https://nowhere.example"',
    ]);
    let reason = '';
    try {
      parseApplicationInput(byServer('https://shared.example'), servers);
    } catch (e) {
      reason = (e as ValidationFailed).fields[0].reason;
    }
    expect(reason).toMatch(
      /^2 registered clusters have server "https:\/\/shared\.example" \(a, b\)/,
    );
  });

  it('refuses a wave that may update no cluster: maxUnavailable 0 or 0%', () => {
    const wave = (maxUnavailable: unknown) =>
      fields({
        ...valid,
        rollout: { waves: [{ clusterSelector: { matchLabels: {} }, maxUnavailable }] },
      });
    expect(wave(1)).toEqual([]);
    expect(wave('25%')).toEqual([]);
    expect(wave(0)).toHaveLength(1);
    expect(wave('0%')).toEqual([
      'rollout.waves[0].maxUnavailable: must be a number or a percentage like 25% (not 0%)',
    ]);
    expect(wave('00%')).toHaveLength(1);
  });

  it("reads DELETE's cascade as Argo CD does (Go's ParseBool) and ignores its other parameters", () => {
    const cascade = (q: Record<string, string>) => deleteQuerySchema.safeParse(q);
    expect(cascade({}).data?.cascade).toBe(true);
    for (const v of ['false', 'False', 'FALSE', 'f', '0'])
      expect(cascade({ cascade: v }).data?.cascade).toBe(false);
    for (const v of ['true', 'T', '1']) expect(cascade({ cascade: v }).data?.cascade).toBe(true);
    expect(
      cascade({ cascade: 'true', propagationPolicy: 'foreground', appNamespace: 'argocd' }).success,
    ).toBe(true);
    expect(cascade({ cascade: 'maybe' }).success).toBe(false);
  });
});

describe('application list query', () => {
  const parse = (q: Record<string, string | string[]>) => listQuerySchema.safeParse(q);

  it('takes sync and health states as comma-separated sets', () => {
    const r = parse({ sync: 'OutOfSync,Unknown', health: 'Degraded', limit: '10' });
    expect(r.success && r.data).toEqual({
      sync: new Set(['OutOfSync', 'Unknown']),
      health: new Set(['Degraded']),
      limit: 10,
    });
  });

  it('refuses a state it does not know, naming the field and the states it takes', () => {
    for (const [q, field] of [
      [{ health: 'degraded' }, 'health'],
      [{ health: 'Degraded,' }, 'health'],
      [{ sync: 'Healthy' }, 'sync'],
    ] as const) {
      const r = parse(q);
      expect(r.success).toBe(false);
      const issue = r.error!.issues[0];
      expect(issue.path).toEqual([field]);
      expect(issue.message).toMatch(/is not one of .*(Degraded|OutOfSync)/);
    }
    expect(parse({ health: 'x'.repeat(201) }).success).toBe(false);
  });

  it('takes a repeated parameter as the union of its lists', () => {
    const r = parse({ health: ['Degraded', 'Missing,Degraded'] });
    expect(r.success && r.data).toEqual({ health: new Set(['Degraded', 'Missing']) });
    const bad = parse({ sync: ['OutOfSync', 'Healthy'] });
    expect(bad.error?.issues[0]).toMatchObject({ path: ['sync'], message: /"Healthy" is not one/ });
    // More repeats than there are states: refused by name, not read.
    const many = parse({ sync: Array<string>(10).fill('Synced') });
    expect(many.error?.issues[0]).toMatchObject({
      path: ['sync'],
      message: /comma-separated or repeated/,
    });
  });
});
