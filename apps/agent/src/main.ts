import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadAgentConfig } from './agent-config.js';
import { AgentModule } from './agent.module.js';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

async function main(): Promise<void> {
  const config = loadAgentConfig();
  const levels = LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1);
  Logger.overrideLogger(levels);
  const ctx = await NestFactory.createApplicationContext(AgentModule.forRoot(config), {
    logger: levels,
  });
  ctx.enableShutdownHooks();
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exit(1);
});
