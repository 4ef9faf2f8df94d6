// Debian's Chromium driven by playwright-core (a browser download does not work here).
// scripts/test-toolchain.sh installs it; AXLE_CHROMIUM points at another build.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.AXLE_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, and quiet: no background connections (the machine's network is closed). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/** Where end-to-end tests keep screenshots (git-ignored): test-results/<suite>/. */
export function screenshotDir(suite: string): string {
  const dir = join(process.cwd(), 'test-results', suite);
  mkdirSync(dir, { recursive: true });
  return dir;
}
