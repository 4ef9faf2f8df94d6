export * from './git-cache.js';
export * from './tree-reader.js';
export * from './recording-reader.js';
