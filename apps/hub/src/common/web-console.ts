import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Paths the hub serves itself; everything else that asks for HTML is the console's. */
const HUB_PATHS = /^\/(api|metrics|healthz|readyz)(\/|$)/;

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // Mantine sets element styles inline.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** The built console (`npm run build:web` → dist/web), found from the package root. */
export function webConsoleDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  const web = join(dir, 'dist', 'web');
  return existsSync(join(web, 'index.html')) ? web : undefined;
}

/**
 * Serves the web console at `/`: its hashed assets with long caching, and index.html (never
 * cached) for every other page path so that links into the console work. Strict security
 * headers on all of it.
 */
export function mountWebConsole(app: NestExpressApplication, dir = webConsoleDir()): void {
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (HUB_PATHS.test(req.path)) return next();
    res.setHeader('Content-Security-Policy', CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    next();
  });
  if (!dir) {
    app.use('/', (req: Request, res: Response, next: NextFunction) => {
      if (req.method !== 'GET' || HUB_PATHS.test(req.path)) return next();
      res
        .status(404)
        .type('text/plain')
        .send('The web console is not built: run `npm install` (or `npm run build:web`).\n');
    });
    return;
  }
  app.useStaticAssets(join(dir, 'assets'), {
    prefix: '/assets/',
    immutable: true,
    maxAge: '365d',
    fallthrough: false,
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || HUB_PATHS.test(req.path)) return next();
    res.setHeader('Cache-Control', 'no-cache');
    if (req.path === '/favicon.svg') return res.sendFile(join(dir, 'favicon.svg'));
    res.sendFile(join(dir, 'index.html'));
  });
}
