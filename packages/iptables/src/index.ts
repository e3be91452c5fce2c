export * from './ir.js';
export * from './plan.js';
export * from './trace.js';
