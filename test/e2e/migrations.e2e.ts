import { DataSource } from 'typeorm';
import { describe, expect, it } from 'vitest';
import { createDataSource, migrateWithLock } from '../../apps/hub/src/database/data-source.js';
import { DirectoryRecurseKept1766300000000 } from '../../apps/hub/src/database/migrations/1766300000000-DirectoryRecurseKept.js';
import { MIGRATIONS } from '../../apps/hub/src/database/migrations/index.js';
import { createTestDatabase } from '../support/hub-harness.js';

describe('migrations of stored data', () => {
  it('keeps directory applications that relied on the old recursive default recursive', async () => {
    const url = await createTestDatabase();
    // The database as the release before: the migrations before this one.
    const before = new DataSource({
      type: 'postgres',
      url,
      migrations: MIGRATIONS.slice(0, MIGRATIONS.indexOf(DirectoryRecurseKept1766300000000)),
      migrationsTableName: 'axle_migrations',
    });
    await before.initialize();
    try {
      await before.runMigrations({ transaction: 'each' });
      const source = (more: object = {}) => ({
        repoURL: 'https://git.example/r.git',
        targetRevision: 'main',
        path: 'p',
        ...more,
      });
      const apps: [string, object, string | null][] = [
        ['plain', source(), 'directory'],
        ['plain-include', source({ directory: { include: '*.yaml' } }), 'directory'],
        ['said-no', source({ directory: { recurse: false } }), 'directory'],
        ['kustomized', source(), 'kustomize'],
        ['never-rendered', source(), null],
      ];
      for (const [name, src, tool] of apps) {
        const [{ id }] = await before.query<{ id: string }[]>(
          `INSERT INTO applications (name, spec) VALUES ($1, $2) RETURNING id`,
          [
            name,
            JSON.stringify({ project: 'default', source: src, destination: { cluster: 'c' } }),
          ],
        );
        if (tool)
          await before.query(`INSERT INTO app_renders (app_id, tool) VALUES ($1, $2)`, [id, tool]);
      }
    } finally {
      await before.destroy();
    }
    const after = createDataSource(url);
    await after.initialize();
    try {
      expect(await migrateWithLock(after)).toContain('DirectoryRecurseKept1766300000000');
      const rows = await after.query<{ name: string; directory: object | null }[]>(
        `SELECT name, spec->'source'->'directory' AS directory FROM applications ORDER BY name`,
      );
      expect(Object.fromEntries(rows.map((r) => [r.name, r.directory]))).toEqual({
        kustomized: null,
        'never-rendered': null,
        plain: { recurse: true },
        'plain-include': { include: '*.yaml', recurse: true },
        'said-no': { recurse: false },
      });
    } finally {
      await after.destroy();
    }
  });
});
