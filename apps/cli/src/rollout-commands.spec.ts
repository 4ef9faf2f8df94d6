import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { Schemas } from '../../../libs/api-client/src/index.js';
import { fakeHub, json, type FakeHub } from '../../../test/support/fake-hub.js';
import { runCli } from './cli.js';

type RolloutView = Schemas['RolloutView'];

const view = (status: RolloutView['status'], message = ''): RolloutView => ({
  kind: 'appset',
  name: 'fleet',
  status,
  step: 1,
  message,
  onFailure: 'pause',
  startedAt: null,
  steps: [],
});

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

/** `axle rollout status fleet ...args` against a hub answering `statuses` in turn (the last again). */
async function status(statuses: RolloutView[], ...args: string[]) {
  let n = 0;
  hub = await fakeHub((_, res) => json(res, 200, statuses[Math.min(n++, statuses.length - 1)]));
  let out = '';
  let err = '';
  const code = await runCli(['--server', hub.url, 'rollout', 'status', 'fleet', ...args], {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    env: {},
  });
  return { code, out, err, calls: n };
}

describe('axle rollout status --watch', () => {
  it('exits 0 once the rollout completes', async () => {
    const r = await status([view('Progressing'), view('Completed')], '--watch');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.calls).toBe(2);
    expect(r.out).toContain('applicationset "fleet": Completed');
  });

  it.each([
    ['Halted', 'step 1: web failed its sync'],
    ['RolledBack', 'rolled back'],
    ['Aborted', 'aborted on request'],
    ['Paused', 'paused on request'],
  ] as const)('exits 1 when the rollout is %s', async (s, message) => {
    const r = await status([view(s, message)], '--watch');
    expect(r.code).toBe(1);
    expect(r.err).toBe(`error: rollout of "fleet" is ${s}: ${message}\n`);
    expect(r.out).toContain(`applicationset "fleet": ${s}`);
  });

  it('exits 1 when the deadline passes first', async () => {
    const started = Date.now();
    const r = await status([view('Progressing')], '--watch', '--timeout', '0.2');
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'error: timed out waiting for the rollout of "fleet" to complete (Progressing, step 1)\n',
    );
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('-o json prints one JSON document a line (NDJSON)', async () => {
    const r = await status([view('Progressing'), view('Completed')], '--watch', '-o', 'json');
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      view('Progressing'),
      view('Completed'),
    ]);
  });

  it('-o yaml prints YAML documents separated by ---', async () => {
    const r = await status([view('Progressing'), view('Completed')], '--watch', '-o', 'yaml');
    expect(r.code).toBe(0);
    const docs = parseAllDocuments(r.out);
    expect(docs.map((d) => d.errors)).toEqual([[], []]);
    expect(docs.map((d) => d.toJS() as unknown)).toEqual([view('Progressing'), view('Completed')]);
  });

  it('without --watch, -o json prints the document as usual', async () => {
    const r = await status([view('Completed')], '-o', 'json');
    expect(r.out).toBe(JSON.stringify(view('Completed'), null, 2) + '\n');
  });

  it('without --watch, prints the status once and exits 0 whatever it is', async () => {
    const r = await status([view('Halted', 'bad')]);
    expect(r.code).toBe(0);
    expect(r.calls).toBe(1);
  });
});
