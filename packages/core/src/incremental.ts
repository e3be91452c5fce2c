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
 * (rules.ts `RuleReuse`), so a giant Service costs walks over its endpoints rather than 100k hashes,
 * allocations and a sort; its chains are diffed per port along the endpoint lists. The payload costs
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
 */
import type { AppendCommand, ChainDecl, Command, Ruleset, Table } from '@svcrules/iptables';
import { chainDecl } from '@svcrules/iptables';
import { NAT_FIXED_CHAINS, filterPrologue, natPrologue, nodePortsTail } from './compile.js';
import type { CompileStats } from './compile.js';
import { buildContext } from './context.js';
import type { CompileContext } from './context.js';
import type { Diagnostic } from './diagnostics.js';
import { deriveEndpointSlices } from './endpointslice-controller.js';
import { ServiceEndpointIndex } from './endpoint-index.js';
import { buildEndpointsMap, categorizeEndpoints, portKey } from './endpoints.js';
import type { EndpointInfo } from './endpoints.js';
import type { EndpointSlice, NodeInfo, Pod, ProxyConfig, Service, Snapshot } from './model.js';
import type { CompileOptions } from './options.js';
import { serviceRules } from './rules.js';
import type { ServicePortRules } from './rules.js';
import { planServicePort } from './service-plan.js';
import type { ServicePortPlan } from './service-plan.js';
import { servicePortInfos } from './service-port.js';
import type { ServicePortInfo } from './service-port.js';
import { isServiceChain, KUBE_EXTERNAL_SERVICES, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, KUBE_SERVICES } from './kube-proxy/index.js';

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

/** One service port's compiled pieces. */
class PortPiece {
  private decls: readonly ChainDecl[] | undefined;
  constructor(
    readonly info: ServicePortInfo,
    readonly plan: ServicePortPlan,
    readonly rules: ServicePortRules,
    readonly endpoints: number,
  ) {}
  /** The port's nat rules in the top-level chains (KUBE-SERVICES, KUBE-NODEPORTS): they come first. */
  get natTop(): readonly AppendCommand[] {
    return this.rules.natRules.slice(0, this.rules.topEnd);
  }
  /** Built when a payload or the full ruleset needs them (100k SEP chains: not on every update). */
  get chainDecls(): readonly ChainDecl[] {
    return (this.decls ??= this.rules.natChains.map(chainDecl));
  }
}

/** One Service's compiled pieces (all its ports, in canonical order). */
interface ServiceEntry {
  readonly key: string;
  readonly ports: readonly PortPiece[];
  /** Endpoints of this Service by portKey (only rebuilt when its slices or the node change). */
  readonly endpointsMap: ReadonlyMap<string, EndpointInfo[]>;
  readonly endpoints: number;
}

/** The Service's nat chains, in order. */
function* chainsOf(e: ServiceEntry | undefined): Generator<string> {
  for (const p of e?.ports ?? []) yield* p.rules.natChains;
}

/** A service port in the global order (service port name, then protocol, bytewise). */
interface PortRef {
  readonly name: string;
  readonly protocol: string;
  readonly svcKey: string;
  readonly piece: PortPiece;
}

const TOP_LEVEL_NAT = new Set([KUBE_SERVICES, KUBE_NODEPORTS]);
const compareBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const comparePorts = (a: { name: string; protocol: string }, b: { name: string; protocol: string }) =>
  compareBytes(a.name, b.name) || compareBytes(a.protocol, b.protocol);
const nsKey = (namespace: string, name: string) => `${namespace}/${name}`;

function sameArgs(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Whether two versions of a Service have the same nat chains (the list, and every rule in them: the
 * ports' rules after their top-level ones), walking the ports' arrays without concatenating them.
 */
function sameChains(a: ServiceEntry | undefined, b: ServiceEntry | undefined): boolean {
  if (a === b) return true;
  return sameFlat(
    (a?.ports ?? []).map((p) => [p.rules.natChains, 0] as const),
    (b?.ports ?? []).map((p) => [p.rules.natChains, 0] as const),
    (x, y) => x === y,
  ) &&
    sameFlat(
      (a?.ports ?? []).map((p) => [p.rules.natRules, p.rules.topEnd] as const),
      (b?.ports ?? []).map((p) => [p.rules.natRules, p.rules.topEnd] as const),
      (x, y) => x === y || (x.chain === y.chain && sameArgs(x.args, y.args)),
    );
}

/** Whether the concatenations of `a`'s and `b`'s `[array, from]` slices are equal under `eq`. */
function sameFlat<T>(a: readonly (readonly [readonly T[], number])[], b: readonly (readonly [readonly T[], number])[], eq: (x: T, y: T) => boolean): boolean {
  let ai = 0;
  let bi = 0;
  let ax = a[0]?.[1] ?? 0;
  let bx = b[0]?.[1] ?? 0;
  for (;;) {
    while (ai < a.length && ax >= a[ai]![0].length) if (++ai < a.length) ax = a[ai]![1];
    while (bi < b.length && bx >= b[bi]![0].length) if (++bi < b.length) bx = b[bi]![1];
    if (ai === a.length || bi === b.length) return ai === a.length && bi === b.length;
    if (!eq(a[ai]![0][ax++]!, b[bi]![0][bx++]!)) return false;
  }
}

/**
 * The chains that differ between two versions of a Service: `write` (new or changed, with their
 * rules, per port of `next`) and `removed` (in `old` only). Ports are matched by name and protocol;
 * within a port, the SEP chains are matched by endpoint along the two sorted endpoint lists, so a
 * one-endpoint change in a 100k-endpoint Service costs one walk, not two 100k-entry sets.
 */
function chainDiff(old: ServiceEntry | undefined, next: ServiceEntry | undefined): { write: Map<PortPiece, { chains: string[]; rules: AppendCommand[] }>; removed: string[] } {
  const write = new Map<PortPiece, { chains: string[]; rules: AppendCommand[] }>();
  const removed: string[] = [];
  const olds = new Map((old?.ports ?? []).map((p) => [portKey(p.info.name, p.info.protocol), p]));
  for (const b of next?.ports ?? []) {
    const k = portKey(b.info.name, b.info.protocol);
    const a = olds.get(k);
    olds.delete(k);
    const w = pieceDiff(a, b, removed);
    if (w.chains.length > 0) write.set(b, w);
  }
  for (const a of olds.values()) for (const ch of a.rules.natChains) removed.push(ch);
  return { write, removed };
}

/** Head chains (EXT/FW/SVC/SVL) of a port with their rules, in declaration order. */
function headChains(r: ServicePortRules): Map<string, AppendCommand[]> {
  const m = new Map<string, AppendCommand[]>();
  for (let i = 0; i < r.sepChainStart; i++) m.set(r.natChains[i]!, []);
  let list: AppendCommand[] = [];
  let chain: string | undefined;
  for (let i = r.topEnd; i < r.sepStart; i++) {
    const rule = r.natRules[i]!;
    if (rule.chain !== chain) {
      chain = rule.chain;
      const have = m.get(chain);
      if (have) list = have;
      else m.set(chain, (list = []));
    }
    list.push(rule);
  }
  return m;
}

function pieceDiff(a: PortPiece | undefined, b: PortPiece, removed: string[]): { chains: string[]; rules: AppendCommand[] } {
  const rb = b.rules;
  const ra = a?.rules;
  const aligned = ra ? alignedDiff(ra, rb, removed) : undefined;
  if (aligned) return aligned;
  // No alignment to go by: everything of b is written, whatever of a is not in b goes.
  const chains = rb.natChains.slice();
  const rules = rb.natRules.slice(rb.topEnd);
  if (ra) {
    const keep = new Set(rb.natChains);
    for (const ch of ra.natChains) if (!keep.has(ch)) removed.push(ch);
  }
  return { chains, rules };
}

/**
 * pieceDiff along the two ports' endpoint lists (both sorted, as endpoint lists are). Were they not,
 * the walk would pair fewer endpoints: more chains written and listed as removed, and a chain that
 * is written is never deleted (see sync), so the result would be larger, never wrong.
 */
function alignedDiff(ra: ServicePortRules, rb: ServicePortRules, removed: string[]): { chains: string[]; rules: AppendCommand[] } | undefined {
  const ea = ra.reuse?.endpoints;
  const eb = rb.reuse?.endpoints;
  if (!ea || !eb) return undefined;
  // SEP chains first (they may reveal that the lists are not sorted).
  const sepChains: string[] = [];
  const sepRules: AppendCommand[] = [];
  const sepRemoved: string[] = [];
  const sa = ra.natChains;
  const sb = rb.natChains;
  const writeSep = (j: number) => {
    sepChains.push(sb[rb.sepChainStart + j]!);
    sepRules.push(rb.natRules[rb.sepStart + 2 * j]!, rb.natRules[rb.sepStart + 2 * j + 1]!);
  };
  let i = 0;
  let j = 0;
  while (i < ea.length || j < eb.length) {
    const x = ea[i];
    const y = eb[j];
    if (x !== undefined && x === y) {
      const nameA = sa[ra.sepChainStart + i]!;
      const nameB = sb[rb.sepChainStart + j]!;
      if (nameA !== nameB) sepRemoved.push(nameA);
      const pa = ra.sepStart + 2 * i;
      const pb = rb.sepStart + 2 * j;
      if (nameA !== nameB || !sameRule(ra.natRules[pa]!, rb.natRules[pb]!) || !sameRule(ra.natRules[pa + 1]!, rb.natRules[pb + 1]!)) writeSep(j);
      i++;
      j++;
    } else if (y === undefined || (x !== undefined && x < y)) sepRemoved.push(sa[ra.sepChainStart + i++]!);
    else writeSep(j++);
  }
  // Head chains (EXT/FW/SVC/SVL): b's grouped; a's compared rule by rule against them.
  const hb = headChains(rb);
  const differs = new Set<string>();
  const at = new Map<string, number>();
  // By runs of one chain (a ladder is 100k rules in a row): one map lookup per run.
  const rules_ = ra.natRules;
  for (let k = ra.topEnd; k < ra.sepStart; ) {
    const chain = rules_[k]!.chain;
    let end = k + 1;
    while (end < ra.sepStart && rules_[end]!.chain === chain) end++;
    const list = hb.get(chain);
    let n = at.get(chain) ?? 0;
    if (list && !differs.has(chain)) {
      for (; k < end; k++, n++) {
        if (n >= list.length || !sameRule(rules_[k]!, list[n]!)) {
          differs.add(chain);
          break;
        }
      }
    }
    at.set(chain, n + (end - k));
    k = end;
  }
  const headA = new Set(sa.slice(0, ra.sepChainStart));
  for (const [ch, list] of hb) if (!headA.has(ch) || (at.get(ch) ?? 0) !== list.length) differs.add(ch);
  for (const ch of headA) if (!hb.has(ch)) removed.push(ch);
  for (const ch of sepRemoved) removed.push(ch);
  const chains: string[] = [];
  const rules: AppendCommand[] = [];
  for (const ch of hb.keys()) if (differs.has(ch)) chains.push(ch);
  for (let k = rb.topEnd; k < rb.sepStart; k++) if (differs.has(rb.natRules[k]!.chain)) rules.push(rb.natRules[k]!);
  for (const ch of sepChains) chains.push(ch);
  for (const r of sepRules) rules.push(r);
  return { chains, rules };
}

const TOP_LEVEL_FILTER = [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL];

/** A Service's rules in one top-level chain, in order. */
function topRules(e: ServiceEntry | undefined, table: 'filter' | 'nat', chain: string): AppendCommand[] {
  const out: AppendCommand[] = [];
  for (const p of e?.ports ?? []) for (const r of table === 'filter' ? p.rules.filterRules : p.natTop) if (r.chain === chain) out.push(r);
  return out;
}

function sameRule(x: AppendCommand, y: AppendCommand): boolean {
  return x === y || (x.chain === y.chain && sameArgs(x.args, y.args));
}

function sameRules(a: readonly AppendCommand[], b: readonly AppendCommand[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !sameArgs(a[i]!.args, b[i]!.args)) return false;
  return true;
}

/** Structural equality of plain snapshot data, ignoring `origin` (where an object was read from). */
function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao).filter((k) => k !== 'origin' && ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => k !== 'origin' && bo[k] !== undefined);
  if (keys.length !== bKeys.length) return false;
  for (const k of keys) if (!sameData(ao[k], bo[k])) return false;
  return true;
}

function contextKey(ctx: CompileContext): string {
  return JSON.stringify(ctx);
}

/** Index of the first element of `refs` not less than `x` (lower bound). */
function lowerBound(refs: readonly PortRef[], x: { name: string; protocol: string }): number {
  let lo = 0;
  let hi = refs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePorts(refs[mid]!, x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element of `refs` greater than `x` (upper bound). */
function upperBound(refs: readonly PortRef[], x: { name: string; protocol: string }): number {
  let lo = 0;
  let hi = refs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (comparePorts(refs[mid]!, x) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createIncrementalCompiler(options: IncrementalOptions = {}): IncrementalCompiler {
  const family = options.family ?? 'IPv4';
  const { existingNatChains, topLevelChains = 'always', ...compileOptions } = options;

  // The snapshot, by key.
  const services = new Map<string, Service>();
  const givenSlices = new Map<string, EndpointSlice>();
  const derivedSlices = new Map<string, EndpointSlice>();
  const nodes = new Map<string, NodeInfo>();
  const pods = new Map<string, Pod>();
  let config: ProxyConfig | undefined;
  /** Slices (by store key `g:ns/name` / `d:ns/name`) per Service key `ns/serviceName`. */
  const slicesByService = new Map<string, Set<string>>();

  // The compiled state.
  let ctx: CompileContext | undefined;
  let ctxKey = '';
  let ctxDiagnostics: Diagnostic[] = [];
  const entries = new Map<string, ServiceEntry>();
  let refs: PortRef[] = [];
  let totalEndpoints = 0;
  let largeClusterMode = false;
  let filterRuleCount = 0;
  let natRuleCount = 0;
  let natChainCount = 0;

  // What we believe the kernel's nat table holds (service chains only), and the sync state.
  let hostChains = new Set<string>((existingNatChains ?? []).filter(isServiceChain));
  /** What the last payload deleted: still there if that restore failed. */
  let lastStale: readonly string[] = [];
  let needFullSync: 'first-sync' | 'requested' | undefined = 'first-sync';

  /**
   * The top-level rules of all service ports in order (what every partial payload rewrites), kept
   * while no Service's top-level rules change: an endpoint change then costs two array copies.
   */
  let topCache: TopLevelRules | undefined;

  // Services to recompile: `true` when their endpoints must be rebuilt from their slices too.
  const dirty = new Map<string, boolean>();
  /**
   * Endpoint indexes of Services recompiled since the last full rebuild (made on their first
   * update), and the slices (store key -> slice, or undefined when gone) changed since.
   */
  const indexes = new Map<string, ServiceEndpointIndex>();
  const pendingSlices = new Map<string, Map<string, EndpointSlice | undefined>>();
  const markDirty = (key: string, endpoints: boolean) => dirty.set(key, endpoints || (dirty.get(key) ?? false));

  function sliceStoreKey(kind: 'g' | 'd', s: EndpointSlice) {
    return `${kind}:${nsKey(s.namespace, s.name)}`;
  }

  function indexSlice(storeKey: string, s: EndpointSlice, add: boolean) {
    if (s.serviceName === '') return;
    const svcKey = nsKey(s.namespace, s.serviceName);
    let set = slicesByService.get(svcKey);
    if (indexes.has(svcKey)) {
      let pending = pendingSlices.get(svcKey);
      if (!pending) pendingSlices.set(svcKey, (pending = new Map()));
      pending.set(storeKey, add ? s : undefined);
    }
    if (add) {
      if (!set) slicesByService.set(svcKey, (set = new Set()));
      set.add(storeKey);
    } else if (set) {
      set.delete(storeKey);
      if (set.size === 0) slicesByService.delete(svcKey);
    }
    markDirty(svcKey, true);
  }

  function putSlice(kind: 'g' | 'd', s: EndpointSlice) {
    const store = kind === 'g' ? givenSlices : derivedSlices;
    const k = nsKey(s.namespace, s.name);
    const old = store.get(k);
    if (old !== undefined && (old === s || sameData(old, s))) {
      store.set(k, s);
      return;
    }
    const storeKey = sliceStoreKey(kind, s);
    if (old !== undefined) indexSlice(storeKey, old, false);
    store.set(k, s);
    indexSlice(storeKey, s, true);
  }

  function dropSlice(kind: 'g' | 'd', k: string) {
    const store = kind === 'g' ? givenSlices : derivedSlices;
    const old = store.get(k);
    if (old === undefined) return;
    store.delete(k);
    indexSlice(sliceStoreKey(kind, old), old, false);
  }

  function putService(s: Service) {
    const k = nsKey(s.namespace, s.name);
    const old = services.get(k);
    services.set(k, s);
    if (old === undefined || (old !== s && !sameData(old, s))) markDirty(k, false);
  }

  function dropService(k: string) {
    if (services.delete(k)) markDirty(k, false);
  }

  function currentSnapshot(): Snapshot {
    return {
      services: [...services.values()],
      endpointSlices: [...givenSlices.values()],
      nodes: [...nodes.values()],
      ...(pods.size > 0 ? { pods: [...pods.values()] } : {}),
      ...(config !== undefined ? { config } : {}),
    };
  }

  /** Re-derives the controller's slices (Pods present): diffed against the previous derivation. */
  function rederive() {
    const next = pods.size > 0 ? deriveEndpointSlices(currentSnapshot()) : [];
    const seen = new Set<string>();
    for (const s of next) {
      seen.add(nsKey(s.namespace, s.name));
      putSlice('d', s);
    }
    for (const k of [...derivedSlices.keys()]) if (!seen.has(k)) dropSlice('d', k);
  }

  function slicesOf(svcKey: string): EndpointSlice[] {
    // compile() sees the given slices before the derived ones (buildEndpointsMap sorts stably).
    const given: EndpointSlice[] = [];
    const derived: EndpointSlice[] = [];
    for (const storeKey of slicesByService.get(svcKey) ?? []) {
      const k = storeKey.slice(2);
      const s = storeKey[0] === 'g' ? givenSlices.get(k) : derivedSlices.get(k);
      if (s !== undefined) (storeKey[0] === 'g' ? given : derived).push(s);
    }
    return derived.length === 0 ? given : [...given, ...derived];
  }

  /** The Service's slices by store key, given ones first (the order compile() sees them in). */
  function sliceEntriesOf(svcKey: string): Map<string, EndpointSlice> {
    const out = new Map<string, EndpointSlice>();
    for (const kind of ['g', 'd'] as const) {
      for (const storeKey of slicesByService.get(svcKey) ?? []) {
        if (storeKey[0] !== kind) continue;
        const s = (kind === 'g' ? givenSlices : derivedSlices).get(storeKey.slice(2));
        if (s !== undefined) out.set(storeKey, s);
      }
    }
    return out;
  }

  /** The Service's endpoints per port, from its index (made on first use, then fed the changed slices). */
  function indexedEndpoints(svcKey: string, c: CompileContext): Map<string, EndpointInfo[]> {
    let index = indexes.get(svcKey);
    const pending = pendingSlices.get(svcKey);
    pendingSlices.delete(svcKey);
    if (!index) indexes.set(svcKey, (index = new ServiceEndpointIndex(family, c.nodeName, sliceEntriesOf(svcKey), (k) => (k[0] === 'g' ? 0 : 1))));
    else for (const [storeKey, s] of pending ?? []) index.set(storeKey, s);
    return index.map();
  }

  /** `prev`: the same port's previous rules, whose unchanged SEP chains and ladder rules are reused. */
  function renderPiece(info: ServicePortInfo, plan: ServicePortPlan, c: CompileContext, endpoints: number, prev?: PortPiece): PortPiece {
    return new PortPiece(info, plan, serviceRules(plan, c, largeClusterMode, prev?.rules, true), endpoints);
  }

  /** The piece of the same service port in `e`, if any. */
  function samePort(e: ServiceEntry | undefined, info: ServicePortInfo): PortPiece | undefined {
    return e?.ports.find((p) => p.info.name === info.name && p.info.protocol === info.protocol);
  }

  function finishEntry(key: string, ports: PortPiece[], endpointsMap: ReadonlyMap<string, EndpointInfo[]>): ServiceEntry {
    let endpoints = 0;
    for (const p of ports) endpoints += p.endpoints;
    return { key, ports, endpointsMap, endpoints };
  }

  /** Compiles one Service from scratch (its endpoints reused unless `rebuildEndpoints`). */
  function compileService(key: string, c: CompileContext, rebuildEndpoints: boolean): ServiceEntry | undefined {
    const svc = services.get(key);
    const infos = svc ? servicePortInfos(svc, family).sort(comparePorts) : [];
    if (infos.length === 0) return undefined;
    const old = entries.get(key);
    const endpointsMap = !rebuildEndpoints && old ? old.endpointsMap : indexedEndpoints(key, c);
    const ports = infos.map((info) => {
      const eps = endpointsMap.get(portKey(info.name, info.protocol)) ?? [];
      const plan = planServicePort(info, categorizeEndpoints(eps, info, c.nodeName, c.zone));
      return renderPiece(info, plan, c, eps.length, samePort(old, info));
    });
    return finishEntry(key, ports, endpointsMap);
  }

  function countsOf(e: ServiceEntry | undefined) {
    let filter = 0;
    let nat = 0;
    let chains = 0;
    for (const p of e?.ports ?? []) {
      filter += p.rules.filterRules.length;
      nat += p.rules.natRules.length;
      chains += p.rules.natChains.length;
    }
    return { filter, nat, chains };
  }

  function removeRefs(key: string, e: ServiceEntry) {
    for (const p of e.ports) {
      const from = lowerBound(refs, p.info);
      const to = upperBound(refs, p.info);
      for (let i = from; i < to; i++) {
        if (refs[i]!.svcKey === key) {
          refs.splice(i, 1);
          break;
        }
      }
    }
  }

  function addRefs(key: string, e: ServiceEntry) {
    for (const piece of e.ports) {
      const ref: PortRef = { name: piece.info.name, protocol: piece.info.protocol, svcKey: key, piece };
      refs.splice(upperBound(refs, ref), 0, ref);
    }
  }

  function setEntry(key: string, next: ServiceEntry | undefined) {
    const old = entries.get(key);
    if (old === next) return;
    const a = countsOf(old);
    const b = countsOf(next);
    filterRuleCount += b.filter - a.filter;
    natRuleCount += b.nat - a.nat;
    natChainCount += b.chains - a.chains;
    totalEndpoints += (next?.endpoints ?? 0) - (old?.endpoints ?? 0);
    if (old) removeRefs(key, old);
    if (next) {
      entries.set(key, next);
      addRefs(key, next);
    } else entries.delete(key);
  }

  /** The whole compiled state from scratch (first sync, context change). */
  function rebuildAll(c: CompileContext) {
    entries.clear();
    indexes.clear();
    pendingSlices.clear();
    refs = [];
    totalEndpoints = filterRuleCount = natRuleCount = natChainCount = 0;
    dirty.clear();
    // Plans first: large-cluster mode needs the total before any rule is rendered.
    const plans = new Map<string, { infos: ServicePortInfo[]; plans: ServicePortPlan[]; counts: number[]; endpointsMap: Map<string, EndpointInfo[]> }>();
    for (const key of services.keys()) {
      const svc = services.get(key)!;
      const infos = servicePortInfos(svc, family).sort(comparePorts);
      if (infos.length === 0) continue;
      const endpointsMap = buildEndpointsMap(slicesOf(key), family, c.nodeName);
      const counts: number[] = [];
      const ps = infos.map((info) => {
        const eps = endpointsMap.get(portKey(info.name, info.protocol)) ?? [];
        counts.push(eps.length);
        totalEndpoints += eps.length;
        return planServicePort(info, categorizeEndpoints(eps, info, c.nodeName, c.zone));
      });
      plans.set(key, { infos, plans: ps, counts, endpointsMap });
    }
    largeClusterMode = totalEndpoints > c.largeClusterEndpointsThreshold;
    totalEndpoints = 0;
    const all: PortRef[] = [];
    for (const [key, p] of plans) {
      const ports = p.infos.map((info, i) => renderPiece(info, p.plans[i]!, c, p.counts[i]!));
      const e = finishEntry(key, ports, p.endpointsMap);
      entries.set(key, e);
      const n = countsOf(e);
      filterRuleCount += n.filter;
      natRuleCount += n.nat;
      natChainCount += n.chains;
      totalEndpoints += e.endpoints;
      for (const piece of ports) all.push({ name: piece.info.name, protocol: piece.info.protocol, svcKey: key, piece });
    }
    refs = all.sort(comparePorts);
  }

  /** Every Service re-rendered with the new large-cluster mode; plans and endpoints kept. */
  function rerenderAll(c: CompileContext) {
    for (const [key, e] of [...entries]) {
      const ports = e.ports.map((p) => renderPiece(p.info, p.plan, c, p.endpoints, p));
      setEntry(key, finishEntry(key, ports, e.endpointsMap));
    }
  }

  function sync(): IncrementalResult {
    if (pods.size > 0 || derivedSlices.size > 0) rederive();
    const diagnostics: Diagnostic[] = [];
    const c = buildContext({ services: [], endpointSlices: [], nodes: [...nodes.values()], ...(config ? { config } : {}) }, compileOptions, diagnostics);
    const key = contextKey(c);
    const contextChanged = ctx !== undefined && key !== ctxKey;
    let fullSyncReason: IncrementalResult['fullSyncReason'] = needFullSync ?? (contextChanged ? 'context-changed' : undefined);

    const before = new Map<string, ServiceEntry | undefined>();
    if (ctx === undefined || contextChanged) {
      for (const [k, e] of entries) before.set(k, e);
      rebuildAll(c);
      for (const k of entries.keys()) if (!before.has(k)) before.set(k, undefined);
    } else {
      for (const [k, rebuildEndpoints] of dirty) {
        before.set(k, entries.get(k));
        setEntry(k, compileService(k, c, rebuildEndpoints));
      }
      const mode = totalEndpoints > c.largeClusterEndpointsThreshold;
      if (mode !== largeClusterMode) {
        largeClusterMode = mode;
        for (const [k, e] of entries) if (!before.has(k)) before.set(k, e);
        rerenderAll(c);
      }
    }
    dirty.clear();
    ctx = c;
    ctxKey = key;
    ctxDiagnostics = diagnostics;

    const changed: string[] = [];
    for (const [k, old] of before) if (!sameChains(old, entries.get(k))) changed.push(k);
    changed.sort(compareBytes);

    // Chains that go away: all not needed for a full sync, the changed Services' old ones otherwise.
    let stale: string[];
    const diffs: ReturnType<typeof chainDiff>[] = [];
    if (fullSyncReason !== undefined) {
      const active = new Set<string>();
      for (const e of entries.values()) for (const ch of chainsOf(e)) active.add(ch);
      stale = [...hostChains].filter((ch) => !active.has(ch));
      hostChains = active;
    } else {
      // The chains the changed Services no longer have (unchanged chains were written before).
      const written = new Set<string>();
      const gone: string[] = [];
      for (const k of changed) {
        const d = chainDiff(before.get(k), entries.get(k));
        diffs.push(d);
        for (const w of d.write.values()) for (const ch of w.chains) written.add(ch);
        for (const ch of d.removed) gone.push(ch);
      }
      for (const ch of written) hostChains.add(ch);
      stale = [...new Set(gone)].filter((ch) => !written.has(ch) && hostChains.has(ch));
      for (const ch of stale) hostChains.delete(ch);
    }
    stale.sort(compareBytes);
    lastStale = stale;
    needFullSync = undefined;

    const snapshotRefs = refs.slice();
    const topChanged = fullSyncReason !== undefined ? undefined : changedTopChains(before);
    if (topChanged === undefined || topChanged.size > 0) topCache = undefined;
    let payload: Ruleset;
    if (fullSyncReason !== undefined || topChanged === undefined) payload = assemble(c, snapshotRefs, stale);
    else if (topLevelChains === 'always') payload = assemblePartial(c, snapshotRefs, (topCache ??= topLevelRules(snapshotRefs)), changed, stale);
    else payload = assembleMinimal(c, snapshotRefs, diffs, stale, topChanged);
    let ruleset: Ruleset | undefined = fullSyncReason !== undefined && stale.length === 0 ? payload : undefined;
    let allDiagnostics: Diagnostic[] | undefined;
    const prologue = filterPrologue(c);
    const stats: CompileStats = {
      servicePorts: snapshotRefs.length,
      endpoints: totalEndpoints,
      largeClusterMode,
      filterRules: filterRuleCount + prologue.head.length + prologue.tail.length,
      natRules: natRuleCount + natPrologue(c).length + nodePortsTail(c).length,
      natChains: natChainCount + NAT_FIXED_CHAINS.length,
    };
    return {
      sync: fullSyncReason !== undefined ? 'full' : 'partial',
      ...(fullSyncReason !== undefined ? { fullSyncReason } : {}),
      get ruleset() {
        return (ruleset ??= assemble(c, snapshotRefs, []));
      },
      payload,
      changedServices: changed,
      staleChains: stale,
      get diagnostics() {
        return (allDiagnostics ??= [...diagnostics, ...portDiagnostics(snapshotRefs)]);
      },
      stats,
    };
  }

  /** `table/chain` of each top-level chain in which a recompiled Service's rules changed. */
  function changedTopChains(before: ReadonlyMap<string, ServiceEntry | undefined>): Set<string> {
    const out = new Set<string>();
    for (const [k, old] of before) {
      const next = entries.get(k);
      if (old === next) continue;
      for (const chain of TOP_LEVEL_FILTER) {
        if (!sameRules(topRules(old, 'filter', chain), topRules(next, 'filter', chain))) out.add(`filter/${chain}`);
      }
      for (const chain of TOP_LEVEL_NAT) {
        if (!sameRules(topRules(old, 'nat', chain), topRules(next, 'nat', chain))) out.add(`nat/${chain}`);
      }
    }
    return out;
  }

  return {
    update(changes) {
      for (const s of changes.services?.upsert ?? []) putService(s);
      for (const r of changes.services?.remove ?? []) dropService(nsKey(r.namespace, r.name));
      for (const s of changes.endpointSlices?.upsert ?? []) putSlice('g', s);
      for (const r of changes.endpointSlices?.remove ?? []) dropSlice('g', nsKey(r.namespace, r.name));
      for (const n of changes.nodes?.upsert ?? []) nodes.set(n.name, n);
      for (const n of changes.nodes?.remove ?? []) nodes.delete(n);
      for (const p of changes.pods?.upsert ?? []) pods.set(nsKey(p.namespace, p.name), p);
      for (const r of changes.pods?.remove ?? []) pods.delete(nsKey(r.namespace, r.name));
      if (changes.config !== undefined) config = changes.config ?? undefined;
      return sync();
    },
    replace(snapshot) {
      const svcKeys = new Set<string>();
      for (const s of snapshot.services) {
        svcKeys.add(nsKey(s.namespace, s.name));
        putService(s);
      }
      for (const k of [...services.keys()]) if (!svcKeys.has(k)) dropService(k);
      const sliceKeys = new Set<string>();
      for (const s of snapshot.endpointSlices) {
        sliceKeys.add(nsKey(s.namespace, s.name));
        putSlice('g', s);
      }
      for (const k of [...givenSlices.keys()]) if (!sliceKeys.has(k)) dropSlice('g', k);
      nodes.clear();
      for (const n of snapshot.nodes) nodes.set(n.name, n);
      pods.clear();
      for (const p of snapshot.pods ?? []) pods.set(nsKey(p.namespace, p.name), p);
      config = snapshot.config;
      return sync();
    },
    requestFullSync(hostNatChains) {
      needFullSync = 'requested';
      if (hostNatChains !== undefined) hostChains = new Set(hostNatChains.filter(isServiceChain));
      else for (const ch of lastStale) hostChains.add(ch);
    },
    snapshot: currentSnapshot,
  };

  function portDiagnostics(ports: readonly PortRef[]): Diagnostic[] {
    const out: Diagnostic[] = [];
    const hashOwner = new Map<string, string>();
    for (const { piece } of ports) {
      const { info, plan } = piece;
      const owner = hashOwner.get(plan.chains.svc);
      if (owner !== undefined) {
        out.push({ code: 'chain-hash-collision', severity: 'error', message: `${info.name} and ${owner} hash to the same chain ${plan.chains.svc}` });
      }
      hashOwner.set(plan.chains.svc, info.name);
      if (info.service.type === 'LoadBalancer' && info.externalPolicyLocal && info.healthCheckNodePort === 0) {
        out.push({ code: 'no-health-check-node-port', severity: 'warning', message: `${info.name}: LoadBalancer with externalTrafficPolicy Local has no healthCheckNodePort` });
      }
    }
    return out;
  }
}

/** Every service port's rules in the top-level chains, flattened in order, with each port's nat offset. */
interface TopLevelRules {
  readonly filter: readonly AppendCommand[];
  readonly nat: readonly AppendCommand[];
  /** `nat` index of the first top-level nat rule of port i; `natOffsets[refs.length]` = nat.length. */
  readonly natOffsets: Int32Array;
}

function topLevelRules(refs: readonly PortRef[]): TopLevelRules {
  const filter: AppendCommand[] = [];
  const nat: AppendCommand[] = [];
  const natOffsets = new Int32Array(refs.length + 1);
  for (let i = 0; i < refs.length; i++) {
    const piece = refs[i]!.piece;
    natOffsets[i] = nat.length;
    for (const r of piece.rules.filterRules) filter.push(r);
    for (const r of piece.natTop) nat.push(r);
  }
  natOffsets[refs.length] = nat.length;
  return { filter, nat, natOffsets };
}

/**
 * The partial payload kube-proxy writes (every top-level chain, the changed Services' chains), in
 * its buffer order, from the cached top-level rules: unchanged ports' rules are copied as slices,
 * a changed port contributes all its nat rules (its top-level ones are equal to the cached ones).
 */
function assemblePartial(c: CompileContext, refs: readonly PortRef[], top: TopLevelRules, changed: readonly string[], stale: readonly string[]): Ruleset {
  const filter = filterPrologue(c);
  const changedSet = new Set(changed);
  const indices: number[] = [];
  if (changedSet.size > 0) {
    for (let i = 0; i < refs.length; i++) if (changedSet.has(refs[i]!.svcKey)) indices.push(i);
  }
  const natChains: ChainDecl[] = NAT_FIXED_CHAINS.map(chainDecl);
  let natCommands: Command[] = natPrologue(c);
  let from = 0;
  for (const i of indices) {
    const piece = refs[i]!.piece;
    natCommands = natCommands.concat(top.nat.slice(from, top.natOffsets[i]!), piece.rules.natRules);
    from = top.natOffsets[i + 1]!;
    for (const d of piece.chainDecls) natChains.push(d);
  }
  natCommands = natCommands.concat(top.nat.slice(from));
  for (const ch of stale) {
    natChains.push(chainDecl(ch));
    natCommands.push({ kind: 'delete', chain: ch });
  }
  for (const r of nodePortsTail(c)) natCommands.push(r);
  return {
    tables: [
      { name: 'filter', chains: filter.chains.map(chainDecl), commands: ([] as Command[]).concat(filter.head, top.filter, filter.tail) },
      { name: 'nat', chains: natChains, commands: natCommands },
    ],
  };
}

/**
 * The full ruleset in kube-proxy's buffer order (syncProxyRules' "Sync rules", kube-proxy-rules 8.1),
 * with `stale` chains declared and deleted.
 */
function assemble(c: CompileContext, refs: readonly PortRef[], stale: readonly string[]): Ruleset {
  const filter = filterPrologue(c);
  const filterCommands: Command[] = [...filter.head];
  const natChains: ChainDecl[] = NAT_FIXED_CHAINS.map(chainDecl);
  const natCommands: Command[] = natPrologue(c);
  for (const { piece } of refs) {
    for (const r of piece.rules.filterRules) filterCommands.push(r);
    for (const d of piece.chainDecls) natChains.push(d);
    for (const r of piece.rules.natRules) natCommands.push(r);
  }
  for (const r of filter.tail) filterCommands.push(r);
  for (const ch of stale) {
    natChains.push(chainDecl(ch));
    natCommands.push({ kind: 'delete', chain: ch });
  }
  for (const r of nodePortsTail(c)) natCommands.push(r);
  return {
    tables: [
      { name: 'filter', chains: filter.chains.map(chainDecl), commands: filterCommands },
      { name: 'nat', chains: natChains, commands: natCommands },
    ],
  };
}

/**
 * The `when-changed` partial payload: the changed Services' chains, `-X` for stale ones, and only
 * the top-level chains in `top` (`table/chain`), each rewritten whole. Tables with nothing to write
 * are left out.
 */
function assembleMinimal(c: CompileContext, refs: readonly PortRef[], diffs: readonly ReturnType<typeof chainDiff>[], stale: readonly string[], top: ReadonlySet<string>): Ruleset {
  const writes = new Map<PortPiece, { chains: string[]; rules: AppendCommand[] }>();
  for (const d of diffs) for (const [piece, w] of d.write) writes.set(piece, w);
  const filterChains: ChainDecl[] = [];
  const filterCommands: Command[] = [];
  const natChains: ChainDecl[] = [];
  const natCommands: Command[] = [];
  const filterTop = filterPrologue(c).chains.filter((ch) => top.has(`filter/${ch}`));
  const natTop = NAT_FIXED_CHAINS.filter((ch) => top.has(`nat/${ch}`));
  for (const ch of filterTop) filterChains.push(chainDecl(ch));
  for (const ch of natTop) natChains.push(chainDecl(ch));
  const wantFilter = new Set(filterTop);
  const wantNat = new Set(natTop);
  for (const { piece } of refs) {
    if (wantFilter.size > 0) for (const r of piece.rules.filterRules) if (wantFilter.has(r.chain)) filterCommands.push(r);
    if (wantNat.size > 0) for (const r of piece.natTop) if (wantNat.has(r.chain)) natCommands.push(r);
    const w = writes.get(piece);
    if (w) {
      // Only the chains that differ (the Service's unchanged SEP chains stay as the kernel has them).
      for (const ch of w.chains) natChains.push(chainDecl(ch));
      for (const r of w.rules) natCommands.push(r);
    }
  }
  for (const ch of stale) {
    natChains.push(chainDecl(ch));
    natCommands.push({ kind: 'delete', chain: ch });
  }
  if (wantNat.has(KUBE_SERVICES)) for (const r of nodePortsTail(c)) natCommands.push(r);
  const tables: Table[] = [];
  if (filterChains.length > 0) tables.push({ name: 'filter', chains: filterChains, commands: filterCommands });
  if (natChains.length > 0) tables.push({ name: 'nat', chains: natChains, commands: natCommands });
  return { tables };
}
