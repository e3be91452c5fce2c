export * from './host.js';
export * from './fake-host.js';
export * from './plan.js';
export * from './conntrack.js';
export * from './diff.js';
export * from './state.js';
export * from './applier.js';
export * from './shape.js';
