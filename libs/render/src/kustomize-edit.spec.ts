import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderToolPath } from '../../../test/support/chart-repo.js';
import { tempDir } from '../../../test/support/temp-dir.js';
import {
  applyKustomizeEdits,
  kustomizeEditCommands,
  setImages,
  splitImageName,
} from './kustomize-edit.js';
import type { KustomizeOptions } from './types.js';

const run = promisify(execFile);

describe('splitImageName (kustomize image.Split)', () => {
  it.each([
    ['nginx', ['nginx', '', '']],
    ['nginx:1.25', ['nginx', '1.25', '']],
    ['nginx@sha256:abc', ['nginx', '', 'sha256:abc']],
    ['nginx:1.25@sha256:abc', ['nginx', '1.25', 'sha256:abc']],
    ['localhost:5000/app', ['localhost:5000/app', '', '']],
    ['localhost:5000/app:v1', ['localhost:5000/app', 'v1', '']],
    ['busybox:*', ['busybox', '*', '']],
  ])('%s', (image, want) => {
    expect(splitImageName(image)).toEqual(want);
  });

  it('merges by name, keeps "*" fields, sorts', () => {
    expect(
      setImages(
        [
          { name: 'b', newTag: '1', digest: 'sha256:x' },
          { name: 'a', newName: 'old' },
        ],
        ['b:*', 'c=reg/c:2', 'a@sha256:y'],
      ),
    ).toEqual([
      { name: 'a', digest: 'sha256:y' },
      { name: 'b', newTag: '1' },
      { name: 'c', newName: 'reg/c', newTag: '2' },
    ]);
    expect(() => setImages([], ['plain'])).toThrow(/invalid image "plain"/);
  });
});

/**
 * The in-process edits (used with `kubectl kustomize`, which has no `edit`) must leave the same
 * kustomization as the real `kustomize edit` commands Argo CD runs.
 */
describe('applyKustomizeEdits matches the real `kustomize edit`', () => {
  let kustomize: string;
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let n = 0;
  beforeAll(async () => {
    kustomize = renderToolPath('kustomize');
    dir = await tempDir('axle-kedit-');
  });
  afterAll(() => dir.remove());

  const BASE = `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# a comment that survives
resources:
  - deployment.yaml
namePrefix: old-
commonLabels:
  env: prod
images:
  - name: busybox
    newTag: "1.36"
  - name: redis
    newName: mirror/redis
`;

  async function both(opts: KustomizeOptions, base = BASE) {
    const real = join(dir.path, `real-${n}`);
    const ours = join(dir.path, `ours-${n++}`);
    for (const d of [real, ours]) {
      await mkdir(d, { recursive: true });
      await writeFile(join(d, 'kustomization.yaml'), base);
    }
    let realError: string | undefined;
    try {
      for (const args of kustomizeEditCommands(opts)) {
        await run(kustomize, args, { cwd: real, env: { PATH: process.env.PATH ?? '' } });
      }
    } catch (e) {
      realError = String((e as { stderr?: string }).stderr ?? e);
    }
    let ourError: string | undefined;
    try {
      await applyKustomizeEdits(ours, opts);
    } catch (e) {
      ourError = (e as Error).message;
    }
    const read = async (d: string) => parse(await readFile(join(d, 'kustomization.yaml'), 'utf8'));
    return { real: await read(real), ours: await read(ours), realError, ourError, oursDir: ours };
  }

  it('for every override at once', async () => {
    const r = await both({
      namePrefix: 'app-',
      nameSuffix: '-v2',
      images: ['nginx=registry.local/nginx:1.27', 'busybox:*@sha256:' + 'a'.repeat(64), 'redis:7'],
      commonLabels: { team: 'platform', 'example.com/tier': 'web' },
      commonAnnotations: { 'axle.io/owner': 'team-a', note: 'a:b', quoted: '"x"' },
      namespace: 'prod-ns',
    });
    expect(r.realError).toBeUndefined();
    expect(r.ourError).toBeUndefined();
    expect(r.ours).toEqual(r.real);
    expect(await readFile(join(r.oursDir, 'kustomization.yaml'), 'utf8')).toContain(
      '# a comment that survives',
    );
  });

  it('for an existing label without and with force', async () => {
    const conflict = await both({ commonLabels: { env: 'staging' } });
    expect(conflict.realError).toContain('label env already in kustomization file');
    expect(conflict.ourError).toBe(
      'label env already in kustomization file. Use --force to override.',
    );
    const forced = await both({ commonLabels: { env: 'staging' }, forceCommonLabels: true });
    expect(forced.ours).toEqual(forced.real);
    expect(forced.ours.commonLabels).toEqual({ env: 'staging' });
  });

  it('on an empty kustomization file', async () => {
    const r = await both({ namespace: 'x', commonAnnotations: { a: 'b' } }, '');
    expect(r.ours).toEqual(r.real);
  });
});
