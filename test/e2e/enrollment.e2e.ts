import { credentials, Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../../apps/cli/src/cli.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Agent } from '../../apps/agent/src/agent.js';
import type { RunningHub } from '../../apps/hub/src/hub.js';
import { EnrollmentRepository } from '../../apps/hub/src/enrollment/enrollment.repository.js';
import { PkiService } from '../../apps/hub/src/enrollment/pki.service.js';
import {
  certificateInfo,
  createCertificateAuthority,
  createKeyAndCsr,
  signClientCertificate,
} from '../../libs/pki/src/index.js';
import { AgentGatewayClient } from '../../libs/proto/gen/axle/agent/v1/agent.js';
import { AgentEnrollmentClient } from '../../libs/proto/gen/axle/agent/v1/enrollment.js';
import { TestRepo } from '../support/git-repo.js';
import {
  api,
  createTestDatabase,
  startTestAgent,
  startTestHub,
  tempDir,
  TEST_ADMIN_TOKEN,
  waitFor,
} from '../support/hub-harness.js';

interface Kit {
  bootstrapToken: string;
  caCertificate: string;
  hubAddress: string;
  enrollAddress: string;
  installManifest: string;
}

function enroll(
  kit: Kit,
  token: string,
  csrPem: string,
): Promise<{ cluster: string; certificatePem: string }> {
  const client = new AgentEnrollmentClient(
    kit.enrollAddress,
    credentials.createSsl(Buffer.from(kit.caCertificate)),
  );
  return new Promise((resolve, reject) => {
    client.enroll(
      { bootstrapToken: token, csrPem },
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res);
      },
    );
  });
}

/** Opens the agent stream with the given client key/cert and returns how it ended. */
function tryConnect(
  kit: Kit,
  keyPem: string,
  certPem: string,
  hello = 'east',
): Promise<{ code: number; details: string }> {
  const client = new AgentGatewayClient(
    kit.hubAddress,
    credentials.createSsl(
      Buffer.from(kit.caCertificate),
      Buffer.from(keyPem),
      Buffer.from(certPem),
    ),
  );
  return new Promise((resolve) => {
    const call = client.connect();
    const done = (r: { code: number; details: string }) => {
      call.cancel();
      client.close();
      resolve(r);
    };
    call.on('data', (m: { msg?: { $case: string } }) => {
      if (m.msg?.$case === 'welcome') done({ code: 0, details: 'welcome' });
    });
    call.on('error', (e: { code: number; details: string }) =>
      done({ code: e.code, details: e.details }),
    );
    call.write({
      msg: { $case: 'hello', value: { cluster: hello, agentVersion: 'test', inventory: [] } },
    });
    // No answer at all is neither a welcome nor a refusal: it fails the test that asked.
    setTimeout(() => done({ code: -1, details: 'no answer within 8 s (hung)' }), 8000);
  });
}

/**
 * Opens the agent stream and keeps it open: resolves `welcomed` on the hub's Welcome and `ended`
 * with how the stream ended (and when).
 */
function holdStream(kit: Kit, keyPem: string, certPem: string, hello: string) {
  const client = new AgentGatewayClient(
    kit.hubAddress,
    credentials.createSsl(
      Buffer.from(kit.caCertificate),
      Buffer.from(keyPem),
      Buffer.from(certPem),
    ),
  );
  const call = client.connect();
  const welcomed = new Promise<void>((resolve) =>
    call.on('data', (m: { msg?: { $case: string } }) => {
      if (m.msg?.$case === 'welcome') resolve();
    }),
  );
  const ended = new Promise<{ code: number; details: string; at: number }>((resolve) =>
    call.on('error', (e: { code: number; details: string }) => {
      client.close();
      resolve({ code: e.code, details: e.details, at: Date.now() });
    }),
  );
  call.write({
    msg: { $case: 'hello', value: { cluster: hello, agentVersion: 'test', inventory: [] } },
  });
  return {
    welcomed,
    ended,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

describe('agent enrollment with mTLS, per-cluster identity and revocation', () => {
  const clusters = inject('clusters');
  let hub: RunningHub;
  let dbUrl: string;
  let repo: TestRepo;
  const agents: Agent[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  const kits: Record<string, Kit> = {};

  beforeAll(async () => {
    repo = await TestRepo.create();
    cleanup.push(() => repo.remove());
    await repo.commit({
      'app/cm.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mtls\ndata:\n  who: agent\n',
    });
    const dir = await tempDir('axle-hub-mtls-');
    cleanup.push(dir.remove);
    dbUrl = await createTestDatabase();
    hub = await startTestHub({
      databaseUrl: dbUrl,
      dataDir: dir.path,
      env: {
        AXLE_AGENT_AUTH: 'mtls',
        AXLE_GRPC_ENROLL_PORT: '0',
        AXLE_AGENT_CERT_HOURS: '0.002',
        // Live streams' certificates are checked again every second (30 s by default).
        AXLE_AGENT_CREDENTIAL_CHECK_SECONDS: '1',
      },
    });
    for (const c of clusters) {
      const res = await api(hub).post('/api/v1/clusters', { name: c.name });
      expect(res.status).toBe(201);
      expect(res.body.agentToken).toBeUndefined();
      kits[c.name] = res.body;
    }
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await hub?.close();
    for (const c of cleanup) await c();
  });

  it('returns a one-time bootstrap token, the hub CA and an install manifest', () => {
    const kit = kits.east;
    expect(kit.bootstrapToken).toMatch(/^axle_boot_/);
    expect(kit.caCertificate).toContain('BEGIN CERTIFICATE');
    const docs = parseAllDocuments(kit.installManifest).map(
      (d) => d.toJS() as { kind: string; stringData?: object; spec?: any },
    );
    expect(docs.map((d) => d.kind)).toEqual([
      'Namespace',
      'ServiceAccount',
      'ClusterRole',
      'ClusterRoleBinding',
      'Secret',
      'ConfigMap',
      'PersistentVolumeClaim',
      'Deployment',
    ]);
    expect(docs[4].stringData).toEqual({ AXLE_BOOTSTRAP_TOKEN: kit.bootstrapToken });
    const env = docs[7].spec.template.spec.containers[0].env as { name: string; value: string }[];
    expect(env.find((e) => e.name === 'AXLE_CLUSTER')?.value).toBe('east');
  });

  it('axle cluster add writes the install manifest; bootstrap-token and revoke work from the CLI', async () => {
    const dir = await tempDir('axle-cli-mtls-');
    cleanup.push(dir.remove);
    const file = join(dir.path, 'agent.yaml');
    let out = '';
    const env = { AXLE_SERVER: hub.httpUrl, AXLE_TOKEN: TEST_ADMIN_TOKEN };
    const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (out += s), env };
    const caFile = join(dir.path, 'hub-ca.pem');
    expect(
      await runCli(
        ['cluster', 'add', 'spare', '--install-manifest', file, '--ca-file', caFile],
        io,
      ),
    ).toBe(0);
    expect(out).toMatch(/bootstrap token \(one use, expires .*\): axle_boot_/);
    expect(out).toContain(`kubectl apply -f ${file}`);
    expect(out).toContain(`hub CA written to ${caFile} (the agent's AXLE_HUB_CA_FILE)`);
    expect(readFileSync(file, 'utf8')).toContain('AXLE_BOOTSTRAP_TOKEN');
    // The CA the agents verify the hub with: the one the hub's enrolment kit carries.
    expect(readFileSync(caFile, 'utf8')).toBe(kits.east.caCertificate);
    expect(await runCli(['cluster', 'bootstrap-token', 'spare'], io)).toBe(0);
    expect(await runCli(['cluster', 'revoke', 'spare'], io)).toBe(0);
    expect(out).toContain('cluster "spare": 0 certificate(s) revoked');
  });

  it('enrolls agents with their own keys and deploys over mTLS', async () => {
    for (const c of clusters) {
      const d = await tempDir(`axle-agent-mtls-${c.name}-`);
      cleanup.push(d.remove);
      const k = kits[c.name];
      agents.push(
        startTestAgent({
          hub: k.hubAddress,
          cluster: c,
          stateDir: d.path,
          registration: k,
        }),
      );
    }
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
    await api(hub).post('/api/v1/applications', {
      name: 'mtls-app',
      source: { repoURL: repo.fileUrl, targetRevision: 'main', path: 'app' },
      destination: { clusters: clusters.map((c) => c.name), namespace: 'mtls' },
      syncPolicy: { automated: {} },
    });
    await waitFor(
      'synced',
      async () =>
        (await api(hub).get('/api/v1/applications/mtls-app')).body.status.sync === 'Synced',
    );
    for (const c of clusters) {
      const kc = new KubeConfig();
      kc.loadFromString(c.kubeconfig);
      expect(
        (
          await kc
            .makeApiClient(CoreV1Api)
            .readNamespacedConfigMap({ name: 'mtls', namespace: 'mtls' })
        ).data,
      ).toEqual({ who: 'agent' });
    }
  });

  it('refuses a reused or unknown bootstrap token, and a CSR for another cluster', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'east' });
    await expect(enroll(kits.east, kits.east.bootstrapToken, csrPem)).rejects.toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
      details: expect.stringContaining('already used'),
    });
    await expect(enroll(kits.east, 'axle_boot_made-up-token', csrPem)).rejects.toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
    });
    // An expired token (time moved on: its expiry is set in the past).
    const old = (await api(hub).post('/api/v1/clusters/east/bootstrap-token')).body as Kit;
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      await db.query(
        `UPDATE enrollment_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`,
      );
    } finally {
      await db.end();
    }
    await expect(enroll(kits.east, old.bootstrapToken, csrPem)).rejects.toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
      details: expect.stringContaining('expired'),
    });
    // A new token replaces an unspent one issued before.
    const superseded = (await api(hub).post('/api/v1/clusters/east/bootstrap-token')).body as Kit;
    const fresh = (await api(hub).post('/api/v1/clusters/east/bootstrap-token')).body as Kit;
    await expect(enroll(kits.east, superseded.bootstrapToken, csrPem)).rejects.toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
    });
    const wrong = await createKeyAndCsr({ commonName: 'west' });
    await expect(enroll(kits.east, fresh.bootstrapToken, wrong.csrPem)).rejects.toMatchObject({
      code: GrpcStatus.INVALID_ARGUMENT,
    });
  });

  it('refuses impersonation: a certificate for one cluster cannot speak as another, a foreign CA is refused', async () => {
    // A cluster no running agent holds: east's agent, displaced by a test connection, would come
    // back and displace that connection in turn (ALREADY_EXISTS), whatever its hello said.
    const registered = await api(hub).post('/api/v1/clusters', { name: 'lone' });
    expect(registered.status).toBe(201);
    const kit = registered.body as Kit;
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'lone' });
    const cert = await enroll(kit, kit.bootstrapToken, csrPem);
    expect(cert.cluster).toBe('lone');
    expect(await tryConnect(kit, keyPem, cert.certificatePem, 'lone')).toMatchObject({ code: 0 });
    const asWest = await tryConnect(kit, keyPem, cert.certificatePem, 'west');
    expect(asWest.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(asWest.details).toContain('belongs to cluster "lone", not "west"');
    const rogueCa = await createCertificateAuthority({ commonName: 'rogue', validDays: 1 });
    const rogue = await createKeyAndCsr({ commonName: 'west' });
    const rogueCert = await signClientCertificate(rogueCa, rogue.csrPem, {
      commonName: 'west',
      validHours: 1,
    });
    // Refused in the TLS handshake (a client certificate from a foreign CA), not left hanging.
    const refused = await tryConnect(kit, rogue.keyPem, rogueCert.certPem, 'west');
    expect(refused.code).toBe(GrpcStatus.UNAVAILABLE);
  });

  it('renews certificates before they expire', async () => {
    // Certificates last 7.2 s here; the agents renew after 2/3 of that and stay connected.
    type AuditEvent = { action: string; actor: string };
    const events = await waitFor(
      'a renewal recorded',
      async () => {
        const body = (await api(hub).get('/api/v1/events?kind=Cluster&name=west'))
          .body as AuditEvent[];
        return body.some((e) => e.action === 'cluster.certificate-renewed') && body;
      },
      { timeoutMs: 20_000 },
    );
    await waitFor('agents connected', () => Promise.resolve(agents.every((a) => a.connected)));
    expect(events.filter((e) => e.action === 'cluster.certificate-enrolled')).toHaveLength(1);
    expect(
      events.filter((e) => e.action === 'cluster.certificate-renewed').length,
    ).toBeGreaterThanOrEqual(1);
    expect(events.every((e) => e.actor === 'cluster:west' || e.action === 'cluster.create')).toBe(
      true,
    );
  });

  it('revocation cuts the stream and refuses reconnection', async () => {
    // A token issued before (leaked, say) does not enroll a fresh certificate after it.
    const spare = (await api(hub).post('/api/v1/clusters/west/bootstrap-token')).body as Kit;
    const res = await api(hub).post('/api/v1/clusters/west/revoke');
    expect(res.status).toBe(200);
    expect(res.body.revokedCertificates).toBeGreaterThan(0);
    await waitFor('west disconnected', () => Promise.resolve(!agents[1].connected));
    // It tries again and is refused (a positive signal, not a quiet pause).
    const cut = agents[1].lastDisconnect?.count ?? 0;
    const refused = await waitFor('west refused on reconnecting', () =>
      Promise.resolve((agents[1].lastDisconnect?.count ?? 0) > cut && agents[1].lastDisconnect),
    );
    expect(refused.code).not.toBe(GrpcStatus.OK);
    expect(agents[1].connected).toBe(false);
    await waitFor('east still connected', () => Promise.resolve(agents[0].connected));
    const { csrPem } = await createKeyAndCsr({ commonName: 'west' });
    await expect(enroll(kits.west, spare.bootstrapToken, csrPem)).rejects.toMatchObject({
      code: GrpcStatus.UNAUTHENTICATED,
    });
  });

  it('a revocation whose notification was missed still ends the stream within the check period', async () => {
    await waitFor('east connected', () => Promise.resolve(agents[0].connected));
    const cut = agents[0].lastDisconnect?.count ?? 0;
    // Revoked by writing the rows, as if the DISCONNECT notification had been lost (sent while
    // this replica's listener was reconnecting, or before its session was registered).
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    // Certificates last 7.2 s here and the agent renews every ~5 s, cancelling its own stream to
    // dial again with the new one: a renewal already past its check when the rows are written
    // records a certificate they missed. Revoked again on each look, as a revocation would.
    const revokeRows = () =>
      db.query(
        `UPDATE agent_certificates SET revoked_at = now()
          WHERE cluster_id = (SELECT id FROM clusters WHERE name = 'east') AND revoked_at IS NULL`,
      );
    let ended: NonNullable<(typeof agents)[0]['lastDisconnect']>;
    let at: number;
    try {
      await revokeRows();
      at = Date.now();
      ended = await waitFor(
        'east cut',
        async () => {
          await revokeRows();
          const d = agents[0].lastDisconnect;
          // Its own cancel (a renewal) is not the hub cutting it.
          return (d?.count ?? 0) > cut && d?.code !== GrpcStatus.CANCELLED && d;
        },
        { timeoutMs: 10_000 },
      );
    } finally {
      await db.end();
    }
    // Within the check period (1 s here) and a margin; the agent, refused again, stays out.
    expect(ended.at - at).toBeLessThan(5_000);
    expect(ended.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(ended.why).toMatch(/certificate \S+ of cluster "east" (was|is) revoked/);
    expect(agents[0].connected).toBe(false);
  });

  it('a stream ends when the certificate it was opened with expires', async () => {
    const kit = (await api(hub).post('/api/v1/clusters', { name: 'brief' })).body as Kit;
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'brief' });
    const cert = await enroll(kit, kit.bootstrapToken, csrPem);
    const { notAfter } = certificateInfo(cert.certificatePem);
    const stream = holdStream(kit, keyPem, cert.certificatePem, 'brief');
    try {
      await stream.welcomed;
      // Nobody renews it (no agent here): the hub ends the stream once the certificate expired.
      const ended = await stream.ended;
      expect(ended.code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(ended.details).toContain('expired at');
      expect(ended.at).toBeGreaterThanOrEqual(notAfter.getTime());
      expect(ended.at - notAfter.getTime()).toBeLessThan(5_000);
    } finally {
      stream.close();
    }
  });

  it('a renewal racing a revocation: the new certificate is recorded unrevoked only if the revocation comes after it and revokes it', async () => {
    const kit = (await api(hub).post('/api/v1/clusters', { name: 'racer' })).body as Kit;
    const { csrPem } = await createKeyAndCsr({ commonName: 'racer' });
    const cert = await enroll(kit, kit.bootstrapToken, csrPem);
    const presented = certificateInfo(cert.certificatePem).serial;
    const repo = hub.app.get(EnrollmentRepository);
    const pki = hub.app.get(PkiService);
    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    try {
      const [{ id }] = (await db.query(`SELECT id FROM clusters WHERE name = 'racer'`)).rows as {
        id: string;
      }[];
      const state = async (serial: string) =>
        (
          await db.query(
            'SELECT revoked_at IS NOT NULL AS revoked FROM agent_certificates WHERE serial = $1',
            [serial],
          )
        ).rows[0] as { revoked: boolean } | undefined;
      const until = new Date(Date.now() + 3_600_000);
      // A renewal while another renewal is recorded (both FOR SHARE): not held back.
      expect(await repo.recordRenewal('e2e0001', id, until, presented)).toBe(true);

      // 1. A revocation in progress (it holds the cluster's lock): the renewal waits for it,
      // then sees the certificate it was asked with revoked, and records nothing.
      const revoker = new pg.Client({ connectionString: dbUrl });
      await revoker.connect();
      try {
        await revoker.query('BEGIN');
        await revoker.query('SELECT 1 FROM clusters WHERE id = $1 FOR NO KEY UPDATE', [id]);
        await revoker.query(
          'UPDATE agent_certificates SET revoked_at = now() WHERE cluster_id = $1 AND serial = $2',
          [id, presented],
        );
        let settled = false;
        const renewal = repo.recordRenewal('e2e0002', id, until, presented).finally(() => {
          settled = true;
        });
        await new Promise((r) => setTimeout(r, 300));
        expect(settled).toBe(false);
        await revoker.query('COMMIT');
        expect(await renewal).toBe(false);
        expect(await state('e2e0002')).toBeUndefined();
      } finally {
        await revoker.end();
      }

      // 2. A renewal in progress (it holds the lock FOR SHARE and inserted its row): the
      // revocation waits for it, then revokes the new certificate too.
      const renewer = new pg.Client({ connectionString: dbUrl });
      await renewer.connect();
      try {
        await renewer.query('BEGIN');
        await renewer.query('SELECT 1 FROM clusters WHERE id = $1 FOR SHARE', [id]);
        await renewer.query(
          'INSERT INTO agent_certificates (serial, cluster_id, not_after) VALUES ($1, $2, $3)',
          ['e2e0003', id, until],
        );
        let settled = false;
        const revocation = pki.revokeCluster(id).finally(() => {
          settled = true;
        });
        await new Promise((r) => setTimeout(r, 300));
        expect(settled).toBe(false);
        await renewer.query('COMMIT');
        expect(await revocation).toBe(2); // e2e0001 and e2e0003
        expect(await state('e2e0003')).toEqual({ revoked: true });
      } finally {
        await renewer.end();
      }
    } finally {
      await db.end();
    }
  });
});
