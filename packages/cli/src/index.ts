export { run, buildProgram } from './program.js';
export type { CliIO } from './io.js';
export { UserError, ExitError } from './errors.js';
