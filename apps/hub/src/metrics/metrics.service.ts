import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { DataSource } from 'typeorm';

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

  readonly agentSessions = new Gauge({
    name: 'axle_agent_sessions',
    help: 'Agent streams held by this replica',
    registers: [this.registry],
  });

  readonly reconcileDuration = new Histogram({
    name: 'axle_app_reconcile_duration_seconds',
    help: 'Time to resolve, render and plan one application',
    labelNames: ['result'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly appsetEvaluations = new Counter({
    name: 'axle_appset_evaluations_total',
    help: 'ApplicationSet evaluations, by outcome (skipped: inputs unchanged)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  constructor(ds: DataSource) {
    collectDefaultMetrics({ register: this.registry, prefix: 'axle_hub_' });
    new Gauge({
      name: 'axle_app_targets',
      help: 'Applications × clusters by sync status and health',
      labelNames: ['sync', 'health'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await ds.query<{ sync: string; health: string; n: string; behind: boolean }[]>(
          `SELECT CASE WHEN applied_generation < desired_generation THEN 'OutOfSync' ELSE sync END AS sync,
                  health, count(*) AS n
             FROM app_targets GROUP BY 1, 2`,
        );
        for (const r of rows) this.set({ sync: r.sync, health: r.health }, Number(r.n));
      },
    });
    new Gauge({
      name: 'axle_clusters',
      help: 'Registered clusters by agent connection',
      labelNames: ['connected'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await ds.query<{ connected: boolean; n: string }[]>(
          `SELECT connected, count(*) AS n FROM clusters GROUP BY 1`,
        );
        for (const r of rows) this.set({ connected: String(r.connected) }, Number(r.n));
      },
    });
  }
}
