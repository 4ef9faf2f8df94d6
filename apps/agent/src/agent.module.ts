import { type DynamicModule, Module } from '@nestjs/common';
import { Agent } from './agent.js';
import { AGENT_CONFIG, type AgentConfig } from './agent-config.js';

@Module({})
export class AgentModule {
  static forRoot(config: AgentConfig): DynamicModule {
    return {
      module: AgentModule,
      providers: [{ provide: AGENT_CONFIG, useValue: config }, Agent],
      exports: [Agent],
    };
  }
}
