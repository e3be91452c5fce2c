import { buildContext } from './context.js';
import type { CompileContext } from './context.js';
import type { Diagnostic } from './diagnostics.js';
import { withDerivedEndpointSlices } from './endpointslice-controller.js';
import { buildEndpointsMap, categorizeEndpoints, portKey } from './endpoints.js';
import type { Snapshot } from './model.js';
import type { CompileOptions } from './options.js';
import { planServicePort } from './service-plan.js';
import type { ServicePortPlan } from './service-plan.js';
import { servicePortInfos } from './service-port.js';
import type { ServicePortInfo } from './service-port.js';

/**
 * Every Kubernetes decision of one sync, for one IP family, before any backend's text: the node
 * and configuration facts, and one plan per service port in the canonical order. The iptables
 * rules (rules.ts, compile.ts) are one rendering of it; a second backend renders the same value.
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

/** Service ports of this family in the canonical order: (ServicePortName string, protocol), bytewise. */
export function orderedServicePorts(snapshot: Snapshot, family: CompileContext['family']): ServicePortInfo[] {
  const ports = snapshot.services.flatMap((svc) => servicePortInfos(svc, family));
  return ports.sort((a, b) => compareBytes(a.name, b.name) || compareBytes(a.protocol, b.protocol));
}

/** The decisions of one full sync. Pure: the same snapshot gives the same model whatever its order. */
export function buildModel(input: Snapshot, options: CompileOptions = {}): ProxyModel {
  const diagnostics: Diagnostic[] = [];
  // Services with a selector but no slices of their own get the slices the controller would write.
  const snapshot = input.pods && input.pods.length > 0 ? withDerivedEndpointSlices(input) : input;
  const context = buildContext(snapshot, options, diagnostics);
  const ports = orderedServicePorts(snapshot, context.family);
  const endpointsMap = buildEndpointsMap(snapshot.endpointSlices, context.family, context.nodeName);

  let endpoints = 0;
  const endpointsOf = ports.map((info) => endpointsMap.get(portKey(info.name, info.protocol)) ?? []);
  for (const eps of endpointsOf) endpoints += eps.length;

  const plans: ServicePortPlan[] = [];
  const hashOwner = new Map<string, string>();
  ports.forEach((info, i) => {
    const plan = planServicePort(info, categorizeEndpoints(endpointsOf[i]!, info, context.nodeName, context.zone));
    const owner = hashOwner.get(plan.chains.svc);
    if (owner !== undefined) {
      diagnostics.push({ code: 'chain-hash-collision', severity: 'error', message: `${info.name} and ${owner} hash to the same chain ${plan.chains.svc}` });
    }
    hashOwner.set(plan.chains.svc, info.name);
    if (info.service.type === 'LoadBalancer' && info.externalPolicyLocal && info.healthCheckNodePort === 0) {
      // kube-proxy logs this and goes on without the health-check ACCEPT rule.
      diagnostics.push({ code: 'no-health-check-node-port', severity: 'warning', message: `${info.name}: LoadBalancer with externalTrafficPolicy Local has no healthCheckNodePort` });
    }
    plans.push(plan);
  });
  return { context, plans, endpoints, largeClusterMode: endpoints > context.largeClusterEndpointsThreshold, diagnostics };
}
