import type { Command } from 'commander';
import type { CliIO } from '../io.js';

/** A command module adds its subcommand to the program. */
export type RegisterCommand = (program: Command, io: CliIO) => void;

// Each command lives in its own module, loaded only when needed: `svcrules compile` need not load
// the applier, the tracer or the migration code. The order here is the order of `svcrules --help`.
const COMMANDS: Readonly<Record<string, () => Promise<RegisterCommand>>> = {
  compile: async () => (await import('./compile.js')).registerCompile,
  apply: async () => (await import('./apply.js')).registerApply,
  diff: async () => (await import('./diff.js')).registerDiff,
  cleanup: async () => (await import('./cleanup.js')).registerCleanup,
  trace: async () => (await import('./trace.js')).registerTrace,
  'node-state': async () => (await import('./node-state.js')).registerNodeState,
  endpoints: async () => (await import('./endpoints.js')).registerEndpoints,
  migrate: async () => (await import('./migrate.js')).registerMigrate,
};

/**
 * The command named `name` alone when there is one (commander then parses and reports exactly as
 * with all of them: a subcommand's help and errors name only itself), else every command.
 */
export async function loadCommands(name?: string): Promise<RegisterCommand[]> {
  const only = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  return Promise.all(only ? [only()] : Object.values(COMMANDS).map((load) => load()));
}
