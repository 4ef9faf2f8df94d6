import { EventEmitter } from 'node:events';
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import { Logger } from '@nestjs/common';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentMessage, HubMessage } from '../../../../libs/proto/gen/axle/agent/v1/agent.js';
import type { HubConfig } from '../config/hub-config.js';
import type {
  CredentialState,
  EnrollmentRepository,
  StreamCredential,
} from '../enrollment/enrollment.repository.js';
import { AgentSession, type SessionDeps } from './agent-session.js';
import { CredentialCheck, sessionsToClose } from './credential-check.js';
import type { Dispatcher } from './dispatcher.js';

const NOW = Date.parse('2030-01-01T12:00:00Z');
const later = new Date(NOW + 3_600_000);
const A = '00000000-0000-0000-0000-0000000000ca';
const B = '00000000-0000-0000-0000-0000000000cb';

class FakeCall extends EventEmitter {
  write(): boolean {
    return true;
  }
}

/** A session over a fake stream, and how the hub ended it (if it did). */
function open(clusterId: string, credential?: { serial: string; notAfter: Date }) {
  const call = new FakeCall();
  const ended: { code?: number; details?: string } = {};
  call.on('error', (e: { code: number; details: string }) => Object.assign(ended, e));
  const session = new AgentSession(
    clusterId,
    clusterId === A ? 'east' : 'west',
    call as unknown as ServerDuplexStream<AgentMessage, HubMessage>,
    {} as SessionDeps,
    credential,
  );
  return { session, ended };
}

const valid: CredentialState = { clusterExists: true, certificate: 'valid' };

describe('sessionsToClose', () => {
  it('closes revoked, unknown and expired certificates and deleted clusters; keeps the rest', () => {
    const ok = open(A, { serial: 'aa', notAfter: later }).session;
    const revoked = open(A, { serial: 'bb', notAfter: later }).session;
    const unknown = open(A, { serial: 'cc', notAfter: later }).session;
    const expired = open(B, { serial: 'dd', notAfter: new Date(NOW) }).session;
    const gone = open(B, { serial: 'ee', notAfter: later }).session;
    const token = open(B).session;
    const verdicts = sessionsToClose(
      [ok, revoked, unknown, expired, gone, token],
      [
        valid,
        { clusterExists: true, certificate: 'revoked' },
        { clusterExists: true, certificate: 'unknown' },
        valid,
        { clusterExists: false, certificate: 'unknown' },
        { clusterExists: true },
      ],
      NOW,
    );
    expect(verdicts.map((v) => [v.session, v.code])).toEqual([
      [revoked, GrpcStatus.UNAUTHENTICATED],
      [unknown, GrpcStatus.UNAUTHENTICATED],
      [expired, GrpcStatus.UNAUTHENTICATED],
      [gone, GrpcStatus.PERMISSION_DENIED],
    ]);
    expect(verdicts[0].details).toBe('certificate bb of cluster "east" was revoked');
    expect(verdicts[2].details).toBe(
      'certificate dd of cluster "west" expired at 2030-01-01T12:00:00.000Z',
    );
    expect(verdicts[3].details).toBe('cluster removed');
  });

  it('a certificate is good until its notAfter, not a millisecond longer', () => {
    const s = open(A, { serial: 'aa', notAfter: new Date(NOW + 1) }).session;
    expect(sessionsToClose([s], [valid], NOW)).toEqual([]);
    expect(sessionsToClose([s], [valid], NOW + 1)).toHaveLength(1);
  });

  it('a stream without a certificate (token auth) ends only with its cluster', () => {
    const s = open(A).session;
    expect(sessionsToClose([s], [{ clusterExists: true }], NOW + 10 ** 12)).toEqual([]);
    expect(sessionsToClose([s], [{ clusterExists: false }], NOW)).toHaveLength(1);
  });

  it('without the database (states unread) judges expiry only', () => {
    const fresh = open(A, { serial: 'aa', notAfter: later }).session;
    const expired = open(B, { serial: 'bb', notAfter: new Date(NOW - 1) }).session;
    expect(sessionsToClose([fresh, expired], undefined, NOW).map((v) => v.session)).toEqual([
      expired,
    ]);
  });

  it('leaves sessions that already ended alone', () => {
    const s = open(A, { serial: 'aa', notAfter: new Date(NOW - 1) }).session;
    s.ended();
    expect(sessionsToClose([s], [{ clusterExists: false }], NOW)).toEqual([]);
  });
});

describe('CredentialCheck', () => {
  /** Serial → state in the "database"; every query made, with the streams it asked about. */
  let db: Map<string, CredentialState>;
  let queries: StreamCredential[][];
  let failing: boolean;
  let live: AgentSession[];
  let check: CredentialCheck;

  beforeEach(() => {
    vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    vi.useFakeTimers({ now: NOW });
    db = new Map();
    queries = [];
    failing = false;
    live = [];
    const repo = {
      credentialStates: (streams: StreamCredential[]) => {
        queries.push(streams);
        if (failing) return Promise.reject(new Error('connection terminated'));
        return Promise.resolve(
          streams.map((s) => db.get(s.serial ?? '') ?? { clusterExists: true }),
        );
      },
    } as unknown as EnrollmentRepository;
    const dispatcher = { all: () => live.filter((s) => !s.closed) } as unknown as Dispatcher;
    check = new CredentialCheck(dispatcher, repo, { credentialCheckSeconds: 30 } as HubConfig);
  });
  afterEach(() => {
    check.onModuleDestroy();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('a session registered after a revocation it missed is closed at once, in one query with the others', async () => {
    const a = open(A, { serial: 'aa', notAfter: later });
    const b = open(B, { serial: 'bb', notAfter: later });
    db.set('aa', { clusterExists: true, certificate: 'revoked' });
    db.set('bb', valid);
    check.checkSoon(a.session);
    check.checkSoon(b.session);
    await vi.advanceTimersByTimeAsync(50);
    await check.idle();
    expect(queries).toEqual([
      [
        { clusterId: A, serial: 'aa' },
        { clusterId: B, serial: 'bb' },
      ],
    ]);
    expect(a.ended).toEqual({
      code: GrpcStatus.UNAUTHENTICATED,
      details: 'certificate aa of cluster "east" was revoked',
    });
    expect(a.session.closed).toBe(true);
    expect(b.session.closed).toBe(false);
  });

  it('checks every session each period: a revocation whose notification was missed, an expiry', async () => {
    check.onApplicationBootstrap();
    const a = open(A, { serial: 'aa', notAfter: later });
    const b = open(B, { serial: 'bb', notAfter: new Date(NOW + 45_000) });
    live.push(a.session, b.session);
    db.set('aa', valid);
    db.set('bb', valid);
    await vi.advanceTimersByTimeAsync(30_050);
    expect(queries).toHaveLength(1);
    expect(a.session.closed || b.session.closed).toBe(false);
    // Revoked by writing the row (no notification), and b's certificate runs out.
    db.set('aa', { clusterExists: true, certificate: 'revoked' });
    await vi.advanceTimersByTimeAsync(30_000);
    expect(queries).toHaveLength(2);
    expect(queries[1]).toHaveLength(2); // one query for both
    expect(a.ended.code).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(b.ended).toEqual({
      code: GrpcStatus.UNAUTHENTICATED,
      details: 'certificate bb of cluster "west" expired at 2030-01-01T12:00:45.000Z',
    });
  });

  it('a renewed agent keeps its new stream; the stream of the old certificate ends at its expiry', async () => {
    const old = open(A, { serial: 'old', notAfter: new Date(NOW + 1000) });
    const renewed = open(A, { serial: 'new', notAfter: later });
    db.set('old', valid);
    db.set('new', valid);
    live.push(old.session, renewed.session);
    vi.setSystemTime(NOW + 1000);
    check.checkAll();
    await vi.advanceTimersByTimeAsync(50);
    await check.idle();
    expect(old.session.closed).toBe(true);
    expect(renewed.session.closed).toBe(false);
  });

  it('checkAll (the listener reconnected) checks every session; without the database, expiry still ends a stream', async () => {
    const a = open(A, { serial: 'aa', notAfter: later });
    const b = open(B, { serial: 'bb', notAfter: new Date(NOW - 1) });
    live.push(a.session, b.session);
    failing = true;
    check.checkAll();
    await vi.advanceTimersByTimeAsync(50);
    await check.idle();
    expect(queries).toHaveLength(1);
    expect(a.session.closed).toBe(false);
    expect(b.session.closed).toBe(true);
    // Back: the next check reads it.
    failing = false;
    db.set('aa', { clusterExists: false });
    check.checkAll();
    await vi.advanceTimersByTimeAsync(50);
    await check.idle();
    expect(a.ended).toEqual({ code: GrpcStatus.PERMISSION_DENIED, details: 'cluster removed' });
  });

  it('asks nothing when there is no open session', async () => {
    const a = open(A, { serial: 'aa', notAfter: later });
    a.session.ended();
    check.checkSoon(a.session);
    check.checkAll();
    await vi.advanceTimersByTimeAsync(50);
    await check.idle();
    expect(queries).toEqual([]);
  });
});
