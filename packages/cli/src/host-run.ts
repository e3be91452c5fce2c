/**
 * What `apply` and `diff` share: the host flags, opening one family of the host through the applier's
 * openHost, compiling for it, and reporting host failures as plain messages.
 */
import { Option, type Command } from 'commander';
import type { Snapshot } from '@svcrules/core';
import type { KeptChain, Ruleset } from '@svcrules/iptables';
import {
  CommandNotFoundError,
  IptablesNotFoundError,
  isNetnsName,
  KubeProxyPresentError,
  NetfilterCommandError,
  NetnsUnavailableError,
  openHost,
  RestoreError,
  XtablesLockError,
  type Backend,
  type Family,
  type Host,
} from '@svcrules/applier';
import type { CliIO } from './io.js';
import { UserError } from './errors.js';
import { addSnapshotFlags, compileOrExit, familyOption, snapshotOptionsFrom, type SnapshotFlags } from './compile-input.js';

/** Flags shared by `apply` and `diff`: where the host is, and the compile flags the host does not decide. */
export interface HostFlags extends SnapshotFlags {
  family: 'ipv4' | 'ipv6' | 'both';
  netns?: string;
  backend: Backend;
  wait: string;
  allowEmpty?: boolean;
}

export function addHostFlags(cmd: Command): Command {
  cmd
    .addOption(familyOption('IP family to work on', ['ipv4', 'ipv6', 'both']))
    .option('--netns <name>', 'work inside this network namespace (ip netns exec NAME ...)')
    .addOption(new Option('--backend <backend>', 'iptables binaries to run: the default iptables, or iptables-nft / iptables-legacy').choices(['default', 'nft', 'legacy']).default('default'))
    .option('--wait <seconds>', 'how long to wait for the xtables lock', '5')
    .option('--allow-empty', 'go on with an input without any Service (which deletes every service chain)');
  return addSnapshotFlags(cmd);
}

export function familiesOf(flags: HostFlags): Family[] {
  return flags.family === 'both' ? ['ipv4', 'ipv6'] : [flags.family];
}

/** Opens one family of the host (or namespace) the flags name; a bad flag is a usage error (exit 2). */
export async function openHostFor(io: CliIO, flags: Pick<HostFlags, 'netns' | 'backend' | 'wait'>, family: Family): Promise<Host> {
  const wait = Number(flags.wait);
  if (!Number.isInteger(wait) || wait < 0 || wait > 3600) throw new UserError(`--wait: "${flags.wait}" is not a number of seconds`, 2);
  if (flags.netns !== undefined && !isNetnsName(flags.netns)) throw new UserError(`--netns: "${flags.netns}" is not a network namespace name`, 2);
  const lockFile = io.env['XTABLES_LOCKFILE'];
  return hostCall(async () => {
    try {
      return await openHost({ family, backend: flags.backend, waitSeconds: wait, ...(flags.netns !== undefined ? { netns: flags.netns } : {}), ...(lockFile ? { lockFile } : {}) });
    } catch (e) {
      if (e instanceof NetnsUnavailableError) throw new UserError(`--netns ${e.netns}: ${e.detail}`);
      if (e instanceof IptablesNotFoundError) throw new UserError(e.message);
      throw e;
    }
  });
}

/** Compiles the snapshot for one family with the options the host's facts imply and the snapshot flags. */
export function compileForHost(io: CliIO, snapshot: Snapshot, flags: HostFlags, host: Host): Ruleset {
  return compileOrExit(io, snapshot, { ...host.compileOptions, ...snapshotOptionsFrom(flags) }).ruleset;
}

/** Host failures are reported as plain messages (no stack): they are about the host, not a bug. */
export async function hostCall<T>(fn: () => Promise<T>, exitCode = 1): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof KubeProxyPresentError) throw new UserError(e.message.replace('pass force to override', 'pass --force to override'), exitCode);
    if (e instanceof RestoreError || e instanceof XtablesLockError || e instanceof NetfilterCommandError || e instanceof CommandNotFoundError) throw new UserError(e.message, exitCode);
    throw e;
  }
}

/** A stale chain the plan keeps because a rule outside our chains still jumps to it. */
export function warnKept(io: CliIO, family: Family, kept: readonly KeptChain[]): void {
  for (const k of kept) io.stderr(`svcrules: warning: ${family} ${k.table} ${k.chain} is stale but kept: ${k.referencedBy.join(', ')} still jump${k.referencedBy.length === 1 ? 's' : ''} to it\n`);
}
