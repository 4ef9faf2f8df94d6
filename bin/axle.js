#!/usr/bin/env node
// `npx axle …` from the checkout. Runs the compiled CLI (npm install builds it via `prepare`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/apps/cli/src/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('axle: not built yet; run `npm run build` (npm install does it) in the checkout');
  process.exit(1);
}
await import(main);
