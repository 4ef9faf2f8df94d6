import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ValidationFailed } from '../common/validation.js';
import type { RolloutKind } from './rollouts.repository.js';
import { RolloutsService, type RolloutAction } from './rollouts.service.js';

const ACTIONS: RolloutAction[] = ['pause', 'resume', 'abort', 'promote'];

/** Rollouts of ApplicationSets (RollingSync) and of applications (waves over clusters). */
@ApiTags('rollouts')
@Controller('api/v1')
export class RolloutsController {
  constructor(private readonly rollouts: RolloutsService) {}

  @Get('applicationsets/:name/rollout')
  @ApiOperation({ summary: 'Progress of a RollingSync rollout, per step and application' })
  appSetStatus(@Param('name') name: string) {
    return this.rollouts.view('appset', name);
  }

  @Post('applicationsets/:name/rollout/:action')
  @HttpCode(200)
  @ApiOperation({ summary: 'pause | resume | abort | promote the rollout' })
  appSetControl(@Param('name') name: string, @Param('action') action: string) {
    return this.rollouts.control('appset', name, parseAction(action));
  }

  @Get('applications/:name/rollout')
  @ApiOperation({ summary: "Progress of an application's waves over its clusters" })
  appStatus(@Param('name') name: string) {
    return this.rollouts.view('app', name);
  }

  @Post('applications/:name/rollout/:action')
  @HttpCode(200)
  @ApiOperation({ summary: 'pause | resume | abort | promote the rollout' })
  appControl(@Param('name') name: string, @Param('action') action: string) {
    return this.rollouts.control('app' satisfies RolloutKind, name, parseAction(action));
  }
}

function parseAction(action: string): RolloutAction {
  const a = ACTIONS.find((x) => x === action);
  if (!a) {
    throw new ValidationFailed('invalid rollout action', [
      { field: 'action', reason: `must be one of ${ACTIONS.join(', ')}` },
    ]);
  }
  return a;
}
