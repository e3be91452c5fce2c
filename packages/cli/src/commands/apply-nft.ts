/**
 * `apply --mode nftables` and `diff --mode nftables`: the `kube-proxy` table of each family through
 * the nftables applier (@svcrules/applier nft/, docs/nftables-apply.md): a full sync is one atomic
 * `nft -f` transaction (a first one at scale: a few staged ones), later ones partial against the `--state` record. iptables rules and other
 * nft tables are never touched: switching modes leaves the other mode's rules to `svcrules cleanup`.
 */
import { describeFlow, formatNftDiff, removeStateFile, writeNftStateFile, type Family, type NftApplyResult } from '@svcrules/applier';
import type { Snapshot } from '@svcrules/core';
import type { CliIO } from '../io.js';
import type { HostFlags } from '../host-run.js';
import { canaryMismatch, compileNftForHost, nftCall, nftStatePathFor, openNftApplier } from '../nft-host-run.js';

export interface NftApplyFlags extends HostFlags {
  dryRun?: boolean;
  force?: boolean;
  conntrack: boolean;
  state?: string | false;
}

/** The line `apply --mode nftables` prints per family (a staged first sync takes several transactions). */
export function nftApplySummary(r: Pick<NftApplyResult, 'family' | 'mode' | 'reason' | 'transaction' | 'operations' | 'transactions' | 'staleChainsFlushed' | 'staleChainsDeleted'>): string {
  const parts: string[] = [r.mode === 'full' ? `full sync (${r.reason})` : 'partial sync'];
  parts.push(r.transaction === '' ? 'nothing to change' : `${r.operations} nft operations in ${r.transactions === 1 ? 'one transaction' : `${r.transactions} transactions`}`);
  if (r.staleChainsFlushed.length > 0) parts.push(`${r.staleChainsFlushed.length} stale chains flushed (deleted by the next apply)`);
  if (r.staleChainsDeleted.length > 0) parts.push(`${r.staleChainsDeleted.length} stale chains deleted`);
  return `${r.family}: ${parts.join('; ')}\n`;
}

export async function applyNft(io: CliIO, snapshot: Snapshot, flags: NftApplyFlags, families: readonly Family[]): Promise<void> {
  for (const family of families) {
    const ruleset = compileNftForHost(io, snapshot, flags, family);
    const statePath = flags.dryRun ? undefined : nftStatePathFor(io, flags, family, families.length > 1);
    const { applier } = await openNftApplier(flags, family, statePath);
    const r = await nftCall(() => applier.apply(ruleset, { dryRun: flags.dryRun === true })).catch(async (e: unknown) => {
      // The table may hold anything after a failure: the next run must not trust the file.
      if (statePath !== undefined) await removeStateFile(statePath).catch(() => undefined);
      throw e;
    });
    if (flags.dryRun) {
      if (families.length > 1) io.stdout(`# ${family}\n`);
      io.stdout(r.transaction);
      io.stderr(r.transaction ? `${family}: transaction checked with nft -c -f -: ok\n` : `${family}: nothing to change\n`);
      continue;
    }
    if (statePath !== undefined && r.state !== undefined) {
      await writeNftStateFile(statePath, r.state).catch((e: unknown) => {
        io.stderr(`svcrules: warning: could not save the state to ${statePath}: ${e instanceof Error ? e.message : String(e)}; the next apply will be a full sync\n`);
      });
    }
    io.stdout(nftApplySummary(r));
    for (const c of r.conntrack) io.stdout(`${family}: conntrack: ${describeFlow(c.flow)}: ${c.deleted} entr${c.deleted === 1 ? 'y' : 'ies'} deleted${c.error ? ` (${c.error})` : ''}\n`);
    if (r.staleUdpFlows.length > 0 && r.conntrack.length === 0 && r.applied) {
      io.stderr(`svcrules: warning: ${r.staleUdpFlows.length} stale UDP flow(s) not cleared (--no-conntrack)\n`);
    }
  }
}

/** Prints what apply would change, object by object; returns how many objects differ. */
export async function diffNftMode(io: CliIO, snapshot: Snapshot, flags: HostFlags & { state?: string | false }, families: readonly Family[]): Promise<number> {
  let changes = 0;
  for (const family of families) {
    const ruleset = compileNftForHost(io, snapshot, flags, family);
    const statePath = nftStatePathFor(io, flags, family, families.length > 1);
    const { applier, host, stateReason, token } = await openNftApplier(flags, family, statePath);
    const gone = token === undefined ? undefined : await canaryMismatch(host, family, token);
    if (gone !== undefined) applier.invalidate(gone);
    // Without a record the table is not listed (slow at scale, docs/nftables-apply.md): everything shows as new.
    if (token === undefined || gone !== undefined) io.stderr(`${family}: no usable record of the last apply (${gone ?? stateReason ?? '--no-state'}): apply would do a full sync; every object is shown\n`);
    const diffs = applier.diff(ruleset);
    changes += diffs.length;
    io.stdout(formatNftDiff(diffs, io.stdoutIsTTY));
    if (diffs.length === 0) io.stderr(`${family}: no changes\n`);
  }
  return changes;
}
