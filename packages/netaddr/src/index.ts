export * from './text.js';
export * from './ip.js';
