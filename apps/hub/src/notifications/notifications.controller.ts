import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { RequireRole } from '../auth/auth.guard.js';
import { parseOrThrow, ValidationFailed } from '../common/validation.js';
import { ApiZodBody } from '../common/zod-openapi.js';
import { createDestinationSchema, subscriptionSpecSchema } from './notification.schemas.js';
import { NotificationsService } from './notifications.service.js';
import { TRIGGERS } from './triggers.js';

const testSchema = z.object({ trigger: z.enum(TRIGGERS).optional() }).strict();
const deliveriesQuery = z
  .object({
    status: z.enum(['Pending', 'Delivered', 'Dead']).optional(),
    subscription: z.string().max(63).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

const retryParams = z
  .object({
    id: z
      .string()
      .regex(/^[1-9]\d*$/, 'must be a delivery id (a positive integer)')
      .refine((s) => !/^[1-9]\d*$/.test(s) || Number.isSafeInteger(Number(s)), {
        message: `must be a delivery id of at most ${Number.MAX_SAFE_INTEGER}`,
      }),
  })
  .strict();

/** Notification destinations, subscriptions and the outbox. Secrets are never returned. */
@ApiTags('notifications')
@Controller('api/v1/notifications')
export class NotificationsController {
  constructor(private readonly notifications: NotificationsService) {}

  @Post('destinations')
  @RequireRole('admin')
  @ApiZodBody(createDestinationSchema)
  @ApiOperation({ summary: 'Add a destination: webhook (HMAC-signed), slack, teams or email' })
  createDestination(@Body() body: unknown) {
    return this.notifications.createDestination(
      parseOrThrow(createDestinationSchema, body, 'notification destination'),
    );
  }

  @Get('destinations')
  @RequireRole('admin')
  destinations() {
    return this.notifications.destinations();
  }

  @Delete('destinations/:name')
  @HttpCode(204)
  async deleteDestination(@Param('name') name: string): Promise<void> {
    await this.notifications.deleteDestination(name);
  }

  @Post('destinations/:name/test')
  @HttpCode(200)
  @RequireRole('admin')
  @ApiZodBody(testSchema)
  @ApiOperation({ summary: 'Send a sample message now; 502 with the reason when it fails' })
  test(@Param('name') name: string, @Body() body: unknown) {
    const { trigger } = parseOrThrow(testSchema, body ?? {}, 'test request');
    return this.notifications.test(name, trigger);
  }

  @Post('subscriptions')
  @ApiZodBody(subscriptionSpecSchema)
  @ApiOperation({ summary: 'Create a subscription (409 when the name exists)' })
  async createSubscription(@Body() body: unknown) {
    const spec = parseOrThrow(subscriptionSpecSchema, body, 'subscription');
    return (await this.notifications.applySubscription(spec, false)).subscription;
  }

  @Put('subscriptions/:name')
  @ApiZodBody(subscriptionSpecSchema)
  @ApiOperation({ summary: 'Create or replace a subscription' })
  applySubscription(@Param('name') name: string, @Body() body: unknown) {
    // Only an object takes the path's name: a string (a YAML body) or an array spread into one
    // would make every character an unknown field.
    if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body)))
      throw new ValidationFailed('invalid subscription', [
        { field: '', reason: 'the request body must be a JSON object' },
      ]);
    const spec = parseOrThrow(
      subscriptionSpecSchema,
      { ...(body as object), name: (body as { name?: unknown } | undefined)?.name ?? name },
      'subscription',
    );
    if (spec.name !== name)
      throw new ValidationFailed('invalid subscription', [
        { field: 'name', reason: `must be "${name}", the name in the path` },
      ]);
    return this.notifications.applySubscription(spec);
  }

  @Get('subscriptions')
  subscriptions() {
    return this.notifications.subscriptions();
  }

  @Get('subscriptions/:name')
  subscription(@Param('name') name: string) {
    return this.notifications.subscription(name);
  }

  @Delete('subscriptions/:name')
  @HttpCode(204)
  async deleteSubscription(@Param('name') name: string): Promise<void> {
    await this.notifications.deleteSubscription(name);
  }

  @Get('deliveries')
  @ApiOperation({ summary: 'The outbox, newest first: Pending, Delivered or Dead (dead letters)' })
  deliveries(@Query() query: unknown) {
    return this.notifications.deliveries(parseOrThrow(deliveriesQuery, query, 'query'));
  }

  @Post('deliveries/:id/retry')
  @HttpCode(204)
  async retry(@Param('id') id: string): Promise<void> {
    // An object, so that the error names the path's `id`.
    const p = parseOrThrow(retryParams, { id }, 'delivery id');
    await this.notifications.retry(Number(p.id));
  }
}
