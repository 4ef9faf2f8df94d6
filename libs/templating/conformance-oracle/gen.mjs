// Regenerates ../src/conformance/*.json from cases.mjs by running every case through real Go:
// text/template + sprig v3 + Argo CD's extra functions, fasttemplate, and jeremywohl/flatten.
// Usage (needs Go and the Go module proxy): cd libs/templating/conformance-oracle && go build -o oracle . && node gen.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { groups, jsonGroups, modeGroups } from './cases.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'src', 'conformance');
mkdirSync(outDir, { recursive: true });
const oracle = (input) =>
  JSON.parse(
    execFileSync(join(here, 'oracle'), {
      input: JSON.stringify(input),
      env: { ...process.env, TZ: 'UTC' },
      maxBuffer: 64 << 20,
    }).toString(),
  );

let total = 0;
for (const [group, cases] of Object.entries(groups)) {
  const res = oracle(
    cases.map(([, t, d, mk, tn]) => ({
      t,
      d: d === undefined ? null : d,
      mk: mk ?? '',
      ...(tn !== undefined ? { name: tn } : {}),
    })),
  );
  const out = cases.map(([name, t, d, mk, tn], i) => {
    const c = { name, template: t };
    if (d !== undefined) c.data = d;
    if (mk) c.missingKey = mk;
    if (tn !== undefined) c.templateName = tn;
    if (res[i].out !== undefined) c.output = res[i].out;
    else c.error = res[i].err;
    return c;
  });
  total += out.length;
  writeFileSync(join(outDir, `${group}.json`), JSON.stringify(out, null, 1) + '\n');
}
for (const [mode, cases] of Object.entries(modeGroups)) {
  const res = oracle(
    cases.map(([, t, d]) => ({ mode: mode === 'fasttemplate' ? 'fast' : 'flatten', t, d })),
  );
  const out = cases.map(([name, t, d], i) => {
    const c = { name, mode, template: t, data: d };
    if (res[i].out !== undefined)
      c.output = mode === 'flatten' ? JSON.parse(res[i].out) : res[i].out;
    else c.error = res[i].err;
    return c;
  });
  total += out.length;
  writeFileSync(join(outDir, `${mode}.json`), JSON.stringify(out, null, 1) + '\n');
}
for (const [group, cases] of Object.entries(jsonGroups)) {
  const res = oracle(cases.map(([, t, d, mk]) => ({ mode: 'json', t, d, mk: mk ?? '' })));
  const out = cases.map(([name, t, d, mk], i) => {
    const c = { name, numbers: 'json', template: t, data: d };
    if (mk) c.missingKey = mk;
    if (res[i].out !== undefined) c.output = res[i].out;
    else c.error = res[i].err;
    return c;
  });
  total += out.length;
  writeFileSync(join(outDir, `${group}.json`), JSON.stringify(out, null, 1) + '\n');
}
console.log(`wrote ${total} cases`);
