import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { AppSetEvaluator } from '../appsets/appset-evaluator.js';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { NotifyBus } from '../database/notify-bus.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { ReplicaService } from '../replicas/replica.service.js';
import { WorkLoop } from '../work/work-loop.js';
import { WORK_CHANNEL, WorkQueue } from '../work/work-queue.js';
import { WorkRepository, type WorkItem } from '../work/work.repository.js';
import type { Lease } from '../work/work-loop.js';
import { BatchReconciler } from './batch-reconciler.js';
import { ReconcileStore } from './reconcile.store.js';

/**
 * Runs the shared reconcile loop for both kinds of work on this replica: batches of applications
 * (BatchReconciler) and ApplicationSet evaluations (AppSetEvaluator). Work comes from the durable
 * queue that every change writes to in its own transaction; LISTEN/NOTIFY wakes the replicas, and
 * leases make each object's work one replica's at a time. One replica per interval marks
 * everything for the periodic resync (the safety net).
 */
@Injectable()
export class ReconcileWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('Reconcile');
  private readonly reconciler: BatchReconciler;
  readonly apps: WorkLoop;
  readonly appsets: WorkLoop;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(
    store: ReconcileStore,
    repo: WorkRepository,
    evaluator: AppSetEvaluator,
    private readonly queue: WorkQueue,
    private readonly work: WorkRepository,
    private readonly bus: NotifyBus,
    private readonly metrics: MetricsService,
    replica: ReplicaService,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {
    this.reconciler = new BatchReconciler(store, replica.id);
    const common = {
      owner: replica.id,
      leaseSeconds: config.reconcile.leaseSeconds,
      pollMs: Math.max(1000, (config.reconcile.leaseSeconds * 1000) / 3),
    };
    this.apps = new WorkLoop(repo, {
      ...common,
      kind: 'app',
      batchSize: config.reconcile.batchSize,
      concurrency: 2,
      handle: (items, lease) => this.reconcileApps(items, lease),
    });
    this.appsets = new WorkLoop(repo, {
      ...common,
      kind: 'appset',
      batchSize: 1,
      concurrency: 2,
      handle: ([item], lease) => evaluator.evaluate(item, lease),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.subscribe(WORK_CHANNEL, (kind) => {
      if (kind === 'app') this.apps.wake();
      if (kind === 'appset') this.appsets.wake();
    });
    // Notifications may have been missed while the listener was down.
    this.bus.onReconnect(() => {
      this.apps.wake();
      this.appsets.wake();
    });
    this.apps.start();
    this.appsets.start();
    const check = Math.min(this.config.resyncSeconds, 30) * 1000;
    this.resyncTimer = setInterval(() => void this.maybeResync(), check);
    this.resyncTimer.unref();
    void this.maybeResync();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.resyncTimer);
    await Promise.all([this.apps.stop(), this.appsets.stop()]);
  }

  /** Resolves when this replica has no reconcile work running or claimable right now. */
  async idle(): Promise<void> {
    await Promise.all([this.apps.idle(), this.appsets.idle()]);
  }

  private async reconcileApps(items: WorkItem[], lease: Lease): Promise<void> {
    const end = this.metrics.reconcileBatchDuration.startTimer();
    try {
      const r = await this.reconciler.run(items, lease);
      end({ result: 'ok' });
      this.metrics.appsReconciled.inc({ result: 'ok' }, r.apps - r.failed);
      this.metrics.appsReconciled.inc({ result: 'failed' }, r.failed);
      this.metrics.targetsChanged.inc(r.changed);
      if (r.changed || r.failed || r.lost) {
        this.log.log(
          `batch of ${r.apps} application(s): ${r.rendered} to render, ${r.changed} target(s) changed on ${r.clusters} cluster(s)` +
            (r.failed ? `, ${r.failed} failed` : '') +
            (r.lost ? `, ${r.lost} taken over by another replica` : '') +
            ` (ms: ${Object.entries(r.ms)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')})`,
        );
      }
    } catch (e) {
      end({ result: 'error' });
      throw e;
    }
  }

  /** One replica per interval marks every application and ApplicationSet (the safety net). */
  private async maybeResync(): Promise<void> {
    try {
      if (!(await this.work.takeResyncTurn(this.config.resyncSeconds))) return;
      const apps = await this.queue.apps({ all: true }, 'periodic resync');
      const appsets = await this.queue.appsets({ all: true }, 'periodic resync');
      if (apps + appsets > 0)
        this.log.log(`periodic resync: ${apps} application(s), ${appsets} ApplicationSet(s)`);
    } catch (e) {
      this.log.warn(`periodic resync failed: ${(e as Error).message}`);
    }
  }
}
