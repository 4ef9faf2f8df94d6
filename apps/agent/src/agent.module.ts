import { type DynamicModule, Module } from '@nestjs/common';
import { Agent, AGENT_CLIENTS, createAgentClients } from './agent.js';
import { AGENT_CONFIG, type AgentConfig } from './agent-config.js';

@Module({})
export class AgentModule {
  static forRoot(config: AgentConfig): DynamicModule {
    return {
      module: AgentModule,
      providers: [
        { provide: AGENT_CONFIG, useValue: config },
        {
          provide: AGENT_CLIENTS,
          useFactory: (c: AgentConfig) => createAgentClients(c),
          inject: [AGENT_CONFIG],
        },
        Agent,
      ],
      exports: [Agent],
    };
  }
}
