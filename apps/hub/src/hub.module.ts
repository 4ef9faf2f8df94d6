import { SessionController } from './auth/session.controller.js';
import { SessionsRepository } from './auth/sessions.repository.js';
import { SessionsService } from './auth/sessions.service.js';
import { FleetController } from './fleet/fleet.controller.js';
import { FleetFeed } from './fleet/fleet.feed.js';
import { FleetService } from './fleet/fleet.service.js';
import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { ScheduleModule } from '@nestjs/schedule';
import { ApplicationsController } from './applications/applications.controller.js';
import { AppSyncService } from './applications/app-sync.service.js';
import { AppDiffService } from './applications/app-diff.service.js';
import { DependenciesRepository } from './dependencies/dependencies.repository.js';
import { DependenciesService } from './dependencies/dependencies.service.js';
import { AppSetPreviewService } from './appsets/appset-preview.service.js';
import { GeneratorPlugins } from './appsets/generator-plugins.js';
import { ScmProviders } from './appsets/scm-client.js';
import { DuckTypes } from './appsets/duck-types.js';
import { RolloutsController } from './rollouts/rollouts.controller.js';
import { RolloutsRepository } from './rollouts/rollouts.repository.js';
import { RolloutsService } from './rollouts/rollouts.service.js';
import { ApplicationsService } from './applications/applications.service.js';
import { AppSetEvaluator } from './appsets/appset-evaluator.js';
import { AppSetsController } from './appsets/appsets.controller.js';
import { AppSetsService } from './appsets/appsets.service.js';
import { ClustersController } from './clusters/clusters.controller.js';
import { ClustersService } from './clusters/clusters.service.js';
import { HUB_CONFIG, type HubConfig } from './config/hub-config.js';
import { DATABASE_URL, DatabaseModule } from './database/database.module.js';
import { AgentGatewayServer } from './dispatch/agent-gateway.server.js';
import { DispatchNotifier } from './dispatch/dispatch.notifier.js';
import { GitPoller } from './git/git.poller.js';
import { GitService } from './git/git.service.js';
import { WebhooksController } from './git/webhooks.controller.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditService } from './audit/audit.service.js';
import { AuthGuard } from './auth/auth.guard.js';
import { TokensController } from './auth/tokens.controller.js';
import { TokensService } from './auth/tokens.service.js';
import { HealthController } from './health/health.controller.js';
import { ProjectsController } from './projects/projects.controller.js';
import { ProjectsService } from './projects/projects.service.js';
import { CredentialsController } from './repositories/credentials.controller.js';
import { CredentialsService } from './repositories/credentials.service.js';
import { SecretBox } from './secrets/secret-box.js';
import { EnrollmentService } from './enrollment/enrollment.service.js';
import { PkiService } from './enrollment/pki.service.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { ApplicationsRepository } from './applications/applications.repository.js';
import { TargetsRepository } from './applications/targets.repository.js';
import { AppSetsRepository } from './appsets/appsets.repository.js';
import { AuditRepository } from './audit/audit.repository.js';
import { TokensRepository } from './auth/tokens.repository.js';
import { ClustersRepository } from './clusters/clusters.repository.js';
import { CredentialCheck } from './dispatch/credential-check.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { STATUS_WRITER_OPTIONS, StatusWriter } from './dispatch/status-writer.js';
import { EnrollmentRepository } from './enrollment/enrollment.repository.js';
import { GitReposRepository } from './git/git-repos.repository.js';
import { ProjectsRepository } from './projects/projects.repository.js';
import { ReconcileStore } from './reconcile/reconcile.store.js';
import { ReconcileWorker } from './reconcile/reconcile.worker.js';
import { BundleStore } from './render/bundle.store.js';
import { ChildAppsService } from './applications/child-apps.service.js';
import { BundlesRepository } from './render/bundles.repository.js';
import { RenderService } from './render/render.service.js';
import { ReplicaService } from './replicas/replica.service.js';
import { ReplicasRepository } from './replicas/replicas.repository.js';
import { CredentialsRepository } from './repositories/credentials.repository.js';
import { NotificationDetector } from './notifications/notification.detector.js';
import { NotificationOutbox } from './notifications/notification.outbox.js';
import { NotificationSender } from './notifications/notification.sender.js';
import { NotificationsController } from './notifications/notifications.controller.js';
import { NotificationsRepository } from './notifications/notifications.repository.js';
import { NotificationsService } from './notifications/notifications.service.js';
import { WorkQueue } from './work/work-queue.js';
import { WorkRepository } from './work/work.repository.js';
import { BodyDepthInterceptor } from './common/body-depth.js';

@Module({})
export class HubModule {
  static forRoot(config: HubConfig, databaseUrl: string): DynamicModule {
    const configProviders = [
      { provide: HUB_CONFIG, useValue: config },
      { provide: DATABASE_URL, useValue: databaseUrl },
    ];
    return {
      module: HubModule,
      global: true,
      imports: [
        ScheduleModule.forRoot(),
        { module: DatabaseModule, providers: configProviders, exports: configProviders },
      ],
      controllers: [
        ClustersController,
        ApplicationsController,
        AppSetsController,
        WebhooksController,
        HealthController,
        MetricsController,
        TokensController,
        CredentialsController,
        ProjectsController,
        AuditController,
        RolloutsController,
        NotificationsController,
        SessionController,
        FleetController,
      ],
      providers: [
        ...configProviders,
        { provide: STATUS_WRITER_OPTIONS, useValue: { flushDelayMs: config.reportFlushMs } },
        // Data access, one repository per aggregate.
        ApplicationsRepository,
        TargetsRepository,
        AppSetsRepository,
        ClustersRepository,
        BundlesRepository,
        ProjectsRepository,
        AuditRepository,
        TokensRepository,
        CredentialsRepository,
        EnrollmentRepository,
        GitReposRepository,
        WorkRepository,
        ReplicasRepository,
        NotificationsRepository,
        SessionsRepository,
        // Services.
        ReplicaService,
        WorkQueue,
        ClustersService,
        ApplicationsService,
        AppSyncService,
        AppDiffService,
        DependenciesRepository,
        DependenciesService,
        AppSetPreviewService,
        RolloutsRepository,
        RolloutsService,
        GitService,
        GitPoller,
        BundleStore,
        ChildAppsService,
        RenderService,
        DispatchNotifier,
        Dispatcher,
        CredentialCheck,
        StatusWriter,
        ReconcileStore,
        ReconcileWorker,
        GeneratorPlugins,
        ScmProviders,
        DuckTypes,
        AppSetEvaluator,
        AppSetsService,
        AgentGatewayServer,
        MetricsService,
        AuditService,
        TokensService,
        CredentialsService,
        ProjectsService,
        PkiService,
        EnrollmentService,
        NotificationSender,
        NotificationsService,
        NotificationDetector,
        NotificationOutbox,
        SessionsService,
        FleetService,
        FleetFeed,
        {
          provide: SecretBox,
          useFactory: () => {
            if (config.secretKey) return SecretBox.fromKey(config.secretKey);
            const { box, created } = SecretBox.fromFile(config.secretKeyFile, true);
            if (created)
              new Logger('Secrets').warn(
                `created a key for secrets at rest: ${config.secretKeyFile}`,
              );
            return box;
          },
        },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_INTERCEPTOR, useClass: BodyDepthInterceptor },
      ],
    };
  }
}
