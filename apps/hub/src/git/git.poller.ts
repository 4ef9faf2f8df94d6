import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { GitService } from './git.service.js';

/** Polls every known repository on AXLE_GIT_POLL_SECONDS; a poll never overlaps the previous one. */
@Injectable()
export class GitPoller implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger('GitPoller');
  private running: Promise<void> | undefined;

  constructor(
    private readonly git: GitService,
    private readonly scheduler: SchedulerRegistry,
    @Inject(HUB_CONFIG) private readonly config: HubConfig,
  ) {}

  onApplicationBootstrap(): void {
    const timer = setInterval(() => void this.poll(), this.config.gitPollSeconds * 1000);
    timer.unref();
    this.scheduler.addInterval('git-poll', timer);
    // Refs may have moved while the hub was down: fetch everything once at start.
    void this.poll();
  }

  poll(): Promise<void> {
    this.running ??= this.git
      .pollAll()
      .catch((e: unknown) => this.log.error(`poll failed: ${(e as Error).message}`))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async onModuleDestroy(): Promise<void> {
    if (this.scheduler.doesExist('interval', 'git-poll')) this.scheduler.deleteInterval('git-poll');
    await this.running;
  }
}
