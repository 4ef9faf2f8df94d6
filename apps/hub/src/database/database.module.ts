import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { HUB_CONFIG, type HubConfig } from '../config/hub-config.js';
import { createDataSource, migrateWithLock } from './data-source.js';
import { NotifyBus } from './notify-bus.js';

export const DATABASE_URL = Symbol('DATABASE_URL');

@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [DATABASE_URL],
      useFactory: async (url: string) => {
        const ds = createDataSource(url);
        await ds.initialize();
        const ran = await migrateWithLock(ds);
        if (ran.length > 0) new Logger('Database').log(`applied migrations: ${ran.join(', ')}`);
        return ds;
      },
    },
    {
      provide: NotifyBus,
      inject: [DATABASE_URL, DataSource],
      useFactory: async (url: string, ds: DataSource) => {
        const bus = new NotifyBus(url, ds);
        await bus.start();
        return bus;
      },
    },
  ],
  exports: [DataSource, NotifyBus],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(
    private readonly ds: DataSource,
    private readonly bus: NotifyBus,
    @Inject(HUB_CONFIG) private readonly _config: HubConfig,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.bus.stop();
    if (this.ds.isInitialized) await this.ds.destroy();
  }
}
