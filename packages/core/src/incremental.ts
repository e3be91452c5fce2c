/**
 * The incremental compiler for node agents: it keeps the last snapshot's compiled pieces per
 * Service (all ports of a Service together, keyed by namespace/name, as kube-proxy's change
 * trackers are) and turns watch events into
 * - `ruleset`: the new full output, identical to `compile()` of the new snapshot;
 * - `payload`: what kube-proxy writes to `iptables-restore --noflush` for this sync
 *   (proxier.go syncProxyRules' partial sync; docs/kube-proxy-rules.md 8.3).
 *
 * Which Services count as changed (two definitions in kube-proxy-rules 8.3): this API produces the
 * minimal correct one: a Service is changed when its rendered per-service nat chains (SVC/SVL/EXT/FW/SEP:
 * the chain list and every rule in them) differ from those of the previous sync. kube-proxy's own
 * set is larger (any EndpointSlice update counts, metadata included); rewriting those Services
 * too would be harmless, and leaving them out is exactly as correct because their chains are
 * byte-for-byte what the kernel already holds.
 *
 * A partial payload holds: every top-level chain, declared and rewritten (filter: all five or six
 * chains with every rule; nat: KUBE-SERVICES, KUBE-NODEPORTS, KUBE-POSTROUTING, KUBE-MARK-MASQ);
 * the changed Services' chains, declared and written; `:CHAIN` + `-X CHAIN` for each service chain
 * that existed and no longer does. Unchanged Services' chains are not mentioned, so the kernel
 * keeps them. The top-level chains alone are 7-9 % of a full ruleset at 10 endpoints per Service;
 * the opt-in `topLevelChains: 'when-changed'` rewrites only those whose rules changed, and of a
 * changed Service only the chains that differ (one endpoint of 100k: its SEP chain and the ladder).
 *
 * When the sync is full (every chain written, like `compile()`, plus `-X` for stale chains):
 * - the first sync (kube-proxy: needFullSync starts true);
 * - after `requestFullSync()`: a failed restore, or the periodic resync the agent schedules;
 * - when the node or proxy configuration changes what rules are made of (the CompileContext:
 *   node name, zone, node IP, local-traffic detector, node-port addresses, mark, ...). kube-proxy
 *   forces a full sync on topology-label changes and restarts on configuration changes.
 *
 * Large-cluster mode (more than 1000 endpoints, kube-proxy-rules 7.4) removes the comments of every
 * SVC/SVL->SEP and SEP rule. kube-proxy does not force a full sync when the mode flips, so the Services it
 * does not rewrite keep their old comments in the kernel until the next full sync (up to an hour):
 * the kernel then differs from what a full sync would write. We are deliberately better: a flip
 * re-renders every Service, and every Service whose chains changed (all with endpoints) is in the
 * partial payload, so the kernel equals the full compile after every sync. Also unlike kube-proxy,
 * stale chains are deleted on every sync, also in large-cluster mode (we know which chains we wrote
 * and need no iptables-save, which is what kube-proxy rations).
 *
 * Cost. `update()` recomputes only the Services it touches (their endpoints from their slices,
 * their plans, their rules) and compares their chains with the previous ones. A Service's endpoints
 * come from an index fed only the slices that changed (endpoint-index.ts, built on its first
 * update), and the SEP chains and ladder rules of unchanged endpoints are reused, not rebuilt
 * (iptables/service-rules.ts `RuleReuse`), so a giant Service costs walks over its endpoints rather
 * than 100k hashes, allocations and a sort; its chains are diffed per port along the endpoint lists. The payload costs
 * the top-level rules (two array copies from a cache kept while no Service's top-level rules
 * change, else one pass over the service ports) plus the changed Services' chains. The full
 * `ruleset` is assembled lazily from the cached pieces on first access. `replace()` (a whole new
 * snapshot) first finds what differs, which is linear in the snapshot, then does the same.
 * Snapshots with Pods (EndpointSlices derived by the controller model) re-derive all slices on
 * every change; node agents feed EndpointSlices.
 *
 * Input that kube-proxy could never see (two Services or two slices with the same
 * namespace/name) keeps the last object per key here, whereas `compile()` of such a snapshot
 * would use both.
 *
 * Layout (incremental/): store.ts holds the snapshot by key and finds the Services a batch touches;
 * compiled-state.ts the per-Service plans and rules and every port in order; chain-diff.ts compares
 * two versions of a Service; stale-chains.ts tracks what the kernel holds; sync.ts runs one sync
 * over the same pieces compile() uses (proxy-model.ts planning and diagnostics, iptables/ rules and
 * assembly), with large-cluster mode computed once per sync, before anything is rendered.
 */
import type { Ruleset } from '@svcrules/iptables';
import type { Diagnostic } from './diagnostics.js';
import type { CompileStats } from './iptables/render-model.js';
import type { EndpointSlice, NodeInfo, Pod, ProxyConfig, Service, Snapshot } from './model.js';
import type { CompileOptions } from './options.js';

export { createIncrementalCompiler } from './incremental/sync.js';

/** An object by namespace and name (a delete event). */
export interface ObjectRef {
  readonly namespace: string;
  readonly name: string;
}

/** Objects added or updated (`upsert`, matched by namespace/name) and deleted (`remove`). */
export interface ObjectChanges<T> {
  readonly upsert?: readonly T[];
  readonly remove?: readonly ObjectRef[];
}

/** A batch of watch events. Everything absent is unchanged. */
export interface SnapshotChanges {
  readonly services?: ObjectChanges<Service>;
  readonly endpointSlices?: ObjectChanges<EndpointSlice>;
  /** Nodes by name (`remove` takes names). */
  readonly nodes?: { readonly upsert?: readonly NodeInfo[]; readonly remove?: readonly string[] };
  readonly pods?: ObjectChanges<Pod>;
  /** The new KubeProxyConfiguration; `null` removes it. */
  readonly config?: ProxyConfig | null;
}

export interface IncrementalResult {
  readonly sync: 'full' | 'partial';
  /** Why the sync is full (absent for partial syncs). */
  readonly fullSyncReason?: 'first-sync' | 'requested' | 'context-changed';
  /**
   * The new full output, identical to `compile(snapshot, options)` for the new snapshot (with
   * `existingNatChains` left out: stale chains are the payload's business). Built on first access.
   */
  readonly ruleset: Ruleset;
  /** The restore payload for `iptables-restore --noflush`: partial or full, as `sync` says. */
  readonly payload: Ruleset;
  /** Services (`namespace/name`, sorted) whose per-service chains differ from the previous sync. */
  readonly changedServices: readonly string[];
  /** Service chains deleted by the payload (`:CHAIN` + `-X CHAIN`), sorted. */
  readonly staleChains: readonly string[];
  /** As `compile()` reports them for the new snapshot. Built on first access. */
  readonly diagnostics: readonly Diagnostic[];
  readonly stats: CompileStats;
}

export interface IncrementalOptions extends CompileOptions {
  /**
   * `always` (default): a partial payload rewrites every top-level chain, as kube-proxy does.
   * `when-changed`: only the top-level chains whose rules changed are declared and rewritten (and
   * a table with nothing to write is left out), and of the changed Services only the chains that
   * differ, so a one-endpoint change costs that endpoint's SEP chain and its Service's ladder. Equally correct (the property test checks both); not what kube-proxy writes.
   */
  readonly topLevelChains?: 'always' | 'when-changed';
}

export interface IncrementalCompiler {
  /** Applies a batch of watch events and returns this sync's outputs. */
  update(changes: SnapshotChanges): IncrementalResult;
  /** Replaces the whole snapshot (objects compared by value; identical ones cost no recompilation). */
  replace(snapshot: Snapshot): IncrementalResult;
  /**
   * Makes the next sync full (kube-proxy's needFullSync): call it after a failed restore, or
   * periodically. `hostNatChains`, when known (e.g. from `iptables-save -t nat` or `nft list
   * chains`), replaces what the compiler believes the kernel holds; otherwise it assumes both the
   * state before and after the last payload may be there, and `-X`es whatever is not needed.
   */
  requestFullSync(hostNatChains?: readonly string[]): void;
  /** The current snapshot (a new object, objects in key order). */
  snapshot(): Snapshot;
}
