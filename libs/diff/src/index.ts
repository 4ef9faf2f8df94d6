export * from './diff.js';
export * from './fieldset.js';
export * from './ignore.js';
export * from './json-pointer.js';
export * from './unified.js';
export * from './changes.js';
