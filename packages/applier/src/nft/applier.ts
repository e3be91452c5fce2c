/**
 * The nftables applier: loads a desired `kube-proxy` table (an NftRuleset) onto one IP family, as
 * kube-proxy's nftables proxier keeps it (pkg/proxy/nftables/proxier.go): the table is ours alone
 * and nothing outside it is touched.
 *
 * - A full sync is one `nft -f` transaction that replaces the table (plan.ts); onto a host without
 *   the table and above `stagedLoadAbove` service chains, a few transactions that expose nothing
 *   to packets before the last (plan.ts stagedLoadOperations). It happens on the
 *   first apply, after a failure, when our canary says the table is not as we left it, when the
 *   change cannot be expressed partially (a base chain or a set's type changed), on request, and
 *   optionally on an interval (off by default: a full sync re-creates the affinity sets, so it
 *   forgets ClientIP affinity, which kube-proxy's full syncs keep).
 * - Later syncs are partial, diffed against the record of the last apply (in memory, or a state
 *   file), never against a listing of the table; stale chains are flushed and deleted one sync later.
 *
 * Ownership: the table carries our canary, a set `svcrules-canary` (kube-proxy deletes only its own
 * `affinity-` sets; nothing refers to it) whose one element's comment is a fresh random token
 * written by every transaction. A partial sync first lists that one set (cheap at any table size):
 * a missing or different token means someone else wrote or flushed the table, so the sync is full.
 * A `kube-proxy` table without our canary was made by kube-proxy (or another tool): the applier
 * refuses it unless `force`. kube-proxy's nftables proxier has no canary of its own, so a kube-proxy
 * started after us is not detected until it removes our token (e.g. `kube-proxy --cleanup`).
 */
import { randomBytes } from 'node:crypto';
import type { Element, NftRuleset, NftSet, Operation } from '@svcrules/nftables';
import { renderTransaction, tableRef } from '@svcrules/nftables';
import { staleUdpFlows, type ConntrackCleanup, type StaleUdpFlow, type UdpServiceMap } from '../conntrack.js';
import type { Family } from '../netfilter.js';
import type { HostIdentity } from '../state.js';
import { nftUdpServiceMap } from './conntrack.js';
import { diffNft, diffRecord, type NftObjectDiff } from './diff.js';
import { nftFamily, type NftHost } from './host.js';
import { fullSyncOperations, group, objectsApplied, partialSyncOperations, recordApplied, recordOf, SERVICE_CHAINS_PER_TRANSACTION, serviceChainCount, stagedLoadOperations, staleAfter, staleDeletionOperations, type Applied, type Grouped, type NftRecord } from './plan.js';
import { unrollEndpointMaps } from './shape.js';
import { keyedDigest, type NftAppliedState, type NftStateRead } from './state.js';

export const KUBE_PROXY_NFT_TABLE = 'kube-proxy';
export const SVCRULES_NFT_CANARY = 'svcrules-canary';
const TOKEN = /comment "(svcrules:[0-9a-f]+)"/;

/** The `kube-proxy` table exists and is not ours (no canary): kube-proxy's, most likely. */
export class NftTableOwnedError extends Error {
  constructor(readonly family: 'ip' | 'ip6') {
    super(
      `refusing to apply: the ${family} kube-proxy table exists and was not written by svcrules (it has no ${SVCRULES_NFT_CANARY} set), so a kube-proxy in nftables mode owns it. ` +
        'Two writers would overwrite each other; stop kube-proxy first (and run kube-proxy --cleanup), or pass force to replace the table.',
    );
    this.name = 'NftTableOwnedError';
  }
}

export interface NftApplierOptions {
  readonly host: NftHost;
  readonly family: Family;
  /** Replace a `kube-proxy` table that is not ours. */
  readonly force?: boolean;
  /** Milliseconds; default Date.now. Ages stale chains and the optional periodic full sync. */
  readonly clock?: () => number;
  /** A full sync at least this often; default never (see the file comment). */
  readonly fullSyncIntervalMs?: number;
  /** How long a flushed stale chain waits before it is deleted; default 1000 (kube-proxy's one second). */
  readonly staleChainDelayMs?: number;
  /** Deletes stale UDP conntrack entries after a successful change; absent: not done. */
  readonly conntrack?: (flows: readonly StaleUdpFlow[]) => Promise<ConntrackCleanup[]>;
  /** Keep the record between processes: start from a saved state, return the state to save. */
  readonly state?: { readonly identity: HostIdentity; readonly saved: NftStateRead };
  /**
   * A full sync onto a host without the table is loaded in stages (plan.ts stagedLoadOperations)
   * when the table has more service chains than this; default SERVICE_CHAINS_PER_TRANSACTION
   * (below it the extra nft runs cost more than they save), never with `unrollEndpointMaps`.
   */
  readonly stagedLoadAbove?: number;
  /**
   * Opt-in, not kube-proxy's table: load each service chain's `numgen random mod N vmap { … }` as
   * N rules (shape.ts unrollEndpointMaps), which the kernel adds several times faster at 10k Services.
   */
  readonly unrollEndpointMaps?: boolean;
  /** Random hex digits (`bytes` bytes) for tokens and the digest seed; default node:crypto. */
  readonly random?: (bytes: number) => string;
}

export interface NftApplyOptions {
  /** A full sync now. */
  readonly full?: boolean;
  /** Change nothing: check the transaction with `nft -c -f -`. */
  readonly dryRun?: boolean;
}

export interface NftApplyResult {
  readonly family: Family;
  readonly mode: 'full' | 'partial';
  /** Why the sync was full (undefined for partial). */
  readonly reason: string | undefined;
  /** The main transaction as `nft -f` text; `''` when nothing differed (then nft did not run). A staged first sync: its stages in order. */
  readonly transaction: string;
  readonly operations: number;
  /** How many `nft -f` runs that text took: 0 (nothing to change), 1, or the stages of a staged first sync. */
  readonly transactions: number;
  /** Whether the transaction ran (false for dry runs and no-ops). */
  readonly applied: boolean;
  /** Stale chains deleted by the separate transaction that ran first. */
  readonly staleChainsDeleted: readonly string[];
  /** Chains flushed by this sync and deleted by a later one. */
  readonly staleChainsFlushed: readonly string[];
  readonly conntrack: readonly ConntrackCleanup[];
  readonly staleUdpFlows: readonly StaleUdpFlow[];
  /** What to save for the next run (stateful appliers; not for dry runs). */
  readonly state: NftAppliedState | undefined;
}

export interface NftApplier {
  apply(desired: NftRuleset, options?: NftApplyOptions): Promise<NftApplyResult>;
  /** Object by object, what applying `desired` would change relative to the last apply. */
  diff(desired: NftRuleset): NftObjectDiff[];
  /** Forget the record: the next apply is a full sync with this reason. */
  invalidate(reason: string): void;
  /** Why the next apply will be full, or undefined if it may be partial (before the canary check). */
  readonly pendingFullSync: string | undefined;
}

export function createNftApplier(options: NftApplierOptions): NftApplier {
  const host = options.host;
  const family = nftFamily(options.family);
  const clock = options.clock ?? Date.now;
  const delay = options.staleChainDelayMs ?? 1000;
  // Staging pays for itself only against anonymous sets, which the unrolled shape does not have.
  const stagedAbove = options.stagedLoadAbove ?? (options.unrollEndpointMaps ? Infinity : SERVICE_CHAINS_PER_TRANSACTION);
  const random = options.random ?? ((n: number) => randomBytes(n).toString('hex'));
  const st = options.state;
  const saved = st?.saved.state;
  const seed = st ? (saved?.seed ?? random(16)) : undefined;
  const fp = seed === undefined ? undefined : keyedDigest(seed);
  // The last apply: the ruleset itself (this process applied it) or the saved record; and its stale chains.
  let last: { readonly g: Grouped } | { readonly record: NftRecord } | undefined = saved ? { record: saved.record } : undefined;
  let stale: ReadonlyMap<string, number> = saved?.record.stale ?? new Map();
  const applied = (): Applied | undefined => (last === undefined ? undefined : 'g' in last ? objectsApplied(last.g, stale) : recordApplied({ ...last.record, stale }, fp!));
  let udp: UdpServiceMap = saved?.udp ?? new Map();
  let token: string | undefined = saved?.token;
  let fullReason: string | undefined = saved ? undefined : (st?.saved.reason ?? 'first apply');
  let lastFullSync = saved?.fullSyncAt ?? -Infinity;

  function check(desired: NftRuleset): void {
    if (desired.table.family !== family || desired.table.name !== KUBE_PROXY_NFT_TABLE) {
      throw new Error(`the nftables applier for ${options.family} loads table ${family} ${KUBE_PROXY_NFT_TABLE}, not ${desired.table.family} ${desired.table.name}`);
    }
    if ([...desired.sets, ...desired.maps].some((c) => c.name === SVCRULES_NFT_CANARY)) throw new Error(`the desired table may not declare ${SVCRULES_NFT_CANARY}, the applier's own set`);
  }

  const canarySet: NftSet = { name: SVCRULES_NFT_CANARY, type: ['inet_service'] };
  const canaryElement = (tok: string): Element => ({ container: SVCRULES_NFT_CANARY, key: ['0'], comment: tok });

  /** Why the table is not as the record says, judging by our canary (undefined: it is). */
  async function canaryProblem(): Promise<string | undefined> {
    const listed = await host.listSet(family, KUBE_PROXY_NFT_TABLE, SVCRULES_NFT_CANARY);
    if ('missing' in listed) return `the ${family} ${KUBE_PROXY_NFT_TABLE} ${listed.missing === 'table' ? 'table' : `table's ${SVCRULES_NFT_CANARY} set`} is gone`;
    const found = TOKEN.exec(listed.text)?.[1];
    if (found !== token) return `the ${family} ${KUBE_PROXY_NFT_TABLE} table was written since the last apply (${SVCRULES_NFT_CANARY} holds ${found ?? 'no token'}, not ${token ?? 'none'})`;
    return undefined;
  }

  const shaped = (rs: NftRuleset) => (options.unrollEndpointMaps ? unrollEndpointMaps(rs) : rs);

  async function apply(wanted: NftRuleset, opts: NftApplyOptions = {}): Promise<NftApplyResult> {
    const desired = shaped(wanted);
    check(desired);
    const now = clock();
    const g = group(desired);
    const t = tableRef(desired.table);
    const interval = options.fullSyncIntervalMs;
    let reason = fullReason ?? (opts.full ? 'requested' : interval !== undefined && now - lastFullSync >= interval ? 'periodic full sync' : undefined);
    try {
      if (reason === undefined) reason = await canaryProblem();
      let staleChainsDeleted: string[] = [];
      if (reason === undefined && !opts.dryRun && stale.size > 0) {
        const due = staleDeletionOperations(desired.table, stale, now, delay);
        if (due.operations.length > 0) {
          try {
            await host.run(renderTransaction({ operations: due.operations }));
            stale = new Map([...stale].filter(([name]) => !due.deleted.includes(name)));
            staleChainsDeleted = due.deleted;
          } catch (e) {
            // kube-proxy: a failed stale-chain deletion makes this sync full.
            reason = `deleting stale chains failed (${(e as Error).message.split('\n')[0]})`;
          }
        }
      }
      const plan = reason === undefined ? partialSyncOperations(applied()!, g) : undefined;
      if (plan?.fullReason !== undefined) reason = plan.fullReason;
      const nextToken = `svcrules:${random(8)}`;
      let ops: Operation[];
      // A full sync onto a host without the table loads it in stages (plan.ts stagedLoadOperations).
      let stages: Operation[][] | undefined;
      if (reason !== undefined) {
        const listed = await host.listSet(family, KUBE_PROXY_NFT_TABLE, SVCRULES_NFT_CANARY);
        if (!options.force && 'missing' in listed && listed.missing === 'set') throw new NftTableOwnedError(family);
        const canary: Operation[] = [{ verb: 'add', kind: 'set', table: t, set: canarySet }];
        const tokenOp: Operation[] = [{ verb: 'add', kind: 'element', table: t, element: canaryElement(nextToken) }];
        if ('missing' in listed && listed.missing === 'table' && !opts.dryRun && serviceChainCount(g) > stagedAbove) stages = stagedLoadOperations(g, canary, tokenOp);
        ops = stages ? stages.flat() : [...fullSyncOperations(g), ...canary, ...tokenOp];
      } else {
        ops = [...plan!.operations];
        if (ops.length > 0) ops.push({ verb: 'flush', kind: 'set', table: t, name: SVCRULES_NFT_CANARY }, { verb: 'add', kind: 'element', table: t, element: canaryElement(nextToken) });
      }
      const transaction = ops.length > 0 ? renderTransaction({ operations: ops }) : '';
      const desiredUdp = nftUdpServiceMap(desired);
      // Without a record a full sync cannot know what the table held: no conntrack cleanup then.
      const staleFlows = last === undefined ? [] : staleUdpFlows(udp, desiredUdp);
      const mode = reason === undefined ? 'partial' : 'full';
      const base = { family: options.family, mode, reason, transaction, operations: ops.length, transactions: stages?.length ?? (transaction ? 1 : 0), staleChainsDeleted, staleUdpFlows: staleFlows } as const;
      if (opts.dryRun) {
        if (transaction) await host.run(transaction, { check: true });
        return { ...base, applied: false, staleChainsFlushed: [], conntrack: [], state: undefined };
      }
      if (stages) for (const stage of stages) await host.run(renderTransaction({ operations: stage }));
      else if (transaction) await host.run(transaction);
      stale = plan === undefined ? new Map() : staleAfter(stale, g, plan, now);
      last = { g };
      udp = desiredUdp;
      if (transaction) token = nextToken;
      fullReason = undefined;
      if (reason !== undefined) lastFullSync = now;
      const cleaned = transaction && staleFlows.length > 0 && options.conntrack ? await options.conntrack(staleFlows) : [];
      const state: NftAppliedState | undefined = st && fp && seed ? { identity: st.identity, seed, token: token!, fullSyncAt: lastFullSync, record: { ...recordOf(g, fp), stale }, udp } : undefined;
      return { ...base, applied: transaction !== '', staleChainsFlushed: plan?.newlyStale ?? [], conntrack: cleaned, state };
    } catch (e) {
      if (!opts.dryRun) invalidate(`the previous apply failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
      throw e;
    }
  }

  function invalidate(reason: string): void {
    last = undefined;
    stale = new Map();
    token = undefined;
    fullReason = reason;
  }

  return {
    apply,
    diff(wanted) {
      const desired = shaped(wanted);
      check(desired);
      if (last === undefined || 'g' in last) return diffNft(last?.g.rs, desired);
      return diffRecord(applied()!, desired);
    },
    invalidate,
    get pendingFullSync() {
      return fullReason;
    },
  };
}
