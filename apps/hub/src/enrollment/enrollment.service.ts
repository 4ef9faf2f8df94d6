import { Inject, Injectable } from '@nestjs/common';
import { stringify } from 'yaml';
import { hashToken, newToken } from '../common/tokens.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { EnrollmentRepository } from './enrollment.repository.js';
import { PkiService } from './pki.service.js';

export type BootstrapResult =
  | { ok: true; clusterId: string; cluster: string }
  | { ok: false; reason: 'unknown' | 'expired' | 'used' };

/** One-time bootstrap tokens (short TTL, single use, stored hashed) and agent install manifests. */
@Injectable()
export class EnrollmentService {
  constructor(
    private readonly repo: EnrollmentRepository,
    private readonly pki: PkiService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  async issueBootstrapToken(clusterId: string): Promise<{ token: string; expiresAt: Date }> {
    const token = newToken('axle_boot');
    const expiresAt = new Date(Date.now() + this.config.pki.bootstrapTokenSeconds * 1000);
    await this.repo.insertBootstrapToken(hashToken(token), clusterId, expiresAt);
    return { token, expiresAt };
  }

  /** The cluster a usable (unspent, unexpired) bootstrap token enrolls, without spending it. */
  async peek(token: string): Promise<string | undefined> {
    return this.repo.usableTokenCluster(hashToken(token));
  }

  /** Spends a bootstrap token: at most one caller ever gets `ok` for a given token. */
  async consume(token: string): Promise<BootstrapResult> {
    const hash = hashToken(token);
    const spent = await this.repo.spendToken(hash);
    if (spent) return { ok: true, ...spent };
    const seen = await this.repo.tokenState(hash);
    if (!seen) return { ok: false, reason: 'unknown' };
    return { ok: false, reason: seen.usedAt ? 'used' : 'expired' };
  }

  /** `kubectl apply -f`-ready manifests that run the agent in the cluster and enroll it. */
  async installManifest(
    cluster: string,
    bootstrapToken: string,
    hubAddress: string,
    enrollAddress: string,
  ): Promise<string> {
    const ns = 'axle-system';
    const labels = { 'app.kubernetes.io/name': 'axle-agent' };
    const docs: object[] = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'axle-agent', namespace: ns } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'axle-agent' },
        rules: [
          {
            apiGroups: ['*'],
            resources: ['*'],
            verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
          },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'axle-agent' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'axle-agent' },
        subjects: [{ kind: 'ServiceAccount', name: 'axle-agent', namespace: ns }],
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'axle-agent-bootstrap', namespace: ns },
        type: 'Opaque',
        stringData: { AXLE_BOOTSTRAP_TOKEN: bootstrapToken },
      },
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'axle-hub-ca', namespace: ns },
        data: { 'ca.pem': await this.pki.caCertPem() },
      },
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: 'axle-agent-state', namespace: ns },
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'axle-agent', namespace: ns, labels },
        spec: {
          replicas: 1,
          strategy: { type: 'Recreate' },
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              serviceAccountName: 'axle-agent',
              securityContext: { runAsNonRoot: true, runAsUser: 65532, fsGroup: 65532 },
              containers: [
                {
                  name: 'agent',
                  image: 'ghcr.io/axle-gitops/axle:0.1.0',
                  // args, not command: the image's entrypoint (tini) stays.
                  args: ['node', 'dist/apps/agent/src/main.js'],
                  env: [
                    { name: 'AXLE_CLUSTER', value: cluster },
                    { name: 'AXLE_HUB_ADDRESS', value: hubAddress },
                    { name: 'AXLE_HUB_ENROLL_ADDRESS', value: enrollAddress },
                    { name: 'AXLE_HUB_CA_FILE', value: '/etc/axle/ca/ca.pem' },
                    { name: 'AXLE_AGENT_STATE_DIR', value: '/var/lib/axle-agent' },
                  ],
                  envFrom: [{ secretRef: { name: 'axle-agent-bootstrap' } }],
                  volumeMounts: [
                    { name: 'state', mountPath: '/var/lib/axle-agent' },
                    { name: 'hub-ca', mountPath: '/etc/axle/ca', readOnly: true },
                  ],
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'] },
                  },
                },
              ],
              volumes: [
                { name: 'state', persistentVolumeClaim: { claimName: 'axle-agent-state' } },
                { name: 'hub-ca', configMap: { name: 'axle-hub-ca' } },
              ],
            },
          },
        },
      },
    ];
    return docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
  }
}
