import { describe, expect, it } from 'vitest';
import type { AuditRepository } from './audit.repository.js';
import { AuditService } from './audit.service.js';

function recorded() {
  const rows: { name?: string; before?: unknown; after?: unknown }[] = [];
  const repo = {
    insert: (_tx: unknown, row: { name?: string; before?: unknown; after?: unknown }) => {
      rows.push(row);
      return Promise.resolve();
    },
  } as unknown as AuditRepository;
  return { svc: new AuditService(repo), rows };
}

describe('AuditService', () => {
  it('keeps secrets out of what it records, by key and by name/value pair', async () => {
    const { svc, rows } = recorded();
    await svc.record('x.update', 'X', 'x', undefined, {
      password: 'hunter2',
      helm: {
        parameters: [
          { name: 'db.password', value: 'hunter2' },
          { name: 'a', value: 'b' },
        ],
      },
    });
    expect(JSON.stringify(rows[0].after)).not.toContain('hunter2');
    expect(rows[0].after).toMatchObject({ helm: { parameters: [{}, { name: 'a', value: 'b' }] } });
  });

  it('keeps nothing it did not look into: a secret nested deeper than it walks', async () => {
    const { svc, rows } = recorded();
    let deep: unknown = { password: 'hunter2' };
    for (let i = 0; i < 25; i++) deep = { l: deep };
    await svc.record('x.update', 'X', 'x', undefined, { values: deep });
    expect(JSON.stringify(rows[0].after)).not.toContain('hunter2');
    expect(JSON.stringify(rows[0].after)).toContain('<redacted: nested too deep>');
  });

  it('shortens a name longer than its column rather than failing the change it records', async () => {
    const { svc, rows } = recorded();
    await svc.record(
      'credentials.create',
      'RepositoryCredentials',
      `https://git.example.com/${'a'.repeat(300)}`,
      undefined,
      {},
    );
    expect(rows[0].name).toHaveLength(253);
    expect(rows[0].name?.endsWith('…')).toBe(true);
  });
});
