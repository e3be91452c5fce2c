import type { Command } from 'commander';
import type { CliIO } from '../io.js';

/** A command module adds its subcommand to the program. */
export type RegisterCommand = (program: Command, io: CliIO) => void;

// Each command lives in its own module; add it here.
export const commands: RegisterCommand[] = [];
import { registerEndpoints } from './endpoints.js'; commands.push(registerEndpoints); // svcrules endpoints (one line: the lead owns this file)
import { registerApply } from './apply.js'; import { registerDiff } from './diff.js'; commands.push(registerApply, registerDiff); // svcrules apply, diff (applier helper)
import { registerTrace } from './trace.js'; commands.push(registerTrace); // svcrules trace (one line: the lead owns this file)
