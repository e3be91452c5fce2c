import { Command, CommanderError } from 'commander';
import type { CliIO } from './io.js';
import { ExitError, UserError } from './errors.js';
import { loadCommands } from './commands/index.js';

/**
 * Builds the `svcrules` program with output routed to `io`; commander never exits the process.
 * With `command`, a command's name, only that command is loaded (what `run` does for its argv).
 */
export async function buildProgram(io: CliIO, command?: string): Promise<Command> {
  const commands = await loadCommands(command);
  const program = new Command('svcrules')
    .description("Compile, apply and explain kube-proxy's iptables rules from Kubernetes snapshots.")
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });
  for (const register of commands) register(program, io);
  for (const sub of program.commands) sub.exitOverride().configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) });
  return program;
}

/** Runs one command line (`argv` without node and script) and returns the exit code. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    const program = await buildProgram(io, argv[0]);
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof ExitError) return err.exitCode;
    if (err instanceof UserError) {
      io.stderr(`svcrules: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof CommanderError) {
      // help and version are successes; everything else commander reports is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return 2;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    io.stderr(`svcrules: internal error: ${e.stack ?? e.message}\nThis is a bug in svcrules; please report it with the input that caused it.\n`);
    return 70;
  }
}
