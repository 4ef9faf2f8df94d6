import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ValidationFailed } from '../common/validation.js';
import { RolloutsService } from './rollouts.service.js';

const ACTIONS = ['pause', 'resume', 'abort'] as const;

@ApiTags('rollouts')
@Controller('api/v1/applicationsets/:name/rollout')
export class RolloutsController {
  constructor(private readonly rollouts: RolloutsService) {}

  @Get()
  @ApiOperation({ summary: 'Progress of a RollingSync rollout, per step and application' })
  status(@Param('name') name: string) {
    return this.rollouts.view(name);
  }

  @Post(':action')
  @HttpCode(200)
  @ApiOperation({ summary: 'pause | resume (also after a halt) | abort the rollout' })
  control(@Param('name') name: string, @Param('action') action: string) {
    const a = ACTIONS.find((x) => x === action);
    if (!a) {
      throw new ValidationFailed('invalid rollout action', [
        { field: 'action', reason: `must be one of ${ACTIONS.join(', ')}` },
      ]);
    }
    return this.rollouts.control(name, a);
  }
}
