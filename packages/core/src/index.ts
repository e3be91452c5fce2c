export type * from './model.js';
export type { CompileOptions } from './options.js';
export { type Diagnostic, formatDiagnostic } from './diagnostics.js';
export * from './ip.js';
export * from './names.js';
