export * from './ir.js';
export * from './plan.js';
