export * from './golden.js';
export * from './fixtures.js';
