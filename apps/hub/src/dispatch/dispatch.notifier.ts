import { Injectable } from '@nestjs/common';
import { NotifyBus } from '../database/notify-bus.js';

export const DISPATCH_CHANNEL = 'axle_dispatch';
export const DISCONNECT_CHANNEL = 'axle_disconnect';

/** Tells whichever hub replica holds a cluster's agent stream that the cluster has work. */
@Injectable()
export class DispatchNotifier {
  constructor(private readonly bus: NotifyBus) {}

  async notify(clusterIds: Iterable<string>): Promise<void> {
    for (const id of new Set(clusterIds)) await this.bus.publish(DISPATCH_CHANNEL, id);
  }

  async disconnect(clusterId: string): Promise<void> {
    await this.bus.publish(DISCONNECT_CHANNEL, clusterId);
  }
}
