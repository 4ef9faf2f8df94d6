import type { DataSource } from 'typeorm';
import { NotificationsRepository } from '../../apps/hub/src/notifications/notifications.repository.js';
import { NotificationsService } from '../../apps/hub/src/notifications/notifications.service.js';
import { migratedDataSource } from './hub-harness.js';

/**
 * The notifications repository and service on a fresh PostgreSQL database, with one webhook
 * destination named `hook` (no sender, secrets nor audit log behind them). Destroy `ds` after.
 */
export async function notificationsOnPostgres(): Promise<{
  ds: DataSource;
  repo: NotificationsRepository;
  service: NotificationsService;
}> {
  const ds = await migratedDataSource();
  const repo = new NotificationsRepository(ds);
  const service = new NotificationsService(
    repo,
    {} as never,
    {} as never,
    { record: () => Promise.resolve() } as never,
  );
  await repo.insertDestination({ name: 'hook', type: 'webhook', config: {}, secretSealed: null });
  return { ds, repo, service };
}
