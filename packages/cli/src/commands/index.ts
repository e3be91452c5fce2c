import type { Command } from 'commander';
import type { CliIO } from '../io.js';
import { registerApply } from './apply.js';
import { registerCompile } from './compile.js';
import { registerDiff } from './diff.js';
import { registerEndpoints } from './endpoints.js';
import { registerTrace } from './trace.js';
import { registerNodeState } from './node-state.js';
import { registerCleanup } from './cleanup.js';
import { registerMigrate } from './migrate.js';

/** A command module adds its subcommand to the program. */
export type RegisterCommand = (program: Command, io: CliIO) => void;

// Each command lives in its own module; the order here is the order of `svcrules --help`.
export const commands: RegisterCommand[] = [registerCompile, registerApply, registerDiff, registerCleanup, registerTrace, registerNodeState, registerEndpoints, registerMigrate];
