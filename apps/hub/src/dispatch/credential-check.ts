import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { EnrollmentRepository, type CredentialState } from '../enrollment/enrollment.repository.js';
import type { AgentSession } from './agent-session.js';
import { Dispatcher } from './dispatcher.js';

/** New sessions arriving within this window are checked together. */
const COALESCE_MS = 10;

/** What the check needs of a session. */
type Checked = Pick<AgentSession, 'clusterId' | 'clusterName' | 'credential' | 'closed'>;

export interface Verdict<S> {
  session: S;
  code: GrpcStatus;
  details: string;
}

/**
 * Which sessions must end, given what the database says of their credentials now (`states`, in
 * the order of `sessions`; undefined when it could not be read: then only expiry is judged) and
 * the time. A session keeps the certificate it was opened with: an agent that renews opens a new
 * stream with the new certificate, which replaces this one.
 */
export function sessionsToClose<S extends Checked>(
  sessions: readonly S[],
  states: readonly (CredentialState | undefined)[] | undefined,
  now: number,
): Verdict<S>[] {
  const out: Verdict<S>[] = [];
  sessions.forEach((session, i) => {
    if (session.closed) return;
    const cert = session.credential;
    const state = states?.[i];
    if (state && !state.clusterExists) {
      out.push({ session, code: GrpcStatus.PERMISSION_DENIED, details: 'cluster removed' });
    } else if (cert && state?.certificate === 'revoked') {
      out.push({
        session,
        code: GrpcStatus.UNAUTHENTICATED,
        details: `certificate ${cert.serial} of cluster "${session.clusterName}" was revoked`,
      });
    } else if (cert && state?.certificate === 'unknown') {
      out.push({
        session,
        code: GrpcStatus.UNAUTHENTICATED,
        details: `certificate ${cert.serial} is no longer known to this hub`,
      });
    } else if (cert && cert.notAfter.getTime() <= now) {
      out.push({
        session,
        code: GrpcStatus.UNAUTHENTICATED,
        details: `certificate ${cert.serial} of cluster "${session.clusterName}" expired at ${cert.notAfter.toISOString()}`,
      });
    }
  });
  return out;
}

/**
 * Checks the credentials of this replica's agent streams again while they last: TLS checked the
 * certificate once, when the stream opened, and a revocation's notification (DISCONNECT) reaches
 * only a session already registered, on a replica whose listener was up. So every
 * `credentialCheckSeconds`, after every reconnect of the notification listener and right after a
 * session is registered (closing the gap between its certificate's lookup and its registration,
 * which a revocation may fall into), one query reads whether the certificates are still unrevoked
 * and the clusters still there; those that are not, and certificates past their expiry, end their
 * streams (UNAUTHENTICATED; PERMISSION_DENIED for a deleted cluster).
 */
@Injectable()
export class CredentialCheck implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('CredentialCheck');
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Sessions to check at the next run, or every session (`everyone`). */
  private readonly pending = new Set<AgentSession>();
  private everyone = false;

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly repo: EnrollmentRepository,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.checkAll(), this.config.credentialCheckSeconds * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
    clearTimeout(this.soon);
  }

  /** Checks every session of this replica soon. */
  checkAll(): void {
    this.everyone = true;
    this.schedule();
  }

  /** Checks a session soon (one just registered); those arriving together share one query. */
  checkSoon(session: AgentSession): void {
    this.pending.add(session);
    this.schedule();
  }

  /** Resolves when no check is due or running (tests). */
  async idle(): Promise<void> {
    while (this.soon || this.running) {
      if (this.running) await this.running;
      else await new Promise((r) => setTimeout(r, COALESCE_MS * 2));
    }
  }

  private schedule(): void {
    if (this.soon || this.running) return;
    if (!this.everyone && this.pending.size === 0) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      const sessions = this.everyone ? this.dispatcher.all() : [...this.pending];
      this.everyone = false;
      this.pending.clear();
      this.running = this.check(sessions).finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, COALESCE_MS);
  }

  /** Checks these sessions now (one query) and closes those whose credential no longer holds. */
  async check(sessions: AgentSession[]): Promise<void> {
    const open = sessions.filter((s) => !s.closed);
    if (open.length === 0) return;
    let states: CredentialState[] | undefined;
    try {
      states = await this.repo.credentialStates(
        open.map((s) => ({ clusterId: s.clusterId, serial: s.credential?.serial })),
      );
    } catch (e) {
      // The next check reads them again; expiry needs no database and is judged now.
      this.log.warn(`could not check agent credentials: ${(e as Error).message}`);
    }
    for (const v of sessionsToClose(open, states, Date.now())) {
      this.log.warn(`${v.session.clusterName}: closing the agent stream: ${v.details}`);
      v.session.close(v.code, v.details);
    }
  }
}
