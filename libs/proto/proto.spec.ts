import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

describe('libs/proto/gen', () => {
  it('is what `npm run proto` generates from proto/ (never edited by hand)', () => {
    const out = mkdtempSync(join(tmpdir(), 'axle-proto-'));
    try {
      const template = readFileSync('buf.gen.yaml', 'utf8').replace(
        'out: libs/proto/gen',
        `out: ${out}`,
      );
      const templateFile = join(out, 'buf.gen.yaml');
      writeFileSync(templateFile, template);
      execFileSync('node_modules/.bin/buf', ['generate', '--template', templateFile], {
        stdio: 'pipe',
      });
      for (const file of ['axle/agent/v1/agent.ts', 'axle/agent/v1/enrollment.ts']) {
        expect(readFileSync(join(out, file), 'utf8'), file).toBe(
          readFileSync(join('libs/proto/gen', file), 'utf8'),
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
