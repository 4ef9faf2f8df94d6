import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadAgentConfig } from '../../apps/agent/src/agent-config.js';
import { loadHubConfig, type HubConfig } from '../../apps/hub/src/config/hub-config.js';
import type { EnrollmentRepository } from '../../apps/hub/src/enrollment/enrollment.repository.js';
import { EnrollmentService } from '../../apps/hub/src/enrollment/enrollment.service.js';
import type { PkiService } from '../../apps/hub/src/enrollment/pki.service.js';
import { parseManifests, type KubeObject } from '../../libs/manifests/src/index.js';
import { createCertificateAuthority } from '../../libs/pki/src/index.js';
import { isolatedHelmEnv, renderToolPath } from '../support/chart-repo.js';
import { HUB_NODE_ARGS } from '../support/hub-node-args.js';
import { tempDir } from '../support/temp-dir.js';

const CHART = fileURLToPath(new URL('../../deploy/helm/axle', import.meta.url));
const DATABASE_URL = 'postgres://axle:secret@postgres.axle.svc:5432/axle';
const BOOTSTRAP_TOKEN = 'axle_boot_0123456789abcdef';

interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

/** The pod spec's first container, and the pod spec, of a Deployment. */
function podOf(d: KubeObject): { spec: any; container: any } {
  const spec = (d as any).spec.template.spec;
  return { spec, container: spec.containers[0] };
}

function envNames(d: KubeObject): string[] {
  return (podOf(d).container.env as EnvVar[]).map((e) => e.name);
}

function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const o = objects.find(
    (x) => x.kind === kind && (name === undefined || x.metadata.name === name),
  );
  if (!o) throw new Error(`no ${kind} ${name ?? ''} in ${objects.map(id).join(', ')}`);
  return o;
}

function id(o: KubeObject): string {
  return `${o.kind}/${o.metadata.name}`;
}

/** The data of a rendered Secret (stringData or base64 data) as plain strings. */
function secretData(s: KubeObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((s as any).data ?? {}))
    out[k] = Buffer.from(v as string, 'base64').toString('utf8');
  return { ...out, ...((s as any).stringData ?? {}) };
}

/**
 * The environment a container would get: envFrom Secrets first, then env (which wins), with
 * secretKeyRefs resolved against the rendered Secrets.
 */
function containerEnv(objects: KubeObject[], d: KubeObject): Record<string, string> {
  const { container } = podOf(d);
  const secrets = new Map(
    objects.filter((o) => o.kind === 'Secret').map((s) => [s.metadata.name, secretData(s)]),
  );
  const env: Record<string, string> = {};
  for (const f of container.envFrom ?? []) Object.assign(env, secrets.get(f.secretRef.name) ?? {});
  for (const e of container.env as EnvVar[]) {
    const ref = e.valueFrom?.secretKeyRef;
    const v = ref ? secrets.get(ref.name)?.[ref.key] : e.value;
    if (v !== undefined) env[e.name] = v;
  }
  return env;
}

describe('deploy/helm/axle chart', () => {
  const [east] = inject('clusters');
  let home: Awaited<ReturnType<typeof tempDir>>;
  let caPem: string;
  let client: KubernetesObjectApi;
  const helm = renderToolPath('helm');
  let valuesFiles = 0;

  /** Runs helm with an isolated home; never throws, so failures can be asserted on. */
  function run(args: string[], extraEnv: Record<string, string> = {}): Promise<HelmResult> {
    return new Promise((resolve) => {
      execFile(
        helm,
        args,
        {
          env: { ...isolatedHelmEnv(home.path), ...extraEnv },
          timeout: 60_000,
          maxBuffer: 16 << 20,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
    });
  }

  function valuesFile(values: object): string {
    const file = join(home.path, `values-${++valuesFiles}.yaml`);
    writeFileSync(file, stringify(values));
    return file;
  }

  async function template(
    values: object,
    opts: { release?: string; namespace?: string } = {},
  ): Promise<HelmResult> {
    return run([
      'template',
      opts.release ?? 'axle',
      CHART,
      '--namespace',
      opts.namespace ?? 'axle-helm',
      '-f',
      valuesFile(values),
    ]);
  }

  /** Renders and parses; fails the test with helm's message when helm fails. */
  async function render(
    values: object,
    opts: { release?: string; namespace?: string } = {},
  ): Promise<KubeObject[]> {
    const r = await template(values, opts);
    if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    return parseManifests(r.stdout, 'helm template');
  }

  /** Server-side apply, dry run, of every object: the real API server validates them. */
  async function dryRunApply(objects: KubeObject[]): Promise<void> {
    for (const o of objects) {
      try {
        await client.patch(o, undefined, 'All', 'axle-test', true, PatchStrategy.ServerSideApply);
      } catch (e) {
        throw new Error(`${id(o)} refused: ${(e as Error).message}`, { cause: e });
      }
    }
  }

  async function createNamespace(name: string): Promise<void> {
    await client.patch(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      undefined,
      undefined,
      'axle-test',
      true,
      PatchStrategy.ServerSideApply,
    );
  }

  function agentValues(extra: object = {}): Record<string, unknown> {
    return {
      hub: { enabled: false },
      agent: {
        enabled: true,
        cluster: 'east',
        hubAddress: 'hub.example.com:9090',
        hubCA: caPem,
        bootstrapToken: BOOTSTRAP_TOKEN,
        ...extra,
      },
    };
  }

  beforeAll(async () => {
    home = await tempDir('axle-helm-chart-');
    caPem = (await createCertificateAuthority({ commonName: 'Axle hub CA', validDays: 1 })).certPem;
    const kc = new KubeConfig();
    kc.loadFromString(east.kubeconfig);
    client = KubernetesObjectApi.makeApiClient(kc);
    // The chart installs into the release namespace (helm --create-namespace); dry runs need it.
    await createNamespace('axle-helm');
  });

  afterAll(async () => {
    await home?.remove();
  });

  it('passes helm lint --strict, hub alone and hub with agent', async () => {
    for (const values of [
      { hub: { databaseUrl: DATABASE_URL } },
      { ...agentValues(), hub: { databaseUrl: DATABASE_URL } },
      agentValues({ persistence: { enabled: false }, observeOnly: true }),
    ]) {
      const r = await run(['lint', '--strict', CHART, '-f', valuesFile(values)]);
      expect(r.stderr + r.stdout, JSON.stringify(values)).toContain('0 chart(s) failed');
      expect(r.code).toBe(0);
    }
  });

  it('renders the hub by default, and the API server accepts every object', async () => {
    const objects = await render({ hub: { databaseUrl: DATABASE_URL } });
    expect(objects.map(id).sort()).toEqual([
      'Deployment/axle-hub',
      'Secret/axle-hub',
      'Secret/axle-hub-secret-key',
      'Service/axle-hub',
    ]);
    for (const o of objects) expect(o.metadata.namespace).toBe('axle-helm');

    const d = find(objects, 'Deployment');
    const { spec, container } = podOf(d);
    expect((d as any).spec.replicas).toBe(2);
    expect(container.image).toBe('ghcr.io/axle-gitops/axle:0.1.0');
    expect(container.command).toBeUndefined(); // the image's entrypoint (tini) stays
    expect(container.args).toEqual(['node', ...HUB_NODE_ARGS, 'dist/apps/hub/src/main.js']);
    expect(container.ports.map((p: any) => [p.name, p.containerPort])).toEqual([
      ['http', 8080],
      ['grpc', 9090],
      ['enroll', 9091],
    ]);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true });
    expect(container.resources.requests).toEqual({ cpu: '250m', memory: '512Mi' });
    const mounts = Object.fromEntries(
      container.volumeMounts.map((m: any) => [m.mountPath, m.name]),
    );
    expect(mounts['/var/lib/axle']).toBe('data');
    expect(spec.volumes.find((v: any) => v.name === 'data')).toEqual({
      name: 'data',
      emptyDir: {},
    });
    const svc = find(objects, 'Service') as any;
    expect(svc.spec.ports.map((p: any) => [p.name, p.port])).toEqual([
      ['http', 8080],
      ['grpc', 9090],
      ['enroll', 9091],
    ]);
    expect(svc.spec.selector).toEqual((d as any).spec.selector.matchLabels);

    // The environment the hub would see is one its own configuration loader accepts.
    const env = containerEnv(objects, d);
    expect(env.DATABASE_URL).toBe(DATABASE_URL);
    const config: HubConfig = loadHubConfig({ ...env, PATH: '' });
    expect(config.http.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/var/lib/axle');
    expect(config.grpc.publicHost).toBe('axle-hub.axle-helm.svc');
    expect(config.pki.serverHosts).toEqual(
      expect.arrayContaining(['axle-hub.axle-helm.svc', 'axle-hub', 'localhost']),
    );
    expect(Buffer.from(config.secretKey!, 'base64')).toHaveLength(32);

    await dryRunApply(objects);
  });

  it('renders hub and agent together, and the API server accepts every object', async () => {
    const objects = await render({ ...agentValues(), hub: { databaseUrl: DATABASE_URL } });
    expect(objects.map(id).sort()).toEqual([
      'ClusterRole/axle-agent',
      'ClusterRoleBinding/axle-agent',
      'ConfigMap/axle-agent-hub-ca',
      'Deployment/axle-agent',
      'Deployment/axle-hub',
      'PersistentVolumeClaim/axle-agent-state',
      'Secret/axle-agent-bootstrap',
      'Secret/axle-hub',
      'Secret/axle-hub-secret-key',
      'Service/axle-hub',
      'ServiceAccount/axle-agent',
    ]);
    await dryRunApply(objects);
  });

  it("renders the agent as the hub's install manifest does", async () => {
    // The hub's own generator, with a stub CA: the reference the chart must match.
    const pki = { caCertPem: () => Promise.resolve(caPem) } as unknown as PkiService;
    const generator = new EnrollmentService({} as EnrollmentRepository, pki, {} as HubConfig);
    const manifest = await generator.installManifest(
      'east',
      BOOTSTRAP_TOKEN,
      'hub.example.com:9090',
      'hub.example.com:9091',
    );
    const reference = parseManifests(manifest, 'installManifest');
    const chart = await render(agentValues());

    // The same kinds, except the Namespace (the chart installs into the release namespace).
    const kinds = (os: KubeObject[]) => os.map((o) => o.kind).sort();
    expect(kinds(chart)).toEqual(kinds(reference.filter((o) => o.kind !== 'Namespace')));
    for (const o of chart) {
      if (o.kind !== 'ClusterRole' && o.kind !== 'ClusterRoleBinding')
        expect(o.metadata.namespace, id(o)).toBe('axle-helm');
    }

    const refDeploy = find(reference, 'Deployment');
    const chartDeploy = find(chart, 'Deployment');
    // The same environment variables, by name: a hard list, and the generator's.
    expect(envNames(chartDeploy)).toEqual([
      'AXLE_CLUSTER',
      'AXLE_HUB_ADDRESS',
      'AXLE_HUB_ENROLL_ADDRESS',
      'AXLE_HUB_CA_FILE',
      'AXLE_AGENT_STATE_DIR',
    ]);
    expect(envNames(chartDeploy)).toEqual(envNames(refDeploy));
    // ...with the same values, and the same keys in the Secret the env comes from.
    expect(podOf(chartDeploy).container.env).toEqual(podOf(refDeploy).container.env);
    expect(containerEnv(chart, chartDeploy)).toEqual(containerEnv(reference, refDeploy));
    expect(Object.keys(secretData(find(chart, 'Secret')))).toEqual(
      Object.keys(secretData(find(reference, 'Secret'))),
    );

    const rc = podOf(refDeploy);
    const cc = podOf(chartDeploy);
    for (const field of ['image', 'command', 'securityContext'])
      expect(cc.container[field], field).toEqual(rc.container[field]);
    expect(cc.container.volumeMounts).toEqual(rc.container.volumeMounts);
    expect(cc.spec.securityContext).toEqual(rc.spec.securityContext);
    expect((chartDeploy as any).spec.strategy).toEqual((refDeploy as any).spec.strategy);
    expect((chartDeploy as any).spec.replicas).toBe(1);
    expect(cc.spec.serviceAccountName).toBe(find(chart, 'ServiceAccount').metadata.name);
    expect((find(chart, 'ClusterRole') as any).rules).toEqual(
      (find(reference, 'ClusterRole') as any).rules,
    );
    const binding = find(chart, 'ClusterRoleBinding') as any;
    expect(binding.roleRef.name).toBe(find(chart, 'ClusterRole').metadata.name);
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'axle-agent', namespace: 'axle-helm' },
    ]);
    expect((find(chart, 'PersistentVolumeClaim') as any).spec).toEqual(
      (find(reference, 'PersistentVolumeClaim') as any).spec,
    );
    expect((find(chart, 'ConfigMap') as any).data).toEqual({ 'ca.pem': caPem });

    // The agent's configuration loader accepts what the pod would get (CA file from the ConfigMap).
    const caFile = join(home.path, 'ca.pem');
    writeFileSync(caFile, (find(chart, 'ConfigMap') as any).data['ca.pem']);
    const agent = loadAgentConfig({
      ...containerEnv(chart, chartDeploy),
      AXLE_HUB_CA_FILE: caFile,
    });
    expect(agent).toMatchObject({
      cluster: 'east',
      hubAddress: 'hub.example.com:9090',
      stateDir: '/var/lib/axle-agent',
      observeOnly: false,
      mtls: { caPem, enrollAddress: 'hub.example.com:9091', bootstrapToken: BOOTSTRAP_TOKEN },
    });
  });

  it('renders the agent options (observe-only, emptyDir state, existing Secret and CA, rules)', async () => {
    const rules = [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] }];
    const objects = await render(
      agentValues({
        observeOnly: true,
        persistence: { enabled: false },
        existingSecret: 'my-agent-secret',
        bootstrapToken: '',
        hubCA: '',
        hubCAExistingConfigMap: 'my-hub-ca',
        hubEnrollAddress: 'enroll.example.com:443',
        logLevel: 'debug',
        rbac: { rules },
      }),
      { release: 'edge' },
    );
    expect(objects.map(id).sort()).toEqual([
      'ClusterRole/edge-axle-agent',
      'ClusterRoleBinding/edge-axle-agent',
      'Deployment/edge-axle-agent',
      'ServiceAccount/edge-axle-agent',
    ]);
    const d = find(objects, 'Deployment');
    const { spec, container } = podOf(d);
    const env = Object.fromEntries((container.env as EnvVar[]).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      AXLE_AGENT_OBSERVE_ONLY: 'true',
      AXLE_HUB_ENROLL_ADDRESS: 'enroll.example.com:443',
      AXLE_LOG_LEVEL: 'debug',
    });
    expect(container.envFrom).toEqual([{ secretRef: { name: 'my-agent-secret' } }]);
    expect(spec.volumes).toEqual([
      { name: 'state', emptyDir: {} },
      { name: 'hub-ca', configMap: { name: 'my-hub-ca' } },
    ]);
    expect((find(objects, 'ClusterRole') as any).rules).toEqual(rules);
    await dryRunApply(objects);
  });

  it('renders the hub options (existing Secrets, CA files, public host, extra env)', async () => {
    const objects = await render({
      hub: {
        replicas: 3,
        existingSecret: 'my-hub-env',
        secretKey: { existingSecret: 'my-key', existingSecretKey: 'key' },
        ca: { existingSecret: 'my-ca' },
        grpc: { publicHost: 'axle.example.com', tlsHosts: ['10.0.0.7'] },
        agentAuth: 'token',
        service: { type: 'LoadBalancer' },
        extraEnv: [{ name: 'AXLE_GIT_POLL_SECONDS', value: '30' }],
      },
      image: { tag: '0.2.0', pullPolicy: 'Always' },
    });
    expect(objects.map(id).sort()).toEqual(['Deployment/axle-hub', 'Service/axle-hub']);
    const d = find(objects, 'Deployment');
    const { spec, container } = podOf(d);
    expect((d as any).spec.replicas).toBe(3);
    expect(container.image).toBe('ghcr.io/axle-gitops/axle:0.2.0');
    expect(container.imagePullPolicy).toBe('Always');
    expect(container.envFrom).toEqual([{ secretRef: { name: 'my-hub-env' } }]);
    const env = new Map((container.env as EnvVar[]).map((e) => [e.name, e]));
    expect(env.get('AXLE_SECRET_KEY')?.valueFrom).toEqual({
      secretKeyRef: { name: 'my-key', key: 'key' },
    });
    expect(env.get('AXLE_GRPC_PUBLIC_HOST')?.value).toBe('axle.example.com');
    expect(env.get('AXLE_GRPC_TLS_HOSTS')?.value?.split(',')).toEqual(
      expect.arrayContaining(['axle.example.com', '10.0.0.7', 'axle-hub.axle-helm.svc']),
    );
    expect(env.get('AXLE_AGENT_AUTH')?.value).toBe('token');
    expect(env.get('AXLE_GIT_POLL_SECONDS')?.value).toBe('30');
    const caDir = container.volumeMounts.find((m: any) => m.name === 'ca').mountPath;
    expect(env.get('AXLE_CA_CERT_FILE')?.value).toBe(`${caDir}/ca.crt`);
    expect(env.get('AXLE_CA_KEY_FILE')?.value).toBe(`${caDir}/ca.key`);
    expect(spec.volumes.find((v: any) => v.name === 'ca').secret).toMatchObject({
      secretName: 'my-ca',
      items: [
        { key: 'tls.crt', path: 'ca.crt' },
        { key: 'tls.key', path: 'ca.key' },
      ],
    });
    expect((find(objects, 'Service') as any).spec.type).toBe('LoadBalancer');
    await dryRunApply(objects);

    // The dry run does check: an env entry the API does not know is refused.
    const broken = await render({
      hub: { databaseUrl: DATABASE_URL, extraEnv: [{ name: 'X', valueFrom: { bogus: {} } }] },
    });
    await expect(dryRunApply(broken)).rejects.toThrow(/Deployment\/axle-hub refused/);
  });

  it('fails with a message naming a missing required value', async () => {
    const cases: [string, object][] = [
      ['hub.databaseUrl', {}],
      ['agent.cluster', agentValues({ cluster: '' })],
      ['agent.hubAddress', agentValues({ hubAddress: '' })],
      ['agent.hubCA', agentValues({ hubCA: '' })],
      ['agent.bootstrapToken', agentValues({ bootstrapToken: '' })],
    ];
    for (const [name, values] of cases) {
      const r = await template(values);
      expect(r.code, name).not.toBe(0);
      expect(r.stderr, name).toContain(`${name} is required`);
    }
  });

  it('refuses values the schema does not know (typos), wrong types and enum values', async () => {
    const cases: [object, string][] = [
      [{ hub: { databaseUrl: DATABASE_URL, replica: 3 } }, "additional properties 'replica'"],
      [{ agnet: { enabled: true } }, "additional properties 'agnet'"],
      [agentValues({ persistance: { enabled: false } }), "additional properties 'persistance'"],
      [{ hub: { databaseUrl: DATABASE_URL, replicas: 'two' } }, '/hub/replicas'],
      [{ hub: { databaseUrl: DATABASE_URL, agentAuth: 'mTLS' } }, '/hub/agentAuth'],
      [{ hub: { databaseUrl: 'mysql://db/axle' } }, '/hub/databaseUrl'],
      [agentValues({ hubAddress: 'hub.example.com' }), '/agent/hubAddress'],
      [{ image: { pullPolicy: 'Sometimes' } }, '/image/pullPolicy'],
    ];
    for (const [values, message] of cases) {
      const r = await template(values);
      expect(r.code, message).not.toBe(0);
      expect(r.stderr, message).toContain(message);
    }
    const lint = await run([
      'lint',
      CHART,
      '-f',
      valuesFile({ hub: { databaseUrl: DATABASE_URL, replica: 3 } }),
    ]);
    expect(lint.code).not.toBe(0);
    expect(lint.stdout + lint.stderr).toContain("additional properties 'replica'");
  });

  it('installs for real: NOTES tell what to do next, the generated key survives upgrade and uninstall', async () => {
    const ns = 'axle-helm-install';
    const kube = { KUBECONFIG: east.kubeconfigPath };
    const values = valuesFile({ hub: { databaseUrl: DATABASE_URL } });
    const install = await run(
      ['install', 'axle', CHART, '-n', ns, '--create-namespace', '-f', values],
      kube,
    );
    expect(install.code, install.stderr).toBe(0);
    expect(install.stdout).toContain('NOTES:');
    expect(install.stdout).toContain('/var/lib/axle/admin-token');
    expect(install.stdout).toContain('cluster add east --install-manifest');
    expect(install.stdout).toContain('hub.grpc.publicHost');

    const readKey = async () => {
      const s = await client.read({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'axle-hub-secret-key', namespace: ns },
      });
      return Buffer.from((s as any).data.AXLE_SECRET_KEY, 'base64').toString();
    };
    const key = await readKey();
    expect(Buffer.from(key, 'base64')).toHaveLength(32);

    const upgrade = await run(
      ['upgrade', 'axle', CHART, '-n', ns, '-f', values, '--set', 'hub.replicas=3'],
      kube,
    );
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(await readKey()).toBe(key);

    const uninstall = await run(['uninstall', 'axle', '-n', ns], kube);
    expect(uninstall.code).toBe(0);
    expect(uninstall.stdout).toContain('axle-hub-secret-key');
    expect(await readKey()).toBe(key);

    // An agent release: its NOTES name the cluster and where it enrolls.
    const agentNs = 'axle-helm-agent';
    const agent = await run(
      [
        'install',
        'axle',
        CHART,
        '-n',
        agentNs,
        '--create-namespace',
        '--dry-run=server',
        '-f',
        valuesFile(agentValues()),
      ],
      kube,
    );
    expect(agent.code, agent.stderr).toBe(0);
    expect(agent.stdout).toContain('agent for cluster "east"');
    expect(agent.stdout).toContain('hub.example.com:9091');
  });
});
