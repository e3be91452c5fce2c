/**
 * What `apply`, `diff` and `cleanup` share in nftables mode: compiling the snapshot for one family
 * with compileNFTables, opening the family's nftables applier (state file, canary, conntrack) and
 * reporting the applier's errors as plain messages. kube-proxy's nftables proxier keeps one
 * `kube-proxy` table per family (pkg/proxy/nftables/proxier.go); nothing else is read or written.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { compileNFTables, type Snapshot } from '@svcrules/core';
import type { NftRuleset } from '@svcrules/nftables';
import {
  CommandNotFoundError,
  createExecNftHost,
  createNftApplier,
  DEFAULT_STATE_DIR,
  defaultNftStatePath,
  deleteStaleUdpFlows,
  hostIdentity,
  isNetnsName,
  KUBE_PROXY_NFT_TABLE,
  SVCRULES_NFT_CANARY,
  NftTableOwnedError,
  NftTransactionError,
  nftVersion,
  readNftStateFile,
  type Family,
  type NftApplier,
  type NftHost,
} from '@svcrules/applier';
import type { CliIO } from './io.js';
import { ExitError, UserError } from './errors.js';
import { printDiagnostics, snapshotOptionsFrom } from './compile-input.js';
import type { HostFlags } from './host-run.js';

/** iptables-only flags that mean nothing in nftables mode: given with `--mode nftables`, a usage error. */
export function refuseIptablesFlags(cmd: Command, names: readonly string[]): void {
  for (const name of names) {
    if (cmd.getOptionValueSource(name) !== 'cli') continue;
    const flag = `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UserError(`${flag} is an iptables-mode option; it has no meaning with --mode nftables`, 2);
  }
}

/** `--netns NAME` checked: a name, of a namespace that exists (ip netns add). */
export function checkNetns(netns: string | undefined): void {
  if (netns === undefined) return;
  if (!isNetnsName(netns)) throw new UserError(`--netns: "${netns}" is not a network namespace name`, 2);
  if (!existsSync(`/run/netns/${netns}`)) throw new UserError(`--netns ${netns}: no such network namespace (ip netns list)`);
}

/** The `kube-proxy` table of one family, compiled; errors in the snapshot exit 1 with their diagnostics. */
export function compileNftForHost(io: CliIO, snapshot: Snapshot, flags: HostFlags, family: Family): NftRuleset {
  const result = compileNFTables(snapshot, { ...snapshotOptionsFrom(flags), family: family === 'ipv6' ? 'IPv6' : 'IPv4', proxyMode: 'nftables' });
  printDiagnostics(io, result.diagnostics);
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new ExitError(1);
  return result.ruleset;
}

/** Where this family's nftables state lives, or undefined with --no-state (FILE.ipv4 / FILE.ipv6 with --family both). */
export function nftStatePathFor(io: CliIO, flags: { state?: string | false; netns?: string }, family: Family, bothFamilies: boolean): string | undefined {
  if (flags.state === false) return undefined;
  if (flags.state !== undefined) return resolve(io.cwd, bothFamilies ? `${flags.state}.${family}` : flags.state);
  return defaultNftStatePath(io.env['SVCRULES_STATE_DIR'] || DEFAULT_STATE_DIR, family, flags.netns);
}

export interface OpenedNft {
  readonly applier: NftApplier;
  readonly host: NftHost;
  /** Why the saved state was not used (undefined: it was, or there is none to use). */
  readonly stateReason: string | undefined;
  /** The canary token the saved state expects in the table. */
  readonly token: string | undefined;
}

/** The nftables applier of one family, starting from the state file at `statePath` (none: in memory only). */
export async function openNftApplier(
  flags: { netns?: string; force?: boolean; conntrack?: boolean },
  family: Family,
  statePath: string | undefined,
): Promise<OpenedNft> {
  const host = createExecNftHost(flags.netns !== undefined ? { netns: flags.netns } : {});
  let state: Parameters<typeof createNftApplier>[0]['state'];
  if (statePath !== undefined) {
    const version = await nftCall(() => nftVersion());
    const identity = await hostIdentity({ family, netns: flags.netns, iptables: version });
    state = { identity, saved: await readNftStateFile(statePath, identity) };
  }
  const applier = createNftApplier({
    host,
    family,
    force: flags.force === true,
    ...(state ? { state } : {}),
    ...(flags.conntrack !== false ? { conntrack: (flows) => deleteStaleUdpFlows(flows, { family, ...(flags.netns !== undefined ? { netns: flags.netns } : {}) }) } : {}),
  });
  return { applier, host, stateReason: state?.saved.reason, token: state?.saved.state?.token };
}

/**
 * Why the table is not as the saved record says, judged by the applier's canary set as the applier
 * does before a partial sync (undefined: it is as recorded).
 */
export async function canaryMismatch(host: NftHost, family: Family, token: string): Promise<string | undefined> {
  const nftFamily = family === 'ipv6' ? 'ip6' : 'ip';
  const listed = await nftCall(() => host.listSet(nftFamily, KUBE_PROXY_NFT_TABLE, SVCRULES_NFT_CANARY));
  if ('missing' in listed) return `the ${nftFamily} ${KUBE_PROXY_NFT_TABLE} ${listed.missing === 'table' ? 'table' : `table's ${SVCRULES_NFT_CANARY} set`} is gone`;
  return listed.text.includes(`"${token}"`) ? undefined : `the ${nftFamily} ${KUBE_PROXY_NFT_TABLE} table was written since the last apply`;
}

/** The applier's failures are about the host, not bugs: plain messages, no stack. */
export async function nftCall<T>(fn: () => Promise<T>, exitCode = 1): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof NftTableOwnedError) throw new UserError(e.message.replace('pass force to replace', 'pass --force to replace'), exitCode);
    if (e instanceof NftTransactionError || e instanceof CommandNotFoundError) throw new UserError(e.message, exitCode);
    if (e instanceof Error && /^nft /.test(e.message)) throw new UserError(e.message, exitCode);
    throw e;
  }
}
