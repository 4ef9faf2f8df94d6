import 'reflect-metadata';
import { type INestApplication, Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { join } from 'node:path';
import { runWithActor } from './auth/request-context.js';
import { refuseUnreadBodies } from './common/content-type.js';
import { HubExceptionFilter } from './common/exception.filter.js';
import { openApiDocument } from './common/openapi.js';
import { mountWebConsole } from './common/web-console.js';
import type { HubConfig } from './config/hub-config.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres.js';
import { AgentGatewayServer } from './dispatch/agent-gateway.server.js';
import { HubModule } from './hub.module.js';

export interface RunningHub {
  app: INestApplication;
  httpUrl: string;
  grpcAddress: string;
  close(): Promise<void>;
}

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/** Starts a hub: database (embedded unless DATABASE_URL), REST API, OpenAPI, gRPC for agents. */
export async function startHub(config: HubConfig): Promise<RunningHub> {
  const levels = LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1);
  Logger.overrideLogger(levels);
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    const pgLog = new Logger('PostgreSQL');
    embedded = await startEmbeddedPostgres({
      dir: join(config.dataDir, 'pg'),
      port: config.embeddedPgPort,
      log: (l) => pgLog.verbose(l),
    });
    url = embedded.url;
  }
  try {
    const app = await NestFactory.create<NestExpressApplication>(HubModule.forRoot(config, url), {
      logger: levels,
      bodyParser: false,
      rawBody: true,
    });
    app.use(refuseUnreadBodies);
    app.useBodyParser('json', { limit: '2mb', type: ['application/json', 'application/*+json'] });
    app.useBodyParser('text', {
      limit: '2mb',
      type: ['application/yaml', 'application/x-yaml', 'text/yaml'],
    });
    app.useGlobalFilters(new HubExceptionFilter());
    // Each request runs in its own context; the auth guard records the actor there for auditing.
    app.use((_req: unknown, _res: unknown, next: () => void) => runWithActor('anonymous', next));
    const doc = openApiDocument(app);
    SwaggerModule.setup('api/docs', app, doc, { jsonDocumentUrl: 'api/docs/openapi.json' });
    mountWebConsole(app);
    await app.listen(config.http.port, config.http.host);
    const httpUrl = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    const grpcPort = app.get(AgentGatewayServer).port;
    return {
      app,
      httpUrl,
      grpcAddress: `${config.grpc.host}:${grpcPort}`,
      close: async () => {
        await app.close();
        await embedded?.stop();
      },
    };
  } catch (e) {
    await embedded?.stop();
    throw e;
  }
}
