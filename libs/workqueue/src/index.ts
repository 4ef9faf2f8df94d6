export * from './backoff.js';
export * from './keyed-queue.js';
export * from './map-limit.js';
