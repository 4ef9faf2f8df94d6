import { Logger } from '@nestjs/common';
import { ConfigError, loadHubConfig } from './config/hub-config.js';
import { leaveSignalsToCaller } from './database/embedded-postgres.js';
import { startHub } from './hub.js';

async function main(): Promise<void> {
  const config = loadHubConfig();
  const hub = await startHub(config);
  // This process stops itself on signals (below): the hub first, then its embedded PostgreSQL.
  leaveSignalsToCaller();
  const log = new Logger('Axle');
  log.log(
    `hub ready: REST ${hub.httpUrl}/api/v1 (OpenAPI ${hub.httpUrl}/api/docs), agents ${hub.grpcAddress}`,
  );
  log.log(
    config.databaseUrl
      ? 'database: DATABASE_URL'
      : `database: embedded PostgreSQL in ${config.dataDir}/pg`,
  );
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.log(`${sig}: shutting down`);
    hub.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error(e);
        process.exit(1);
      },
    );
  };
  // Last resort: a rejection nobody handled is a bug to log, not a reason to stop serving.
  process.on('unhandledRejection', (e) =>
    log.error(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`),
  );
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((e: unknown) => {
  if (e instanceof ConfigError) console.error(e.message);
  else console.error(e);
  process.exit(1);
});
