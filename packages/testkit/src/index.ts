export * from './golden.js';
export * from './fixtures.js';
export * from './arbitraries.js';
export * from './bridge-node.js';
export * from './cluster.js';
export * from './netns.js';
export * from './flows.js';
