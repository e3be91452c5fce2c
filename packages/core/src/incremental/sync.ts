import type { Ruleset } from '@svcrules/iptables';
import { buildContext } from '../context.js';
import type { CompileContext } from '../context.js';
import type { Diagnostic } from '../diagnostics.js';
import { buildEndpointsMap } from '../endpoints.js';
import type { EndpointInfo } from '../endpoints.js';
import type { IncrementalCompiler, IncrementalOptions, IncrementalResult } from '../incremental.js';
import { assembleMinimal, assemblePartial, assembleRuleset, topLevelRules } from '../iptables/assemble.js';
import type { ChainWrite, RenderedPort, TopLevelRules } from '../iptables/assemble.js';
import { fixedCounts } from '../iptables/fixed-rules.js';
import type { CompileStats } from '../iptables/render-model.js';
import { isLargeCluster, portDiagnostics } from '../proxy-model.js';
import { servicePortInfos } from '../service-port.js';
import { chainDiff, chainsOf, changedTopChains, sameChains } from './chain-diff.js';
import type { ChainDiff } from './chain-diff.js';
import { CompiledState, planService, renderService, replanned } from './compiled-state.js';
import type { PlannedService, ServiceEntry } from './compiled-state.js';
import { ObjectStore } from './store.js';
import { StaleChainTracker } from './stale-chains.js';

const compareBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * One sync: plan the Services that changed (all of them on a full rebuild), compute large-cluster
 * mode from the endpoint counts, render with it, then diff, track stale chains and assemble.
 */
export function createIncrementalCompiler(options: IncrementalOptions = {}): IncrementalCompiler {
  const family = options.family ?? 'IPv4';
  const { existingNatChains, topLevelChains = 'always', ...compileOptions } = options;
  const store = new ObjectStore(family);
  const state = new CompiledState();
  const stale = new StaleChainTracker(existingNatChains);
  let ctx: CompileContext | undefined;
  let ctxKey = '';
  let needFullSync: 'first-sync' | 'requested' | undefined = 'first-sync';
  /**
   * The top-level rules of all service ports in order (what every partial payload rewrites), kept
   * while no Service's top-level rules change: an endpoint change then costs two array copies.
   */
  let topCache: TopLevelRules | undefined;

  /** The Service planned over `endpointsMap` (undefined: no port of this family). */
  function plan(key: string, c: CompileContext, endpointsOf: () => ReadonlyMap<string, readonly EndpointInfo[]>): PlannedService | undefined {
    const svc = store.service(key);
    const infos = svc ? servicePortInfos(svc, family) : [];
    return infos.length === 0 ? undefined : planService(key, infos, endpointsOf(), c);
  }

  /**
   * Every Service from scratch (first sync, context change). Returns the previous entry of every
   * Service of either state (undefined for a new one).
   */
  function rebuildAll(c: CompileContext): Map<string, ServiceEntry | undefined> {
    const before = new Map<string, ServiceEntry | undefined>();
    for (const k of state.keys()) before.set(k, state.get(k));
    store.resetIndexes();
    store.takeDirty();
    const planned: PlannedService[] = [];
    let endpoints = 0;
    for (const key of store.serviceKeys()) {
      const p = plan(key, c, () => buildEndpointsMap(store.slicesOf(key), family, c.nodeName));
      if (!p) continue;
      planned.push(p);
      endpoints += p.endpoints;
    }
    const mode = isLargeCluster(endpoints, c);
    state.clear();
    state.fill(planned.map((p) => renderService(p, c, mode)));
    state.largeClusterMode = mode;
    for (const k of state.keys()) if (!before.has(k)) before.set(k, undefined);
    return before;
  }

  /** The touched Services again, all of them when large-cluster mode flips; their previous entries. */
  function updateDirty(c: CompileContext): Map<string, ServiceEntry | undefined> {
    const before = new Map<string, ServiceEntry | undefined>();
    const planned = new Map<string, PlannedService | undefined>();
    let endpoints = state.endpoints;
    for (const [key, rebuildEndpoints] of store.takeDirty()) {
      const old = state.get(key);
      const p = plan(key, c, () => (!rebuildEndpoints && old ? old.endpointsMap : store.indexedEndpoints(key, c.nodeName)));
      planned.set(key, p);
      endpoints += (p?.endpoints ?? 0) - (old?.endpoints ?? 0);
    }
    const mode = isLargeCluster(endpoints, c);
    if (mode !== state.largeClusterMode) {
      // Large-cluster mode changes every SEP/ladder rule's comments: all Services are rendered again.
      for (const e of state.values()) if (!planned.has(e.key)) planned.set(e.key, replanned(e));
    }
    for (const [key, p] of planned) {
      const old = state.get(key);
      before.set(key, old);
      state.set(key, p ? renderService(p, c, mode, old) : undefined);
    }
    state.largeClusterMode = mode;
    return before;
  }

  function sync(): IncrementalResult {
    const diagnostics: Diagnostic[] = [];
    const c = buildContext(store.contextInput(), compileOptions, diagnostics);
    const key = JSON.stringify(c);
    const contextChanged = ctx !== undefined && key !== ctxKey;
    const fullSyncReason: IncrementalResult['fullSyncReason'] = needFullSync ?? (contextChanged ? 'context-changed' : undefined);
    const before = ctx === undefined || contextChanged ? rebuildAll(c) : updateDirty(c);
    ctx = c;
    ctxKey = key;
    needFullSync = undefined;

    const changed: string[] = [];
    for (const [k, old] of before) if (!sameChains(old, state.get(k))) changed.push(k);
    changed.sort(compareBytes);

    // Chains that go away: all not needed for a full sync, the changed Services' old ones otherwise.
    let staleChains: string[];
    const diffs: ChainDiff[] = [];
    if (fullSyncReason !== undefined) {
      const active = new Set<string>();
      for (const e of state.values()) for (const ch of chainsOf(e)) active.add(ch);
      staleChains = stale.fullSync(active);
    } else {
      // The chains the changed Services no longer have (unchanged chains were written before).
      const written = new Set<string>();
      const gone: string[] = [];
      for (const k of changed) {
        const d = chainDiff(before.get(k), state.get(k));
        diffs.push(d);
        for (const w of d.write.values()) for (const ch of w.chains) written.add(ch);
        for (const ch of d.removed) gone.push(ch);
      }
      staleChains = stale.partialSync(written, gone);
    }

    const ports = state.ports.slice();
    const topChanged = fullSyncReason !== undefined ? undefined : changedTopChains(before, (k) => state.get(k));
    if (topChanged === undefined || topChanged.size > 0) topCache = undefined;
    let payload: Ruleset;
    if (fullSyncReason !== undefined || topChanged === undefined) payload = assembleRuleset(c, ports, staleChains);
    else if (topLevelChains === 'always') {
      const changedSet = new Set(changed);
      const indices: number[] = [];
      if (changedSet.size > 0) ports.forEach((p, i) => changedSet.has(p.svcKey) && indices.push(i));
      payload = assemblePartial(c, ports, (topCache ??= topLevelRules(ports)), indices, staleChains);
    } else {
      const writes = new Map<RenderedPort, ChainWrite>();
      for (const d of diffs) for (const [piece, w] of d.write) writes.set(piece, w);
      payload = assembleMinimal(c, ports, writes, staleChains, topChanged);
    }
    let ruleset: Ruleset | undefined = fullSyncReason !== undefined && staleChains.length === 0 ? payload : undefined;
    let allDiagnostics: Diagnostic[] | undefined;
    const fixed = fixedCounts(c);
    const stats: CompileStats = {
      servicePorts: ports.length,
      endpoints: state.endpoints,
      largeClusterMode: state.largeClusterMode,
      filterRules: state.filterRules + fixed.filterRules,
      natRules: state.natRules + fixed.natRules,
      natChains: state.natChains + fixed.natChains,
    };
    return {
      sync: fullSyncReason !== undefined ? 'full' : 'partial',
      ...(fullSyncReason !== undefined ? { fullSyncReason } : {}),
      get ruleset() {
        return (ruleset ??= assembleRuleset(c, ports, []));
      },
      payload,
      changedServices: changed,
      staleChains,
      get diagnostics() {
        return (allDiagnostics ??= [...diagnostics, ...portDiagnostics(ports.map((p) => p.plan))]);
      },
      stats,
    };
  }

  return {
    update(changes) {
      store.apply(changes);
      return sync();
    },
    replace(snapshot) {
      store.replace(snapshot);
      return sync();
    },
    requestFullSync(hostNatChains) {
      needFullSync = 'requested';
      stale.reset(hostNatChains);
    },
    snapshot: () => store.snapshot(),
  };
}
