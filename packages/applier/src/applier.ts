/**
 * The Applier: loads a desired kube-proxy ruleset onto one IP family of a host, minimally.
 *
 * Like kube-proxy's partial sync it remembers what it last applied (chain by chain), so the next apply
 * diffs against that record and reads nothing but two marker chains: on a big nft host reading the
 * whole table is not an option (iptables-nft's `iptables-save -t nat` was seen to crash at 100k
 * endpoints). It falls back to a full sync (hooks, nfacct, read the host with iptables-save, diff
 * against it) when:
 *   - it has no record yet (first apply);
 *   - the previous apply failed (the host may hold anything);
 *   - its canary chain is gone: someone flushed the tables (kube-proxy's KUBE-PROXY-CANARY idea);
 *   - the periodic full-sync interval passed (kube-proxy: 1 h), or the caller asks.
 *
 * Safety: it refuses while kube-proxy's own canary exists (unless `force`); it only ever declares the
 * desired chains and deletes stale kube-proxy service chains (never a chain that is not one, never one
 * a foreign rule still jumps to); a failed restore leaves the failing table as it was and makes the
 * next apply full.
 */
import { randomBytes } from 'node:crypto';
import type { AppendCommand, Plan, PlanCurrent, PlanPolicy, Ruleset, Table, TableName } from '@svcrules/iptables';
import { append, chainDecl, chainsOf, currentFromChains, plan, render } from '@svcrules/iptables';
import { CANARY_TABLES, KUBE_PROXY_CANARY, KUBE_PROXY_POLICY, SVCRULES_CANARY, canaryToken, canaryTokenIn, isCanaryToken } from '@svcrules/core';
import { staleUdpFlows, udpServiceMap, type ConntrackCleanup, type StaleUdpFlow, type UdpServiceMap } from './conntrack.js';
import { KubeProxyPresentError } from './errors.js';
import { ensureChain, ensureHooks, type HookReport } from './hooks.js';
import { defaultSaveForm, readHost, type HostView, type SaveForm } from './host-view.js';
import { chainExists, type Family, type Netfilter } from './netfilter.js';
import { replacementTables } from './replace.js';
import type { StateRead } from './state-file.js';
import { currentFromState, Digests, type AppliedState, type HostIdentity } from './state.js';
import { SealedChains } from './sealed-chains.js';

export interface ApplierOptions {
  readonly netfilter: Netfilter;
  readonly family: Family;
  /** Apply even when kube-proxy's KUBE-PROXY-CANARY chain exists. */
  readonly force?: boolean;
  /**
   * Tables the caller has just found without KUBE-PROXY-CANARY (openHost's probe, `HostFacts`): the
   * first apply does not ask again (one process less for a CLI run); later applies always ask.
   */
  readonly kubeProxyAbsent?: readonly TableName[];
  /** Install kube-proxy's jump rules on full syncs (default true). */
  readonly hooks?: boolean;
  /** How iptables-save prints a desired rule (for comparing with the host on full syncs). */
  readonly saveForm?: SaveForm;
  /** Milliseconds; default Date.now. Only used for the periodic full sync. */
  readonly clock?: () => number;
  /** A full sync at least this often; default 1 hour (kube-proxy's FullSyncPeriod). */
  readonly fullSyncIntervalMs?: number;
  /** Called on full syncs before loading (e.g. create the nfacct counters). */
  readonly beforeFullSync?: () => Promise<void>;
  /** Deletes stale UDP conntrack entries after a successful change; absent: not done. */
  readonly conntrack?: (flows: readonly StaleUdpFlow[]) => Promise<ConntrackCleanup[]>;
  /**
   * `always` (default, kube-proxy's partial sync): every payload that touches a table rewrites its
   * top-level KUBE chains too, which re-asserts them against tampering. `when-changed`: only chains
   * whose content differs, so a one-service change loads a few dozen lines instead of re-sending
   * KUBE-SERVICES with one rule per service port (measured: packages/bench/src/apply-bench.ts).
   */
  readonly topLevelChains?: 'always' | 'when-changed';
  /**
   * How a full sync loads: `noflush` (default, kube-proxy's way) or `replace`, which re-emits the
   * tables it just read with its own chains substituted and loads them without --noflush: linear
   * instead of quadratic on the nft backend (see replace.ts), at the cost of losing a foreign rule
   * written between the read and the load. Partial syncs always use --noflush.
   */
  readonly fullSyncLoad?: 'noflush' | 'replace';
  /**
   * Keep the record between processes (state.ts): start from a saved state instead of a full sync,
   * check our canary's token instead of its mere presence, and return the state to save after each
   * apply (`ApplyResult.state`).
   */
  readonly state?: ApplierStateOptions;
}

export interface ApplierStateOptions {
  readonly identity: HostIdentity;
  /** The state saved by the last run (`readStateFile`), or why there is none (the first apply's reason). */
  readonly saved: StateRead;
  /** Random hex digits (`bytes` bytes); default node:crypto. */
  readonly random?: (bytes: number) => string;
}

export interface ApplyOptions {
  /** Read the host and do a full sync now. */
  readonly full?: boolean;
  /** Change nothing: plan against the host, check the payload (`iptables-restore --test`), report. */
  readonly dryRun?: boolean;
  /**
   * The desired ruleset is not complete but the chains of some Services (a stateful Applier's
   * partial sync from a persisted input record): only `recorded` chains may change or go, every
   * other chain stays as the record says. When a full sync is due instead, `apply` throws
   * ScopeRefusedError (nothing done): the caller compiles everything.
   */
  readonly scope?: ApplyScope;
}

export interface ApplyScope {
  /** The chains the scoped Services had, as recorded: those not desired any more are deleted. */
  readonly recorded: ReadonlyMap<TableName, readonly string[]>;
  /** Their rules in the top-level chains (unchanged, by the caller's check): for the UDP frontends. */
  readonly frontends: readonly AppendCommand[];
}

/** A scoped apply when a full sync is due (ApplyOptions.scope): `reason` says why. */
export class ScopeRefusedError extends Error {
  constructor(readonly reason: string) {
    super(`a full sync is due: ${reason}`);
  }
}

export interface ApplyResult {
  readonly family: Family;
  readonly mode: 'full' | 'partial';
  /** Why a full sync happened (undefined for partial). */
  readonly reason: string | undefined;
  /** The restore payload; `''` when nothing differed (then no restore ran). */
  readonly payload: string;
  /** Whether iptables-restore ran (false for dry runs and no-ops). */
  readonly restored: boolean;
  /** How the payload was loaded: with --noflush, or replacing whole tables (full syncs with `fullSyncLoad: 'replace'`). */
  readonly load: 'noflush' | 'replace';
  readonly plan: Plan;
  /** Hook rules inserted (full syncs; dry runs report none). */
  readonly hooks: HookReport | undefined;
  /** Stale UDP conntrack entries deleted after the change. */
  readonly conntrack: readonly ConntrackCleanup[];
  /** The pairs that were stale (also when no cleaner was configured). */
  readonly staleUdpFlows: readonly StaleUdpFlow[];
  /** What to save for the next run (stateful Appliers; not for dry runs). */
  readonly state: AppliedState | undefined;
}

export interface Applier {
  apply(desired: Ruleset, options?: ApplyOptions): Promise<ApplyResult>;
  /** Forget the record: the next apply is a full sync with this reason. */
  invalidate(reason: string): void;
  /** Why the next apply will be full, or undefined if it may be partial (before the canary check). */
  readonly pendingFullSync: string | undefined;
}

/** What was last applied: the planner's view of it and its UDP frontends. */
interface Record_ {
  readonly current: PlanCurrent;
  readonly udp: () => UdpServiceMap;
}

export function createApplier(options: ApplierOptions): Applier {
  const nf = options.netfilter;
  const family = options.family;
  const clock = options.clock ?? Date.now;
  const interval = options.fullSyncIntervalMs ?? 3_600_000;
  const saveForm = options.saveForm ?? defaultSaveForm;
  const policy: PlanPolicy = options.topLevelChains === 'when-changed' ? { ...KUBE_PROXY_POLICY, alwaysWrite: () => false } : KUBE_PROXY_POLICY;
  let record: Record_ | undefined;
  let fullReason: string | undefined = 'first apply';
  let lastFullSync = -Infinity;
  const st = options.state;
  const random = st?.random ?? ((n: number) => randomBytes(n).toString('hex'));
  const saved = st?.saved.state;
  const digests = st ? new Digests(saved?.seed ?? random(16)) : undefined;
  let tokens: Partial<Record<TableName, string>> = saved ? { ...saved.tokens } : {};
  /** The chain digests the host holds as of the last apply (stateful Appliers): what a scoped apply updates. */
  let lastChains: AppliedState['chains'] | undefined = saved?.chains;
  if (saved) {
    record = { current: currentFromState(saved, digests!), udp: () => saved.udp };
    fullReason = undefined;
    lastFullSync = saved.fullSyncAt;
  } else if (st) fullReason = st.saved.reason;

  /** The caller's fresh answer, used by the first apply only (see `kubeProxyAbsent`). */
  let knownAbsent: ReadonlySet<TableName> = new Set(options.kubeProxyAbsent ?? []);
  async function refuseIfKubeProxy(tables: readonly TableName[], absent: ReadonlySet<TableName>): Promise<void> {
    if (options.force) return;
    const found: TableName[] = [];
    for (const t of tables) if (!absent.has(t) && (await chainExists(nf, family, t, KUBE_PROXY_CANARY))) found.push(t);
    if (found.length > 0) throw new KubeProxyPresentError(family, found);
  }

  /** Why the host is not what the record says, judging by our canaries (undefined: it is). */
  async function canaryProblem(): Promise<string | undefined> {
    // Both tables read at once (two processes waited for together); judged in table order.
    const read = await Promise.all(CANARY_TABLES.map((t) => nf.run(family, ['-t', t, '-S', SVCRULES_CANARY, '1'])));
    for (const [i, t] of CANARY_TABLES.entries()) {
      const r = read[i]!;
      if (r.code !== 0) return `the ${t} table was flushed (${SVCRULES_CANARY} is gone)`;
      if (!st) continue;
      const found = canaryTokenIn(r.stdout);
      if (found !== tokens[t]) return `the ${t} table was written since the state was saved (${SVCRULES_CANARY} holds ${found ?? 'no token'}, not ${tokens[t] ?? 'none'})`;
    }
    return undefined;
  }

  /**
   * Every table block of the payload redeclares our canary: stateful, with a fresh token; stateless,
   * empty. On a stateful full sync, a table the plan leaves alone keeps the token it has, or gets one
   * in a canary-only block.
   */
  function withTokens(payload: Ruleset, host: HostView | undefined): { payload: Ruleset; tokens: Partial<Record<TableName, string>> } {
    const next: Partial<Record<TableName, string>> = { ...tokens };
    const tables: Table[] = [];
    const stamp = (t: Table): Table => {
      const chains = [...t.chains, chainDecl(SVCRULES_CANARY)];
      if (!st) return { name: t.name, chains, commands: t.commands };
      const tok = canaryToken(random(8));
      next[t.name] = tok;
      return { name: t.name, chains, commands: [...t.commands, append(SVCRULES_CANARY, ['-m', 'comment', '--comment', tok])] };
    };
    for (const t of payload.tables) tables.push(CANARY_TABLES.includes(t.name) ? stamp(t) : t);
    if (host && st) {
      for (const name of CANARY_TABLES) {
        if (tables.some((t) => t.name === name)) continue;
        const live = host.rules(name, SVCRULES_CANARY);
        const word = live?.length === 1 ? live[0]!.args.at(-1) : undefined;
        const found = isCanaryToken(word) ? word : undefined;
        if (found) next[name] = found;
        else tables.push(stamp({ name, chains: [], commands: [] }));
      }
    }
    return { payload: { tables }, tokens: next };
  }

  async function apply(desired: Ruleset, opts: ApplyOptions = {}): Promise<ApplyResult> {
    const now = clock();
    const absentAtOpen = knownAbsent;
    knownAbsent = new Set();
    let reason = fullReason ?? (opts.full ? 'requested' : opts.dryRun ? 'dry run reads the host' : now - lastFullSync >= interval ? 'periodic full sync' : undefined);
    if (reason === undefined) {
      // Partial path: two or three targeted reads, never the whole table.
      await refuseIfKubeProxy(['nat'], absentAtOpen);
      reason = await canaryProblem();
    }
    if (opts.scope && (reason !== undefined || !st || !lastChains)) throw new ScopeRefusedError(reason ?? 'the Applier keeps no state');
    try {
      let current: PlanCurrent;
      let before: () => UdpServiceMap;
      let host: HostView | undefined;
      let hooks: HookReport | undefined;
      if (reason !== undefined) {
        await refuseIfKubeProxy(['nat', 'filter'], absentAtOpen);
        if (!opts.dryRun) {
          if (options.beforeFullSync) await options.beforeFullSync();
          if (options.hooks ?? true) hooks = await ensureHooks(nf, family);
          for (const t of CANARY_TABLES) await ensureChain(nf, family, t, SVCRULES_CANARY);
        }
        host = await readHost(nf, family, saveForm);
        current = host;
        const hostRuleset = host.ruleset;
        before = () => udpServiceMap(hostRuleset);
      } else if (opts.scope) {
        current = scopedCurrent(record!.current, opts.scope.recorded);
        const all = record!.udp();
        before = () => all;
      } else {
        current = record!.current;
        before = record!.udp;
      }
      // Grouped once: for the plan, the UDP map and, after success, the record (what the host now holds).
      const desiredChains = chainsOf(desired);
      const p = plan(current, desired, policy, desiredChains);
      let toLoad = p.payload;
      let nextTokens = tokens;
      if (!opts.dryRun) ({ payload: toLoad, tokens: nextTokens } = withTokens(toLoad, host));
      let payload = toLoad.tables.length > 0 ? render(toLoad) : '';
      let load: ApplyResult['load'] = 'noflush';
      if (payload && host && options.fullSyncLoad === 'replace') {
        const replaced = replacementTables(host.ruleset, { ...p, payload: toLoad });
        if (replaced) {
          payload = render(replaced);
          load = 'replace';
        }
      }
      const noflush = load === 'noflush';
      const desiredUdp = opts.scope ? mergeUdp(before(), udpServiceMap(withFrontends(desiredChains, opts.scope.frontends))) : udpServiceMap(desiredChains);
      const stale = staleUdpFlows(before(), desiredUdp);
      if (opts.dryRun) {
        if (payload) await nf.restore(family, payload, { noflush, counters: true, test: true });
        return { family, mode: 'full', reason, payload, restored: false, load, plan: p, hooks: undefined, conntrack: [], staleUdpFlows: stale, state: undefined };
      }
      if (payload) await nf.restore(family, payload, { noflush, counters: true });
      tokens = nextTokens;
      fullReason = undefined;
      if (reason !== undefined) lastFullSync = now;
      let state: AppliedState | undefined;
      if (st && digests) {
        const chains = opts.scope ? mergeChains(lastChains!, opts.scope.recorded, digests.all(desiredChains)) : digests.all(desiredChains);
        state = { identity: st.identity, seed: digests.seedHex, tokens, fullSyncAt: lastFullSync, chains, udp: desiredUdp };
        lastChains = chains;
        record = { current: currentFromState(state, digests), udp: () => desiredUdp };
      } else record = { current: currentFromChains(desiredChains), udp: () => desiredUdp };
      const cleaned = payload && stale.length > 0 && options.conntrack ? await options.conntrack(stale) : [];
      return {
        family,
        mode: reason === undefined ? 'partial' : 'full',
        reason,
        payload,
        restored: payload !== '',
        load,
        plan: p,
        hooks,
        conntrack: cleaned,
        staleUdpFlows: stale,
        state,
      };
    } catch (e) {
      // A dry run changes nothing, so the record stays valid.
      if (!opts.dryRun) {
        record = undefined;
        lastChains = undefined;
        tokens = {};
        fullReason = `the previous apply failed (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`;
      }
      throw e;
    }
  }

  return {
    apply,
    invalidate(reason: string) {
      record = undefined;
      lastChains = undefined;
      tokens = {};
      fullReason = reason;
    },
    get pendingFullSync() {
      return fullReason;
    },
  };
}

/** The record seen through a scope: only the scoped chains exist (the rest is neither compared nor deleted). */
function scopedCurrent(current: PlanCurrent, recorded: ApplyScope['recorded']): PlanCurrent {
  return { tables: () => recorded.keys(), chains: (t) => recorded.get(t) ?? [], matches: (t, chain, rules) => current.matches(t, chain, rules) };
}

/** The record's chain digests with the scoped chains replaced by the desired ones (a state file's: edited as text). */
function mergeChains(base: AppliedState['chains'], recorded: ApplyScope['recorded'], desired: ReadonlyMap<TableName, ReadonlyMap<string, string>>): AppliedState['chains'] {
  if (base instanceof SealedChains) return base.edited(recorded, desired);
  const out = new Map<TableName, Map<string, string>>();
  for (const [t, m] of base) out.set(t, new Map(m));
  for (const [t, chains] of recorded) for (const c of chains) out.get(t)?.delete(c);
  for (const [t, m] of desired) {
    let to = out.get(t);
    if (!to) out.set(t, (to = new Map()));
    for (const [c, d] of m) to.set(c, d);
  }
  return out;
}

/** The scoped chains plus the top-level rules that lead to them (grouped by chain), for udpServiceMap. */
function withFrontends(chains: ReadonlyMap<TableName, ReadonlyMap<string, readonly AppendCommand[]>>, frontends: readonly AppendCommand[]): Map<TableName, Map<string, readonly AppendCommand[]>> {
  const nat = new Map<string, readonly AppendCommand[]>(chains.get('nat') ?? []);
  for (const r of frontends) nat.set(r.chain, [...(nat.get(r.chain) ?? []), r]);
  return new Map([['nat', nat]]);
}

/** The whole UDP map after a scoped apply: the scoped frontends' entries replaced. */
function mergeUdp(before: UdpServiceMap, scoped: UdpServiceMap): UdpServiceMap {
  const out = new Map(before);
  for (const [k, v] of scoped) out.set(k, v);
  return out;
}
