// Generates TypeScript for proto/ into libs/proto/gen with buf + ts-proto (both from npm; no protoc).
// The output is checked in; `npm run proto` regenerates it and the unit suite fails when it is stale.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';

rmSync('libs/proto/gen', { recursive: true, force: true });
execFileSync('npx', ['buf', 'lint'], { stdio: 'inherit' });
execFileSync('npx', ['buf', 'generate'], { stdio: 'inherit' });
