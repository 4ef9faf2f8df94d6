export * from './bundle.js';
export * from './errors.js';
export * from './identity.js';
export * from './limits.js';
export * from './parse.js';
export * from './types.js';
export * from './scope.js';
