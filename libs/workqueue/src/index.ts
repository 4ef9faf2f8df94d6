export * from './backoff.js';
export * from './keyed-queue.js';
