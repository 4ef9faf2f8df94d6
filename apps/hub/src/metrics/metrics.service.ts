import { Inject, Injectable, Optional } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TargetsRepository } from '../applications/targets.repository.js';
import { ClustersRepository } from '../clusters/clusters.repository.js';
import { AGENT_AWAY_GRACE_SECONDS, HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { NotificationsRepository } from '../notifications/notifications.repository.js';
import { WorkRepository } from '../work/work.repository.js';

/**
 * Prometheus metrics for the hub. Fleet state (apps × clusters by sync and health) is read from
 * PostgreSQL at scrape time, so every replica reports the same fleet; counters are per replica.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly deploysSent = new Counter({
    name: 'axle_deploys_sent_total',
    help: 'Deploy messages sent to agents (one per app generation per cluster)',
    labelNames: ['cluster', 'with_bundle'] as const,
    registers: [this.registry],
  });

  readonly bundleBytesSent = new Counter({
    name: 'axle_bundle_bytes_sent_total',
    help: 'Compressed bundle bytes sent to agents',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly removesSent = new Counter({
    name: 'axle_removes_sent_total',
    help: 'Remove messages sent to agents',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly dispatchRefused = new Counter({
    name: 'axle_dispatch_refused_total',
    help: 'Deploys withheld at dispatch because the project no longer allows them',
    labelNames: ['cluster'] as const,
    registers: [this.registry],
  });

  readonly renders = new Counter({
    name: 'axle_renders_total',
    help: 'Render tool runs (directory, kustomize, helm, plugin), by result',
    labelNames: ['tool', 'result'] as const,
    registers: [this.registry],
  });

  readonly renderCacheHits = new Counter({
    name: 'axle_render_cache_hits_total',
    help: 'Renders answered from the render cache (same source, commit, options and parameters)',
    registers: [this.registry],
  });

  readonly gitFetches = new Counter({
    name: 'axle_git_fetches_total',
    help: 'git fetch runs, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly rolloutStep = new Gauge({
    name: 'axle_rollout_step',
    help: 'The step a RollingSync rollout is at (1-based), by ApplicationSet',
    labelNames: ['appset'] as const,
    registers: [this.registry],
  });

  readonly rolloutStatus = new Gauge({
    name: 'axle_rollout_status',
    help: 'A RollingSync rollout: 1 for its current status, 0 for the others',
    labelNames: ['appset', 'status'] as const,
    registers: [this.registry],
  });

  readonly dependencyWaiting = new Gauge({
    name: 'axle_dependency_waiting',
    help: 'An application target waiting for its dependencies (1) or not (0)',
    labelNames: ['app', 'cluster'] as const,
    registers: [this.registry],
  });

  readonly rolloutHalts = new Counter({
    name: 'axle_rollout_halts_total',
    help: 'Rollouts halted by a failed step, by what onFailure did (pause, rollback)',
    labelNames: ['appset', 'on_failure'] as const,
    registers: [this.registry],
  });

  readonly agentSessions = new Gauge({
    name: 'axle_agent_sessions',
    help: 'Agent streams held by this replica',
    registers: [this.registry],
  });

  readonly reconcileBatchDuration = new Histogram({
    name: 'axle_reconcile_batch_duration_seconds',
    help: 'Time to reconcile one batch of applications (resolve, render, check, write)',
    labelNames: ['result'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly appsReconciled = new Counter({
    name: 'axle_apps_reconciled_total',
    help: 'Applications reconciled, by result (ok, failed: a condition was recorded)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly targetsChanged = new Counter({
    name: 'axle_targets_changed_total',
    help: 'Application × cluster targets whose desired generation moved',
    registers: [this.registry],
  });

  readonly reportsWritten = new Counter({
    name: 'axle_agent_reports_written_total',
    help: 'Agent reports stored (write-behind), by kind: status, ack, event',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly reportFlushDuration = new Histogram({
    name: 'axle_agent_report_flush_duration_seconds',
    help: 'Time to store one write-behind batch of agent reports',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly eventsDropped = new Counter({
    name: 'axle_agent_events_dropped_total',
    help: 'Agent events dropped because the database could not take them in time',
    registers: [this.registry],
  });

  readonly reportsRefused = new Counter({
    name: 'axle_agent_reports_refused_total',
    help: 'Agent reports left out because PostgreSQL refused their data (each found and skipped alone)',
    registers: [this.registry],
  });

  readonly dispatchRoundDuration = new Histogram({
    name: 'axle_dispatch_round_duration_seconds',
    help: 'Time to deliver one round of desired state to the notified agent streams',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly dispatchRoundClusters = new Histogram({
    name: 'axle_dispatch_round_clusters',
    help: 'Agent streams served by one delivery round',
    buckets: [1, 10, 100, 1000, 10000],
    registers: [this.registry],
  });

  readonly appsetEvaluationDuration = new Histogram({
    name: 'axle_appset_evaluation_duration_seconds',
    help: 'Time of one full ApplicationSet evaluation (generate, plan, write), by whether it changed anything',
    labelNames: ['changed'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });

  readonly appsetEvaluations = new Counter({
    name: 'axle_appset_evaluations_total',
    help: 'ApplicationSet evaluations, by outcome (skipped: inputs unchanged)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly notificationEvents = new Counter({
    name: 'axle_notification_events_total',
    help: 'Events noticed by the notification detector, by trigger',
    labelNames: ['trigger'] as const,
    registers: [this.registry],
  });

  readonly notificationAttempts = new Counter({
    name: 'axle_notification_attempts_total',
    help: 'Delivery attempts, by destination type and result (delivered, retry, dead)',
    labelNames: ['type', 'result'] as const,
    registers: [this.registry],
  });

  constructor(
    targets: TargetsRepository,
    clusters: ClustersRepository,
    work: WorkRepository,
    notifications: NotificationsRepository,
    @Optional() @Inject(HUB_CONFIG) config?: HubConfig,
  ) {
    // As the API shows them: a target whose agent is away this long is Unknown.
    const awayMs = (config?.notify.disconnectedSeconds ?? AGENT_AWAY_GRACE_SECONDS) * 1000;
    collectDefaultMetrics({ register: this.registry, prefix: 'axle_hub_' });
    new Gauge({
      name: 'axle_app_targets',
      help: 'Applications × clusters stored by sync status and health, as the API shows them (Unknown when their agent is away past the grace)',
      labelNames: ['sync', 'health'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await targets.fleetCounts(awayMs);
        for (const r of rows) this.set({ sync: r.sync, health: r.health }, Number(r.n));
      },
    });
    new Gauge({
      name: 'axle_work_queue_items',
      help: 'Objects marked for reconciliation, by kind and state (ready, leased by a replica)',
      labelNames: ['kind', 'state'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const [kind, d] of Object.entries(await work.depth())) {
          this.set({ kind, state: 'ready' }, d.ready);
          this.set({ kind, state: 'leased' }, d.leased);
        }
      },
    });
    new Gauge({
      name: 'axle_clusters',
      help: 'Registered clusters by agent connection',
      labelNames: ['connected'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await clusters.countByConnection();
        for (const r of rows) this.set({ connected: String(r.connected) }, Number(r.n));
      },
    });
    new Gauge({
      name: 'axle_notification_deliveries',
      help: 'Notification deliveries in the outbox by status (Pending, Delivered, Dead)',
      labelNames: ['status'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const r of await notifications.countByStatus()) this.set({ status: r.status }, r.n);
      },
    });
  }
}
