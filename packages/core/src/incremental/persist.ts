/**
 * What a sync compiled, per Service, in a form a later process can keep (the incremental store of
 * `svcrules apply --state`, persisted beside the applier's state): each Service's endpoint count
 * (kube-proxy's large-cluster mode counts them over all Services), its rules in the top-level
 * chains, and the nat chains it owns. A later run compiles only the Services whose input changed
 * (`compileRecorded` of a snapshot holding just them, with the large-cluster mode the whole
 * snapshot has) and trusts the rest to be what was applied.
 *
 * Why compiling a subset is exact: a service port's rules depend only on the port, its Service's
 * endpoints, the CompileContext and the large-cluster mode (proxier.go `syncProxyRules` builds each
 * port's chains in its own loop iteration); what ties the ports together is the top-level chains
 * (whose per-Service parts are recorded here so the caller can tell whether they changed), the
 * endpoint total (recorded) and chain-name hash collisions (the caller compares chain owners).
 */
import type { AppendCommand } from '@svcrules/iptables';
import { buildContext } from '../context.js';
import type { CompileContext } from '../context.js';
import type { Diagnostic } from '../diagnostics.js';
import { deriveSlices } from '../derive-slices.js';
import { buildEndpointsMap } from '../endpoints.js';
import type { Snapshot } from '../model.js';
import type { CompileOptions } from '../options.js';
import { endpointsOfPort, isLargeCluster, orderedServicePorts, planPort, portDiagnostics } from '../proxy-model.js';
import { renderIptables } from '../iptables/render-model.js';
import type { CompileResult } from '../iptables/render-model.js';
import { nsKey } from './store.js';

/** One Service's share of a compiled ruleset (all its ports of this family, in canonical order). */
export interface ServiceOutput {
  /** Endpoints of its ports before categorizing, each counted once per port (large-cluster mode's count). */
  readonly endpoints: number;
  /** Its rules in the top-level chains of filter (KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, ...) and nat (KUBE-SERVICES, KUBE-NODEPORTS), in order. */
  readonly filterTop: readonly AppendCommand[];
  readonly natTop: readonly AppendCommand[];
  /** The nat chains it owns (SVC, SVL, EXT, FW, SEP). */
  readonly natChains: readonly string[];
}

export interface RecordedCompile {
  /** What `compile()` returns for the same snapshot and options (same ruleset, byte for byte). */
  readonly result: CompileResult;
  /** Per Service (`namespace/name`) with a port of this family. */
  readonly services: ReadonlyMap<string, ServiceOutput>;
}

/**
 * `compile()` that also says what each Service compiled to. `largeClusterMode`, when given, decides
 * the mode from this snapshot's endpoint count instead of the threshold alone: a subset of the
 * Services is rendered in the mode of the whole snapshot it was taken from.
 */
export function compileRecorded(input: Snapshot, options: CompileOptions = {}, largeClusterMode?: (endpoints: number, ctx: CompileContext) => boolean): RecordedCompile {
  const snapshot = deriveSlices(input);
  const diagnostics: Diagnostic[] = [];
  const context = buildContext(snapshot, options, diagnostics);
  const ports = orderedServicePorts(snapshot, context.family);
  const endpointsMap = buildEndpointsMap(snapshot.endpointSlices, context.family, context.nodeName);
  const counts: number[] = [];
  let endpoints = 0;
  const plans = ports.map((info) => {
    const eps = endpointsOfPort(endpointsMap, info);
    counts.push(eps.length);
    endpoints += eps.length;
    return planPort(info, eps, context);
  });
  for (const d of portDiagnostics(plans)) diagnostics.push(d);
  const mode = largeClusterMode ? largeClusterMode(endpoints, context) : isLargeCluster(endpoints, context);
  const result = renderIptables({ context, plans, endpoints, largeClusterMode: mode, diagnostics }, options);

  const services = new Map<string, { endpoints: number; filterTop: AppendCommand[]; natTop: AppendCommand[]; natChains: string[] }>();
  plans.forEach((plan, i) => {
    const key = nsKey(plan.info.service.namespace, plan.info.service.name);
    let s = services.get(key);
    if (!s) services.set(key, (s = { endpoints: 0, filterTop: [], natTop: [], natChains: [] }));
    const rules = result.serviceRules[i]!;
    s.endpoints += counts[i]!;
    for (const r of rules.filterRules) s.filterTop.push(r);
    for (let j = 0; j < rules.topEnd; j++) s.natTop.push(rules.natRules[j]!);
    for (const c of rules.natChains) s.natChains.push(c);
  });
  return { result, services };
}
