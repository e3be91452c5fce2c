import { buildContext } from './context.js';
import type { CompileContext } from './context.js';
import type { Diagnostic } from './diagnostics.js';
import { buildEndpointsMap, categorizeEndpoints, portKey } from './endpoints.js';
import type { EndpointInfo } from './endpoints.js';
import type { SliceSnapshot } from './derive-slices.js';
import type { CompileOptions } from './options.js';
import { planServicePort } from './service-plan.js';
import type { ServicePortPlan } from './service-plan.js';
import { servicePortInfos } from './service-port.js';
import type { ServicePortInfo } from './service-port.js';

/**
 * Every Kubernetes decision of one sync, for one IP family, before any backend's text: the node
 * and configuration facts, and one plan per service port in the canonical order. The iptables
 * rules (iptables/) are one rendering of it; a second backend renders the same value.
 */
export interface ProxyModel {
  readonly context: CompileContext;
  /** Per service port, in output order: (ServicePortName string, protocol), bytewise. */
  readonly plans: readonly ServicePortPlan[];
  /** Endpoints over all service ports (each counted once per port), as kube-proxy counts them. */
  readonly endpoints: number;
  /** kube-proxy's large-cluster mode: more endpoints than the threshold; an input to rendering. */
  readonly largeClusterMode: boolean;
  readonly diagnostics: readonly Diagnostic[];
}

const compareBytes = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The canonical order of service ports: (ServicePortName string, protocol), bytewise. */
export const comparePorts = (a: { readonly name: string; readonly protocol: string }, b: { readonly name: string; readonly protocol: string }): number =>
  compareBytes(a.name, b.name) || compareBytes(a.protocol, b.protocol);

/** Service ports of this family in the canonical order. */
export function orderedServicePorts(snapshot: SliceSnapshot, family: CompileContext['family']): ServicePortInfo[] {
  return snapshot.services.flatMap((svc) => servicePortInfos(svc, family)).sort(comparePorts);
}

/** A service port's endpoints in its Service's endpoints map (buildEndpointsMap, or an index). */
export function endpointsOfPort(map: ReadonlyMap<string, readonly EndpointInfo[]>, info: ServicePortInfo): readonly EndpointInfo[] {
  return map.get(portKey(info.name, info.protocol)) ?? [];
}

/** The decisions for one service port given its endpoints (proxier.go `syncProxyRules`, per port). */
export function planPort(info: ServicePortInfo, endpoints: readonly EndpointInfo[], ctx: CompileContext): ServicePortPlan {
  return planServicePort(info, categorizeEndpoints(endpoints, info, ctx.nodeName, ctx.zone));
}

/** kube-proxy's large-cluster mode for a sync with this many endpoints (proxier.go `syncProxyRules`). */
export function isLargeCluster(endpoints: number, ctx: CompileContext): boolean {
  return endpoints > ctx.largeClusterEndpointsThreshold;
}

/** What the service ports of one sync (in canonical order) have to say: hash collisions, missing health checks. */
export function portDiagnostics(plans: Iterable<ServicePortPlan>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const hashOwner = new Map<string, string>();
  for (const { info, chains } of plans) {
    const owner = hashOwner.get(chains.svc);
    if (owner !== undefined) {
      out.push({ code: 'chain-hash-collision', severity: 'error', message: `${info.name} and ${owner} hash to the same chain ${chains.svc}` });
    }
    hashOwner.set(chains.svc, info.name);
    if (info.service.type === 'LoadBalancer' && info.externalPolicyLocal && info.healthCheckNodePort === 0) {
      // kube-proxy logs this and goes on without the health-check ACCEPT rule.
      out.push({ code: 'no-health-check-node-port', severity: 'warning', message: `${info.name}: LoadBalancer with externalTrafficPolicy Local has no healthCheckNodePort` });
    }
  }
  return out;
}

/**
 * The decisions of one full sync over a snapshot whose endpoints are EndpointSlices only (run
 * `deriveSlices` first when it holds Pods). Pure: the same snapshot gives the same model whatever
 * its order.
 */
export function buildModel(snapshot: SliceSnapshot, options: CompileOptions = {}): ProxyModel {
  const diagnostics: Diagnostic[] = [];
  const context = buildContext(snapshot, options, diagnostics);
  const ports = orderedServicePorts(snapshot, context.family);
  const endpointsMap = buildEndpointsMap(snapshot.endpointSlices, context.family, context.nodeName);
  let endpoints = 0;
  const plans = ports.map((info) => {
    const eps = endpointsOfPort(endpointsMap, info);
    endpoints += eps.length;
    return planPort(info, eps, context);
  });
  for (const d of portDiagnostics(plans)) diagnostics.push(d);
  return { context, plans, endpoints, largeClusterMode: isLargeCluster(endpoints, context), diagnostics };
}
