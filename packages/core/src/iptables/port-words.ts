import { MAX_COMMENT_LENGTH, chainNameProblem, wordProblem } from '@svcrules/iptables';
import type { CompileContext } from '../context.js';
import type { EndpointInfo } from '../endpoints.js';
import type { ServicePortPlan } from '../service-plan.js';

/**
 * The longest fixed text a service port's comment adds to its name (`other traffic to NAME will
 * be dropped by KUBE-PROXY-FIREWALL` adds 56; `NAME traffic not accepted by KUBE-FW-…` 49), with room.
 */
const COMMENT_SLACK = 64;
/** ` -> ` between the name and the endpoint in a policy chain's comments. */
const ARROW = 4;

/**
 * True when every word that varies in a service port's rules (serviceRules) is one words.ts
 * accepts: the port's name, protocol, numbers, addresses, source ranges, chain names, filter
 * comments and targets, the local detector's words and every endpoint, with each comment built
 * from them within MAX_COMMENT_LENGTH. Everything else in those rules is a constant. Then the rules
 * are built with `vettedAppend` and the renderer does not check their words again; when false
 * (input the snapshot loader refuses, a model built by other code), they are built with `append`
 * and the renderer checks them word by word as before, so output and errors are the same either way.
 */
export function portWordsSafe(plan: ServicePortPlan, ctx: CompileContext): boolean {
  const { info, chains } = plan;
  const name = info.name;
  if (wordProblem(name) !== undefined || name.length > MAX_COMMENT_LENGTH - COMMENT_SLACK) return false;
  const words = [info.protocol, info.clusterIP, String(info.port.port), String(info.port.nodePort), String(info.healthCheckNodePort), String(info.stickyMaxAgeSeconds)];
  words.push(...info.externalIPs, ...info.loadBalancerVIPs, ...info.sourceRanges, plan.internalFilter.target, plan.externalFilter.target);
  if (ctx.localDetector) words.push(...ctx.localDetector.ifLocal, ...ctx.localDetector.ifNotLocal);
  for (const w of words) if (wordProblem(w) !== undefined) return false;
  for (const c of [plan.internalFilter.comment, plan.externalFilter.comment]) if (wordProblem(c, true) !== undefined) return false;
  for (const c of [chains.svc, chains.svl, chains.ext, chains.fw, plan.internalTrafficChain, plan.externalPolicyChain, plan.loadBalancerTrafficChain]) {
    if (chainNameProblem(c) !== undefined) return false;
  }
  const { allReachable, cluster, local } = plan.endpoints;
  return endpointsSafe(allReachable, name) && (cluster === allReachable || endpointsSafe(cluster, name)) && (local === allReachable || endpointsSafe(local, name));
}

/** Each endpoint's address and `ip:port` are words, and `NAME -> ip:port` fits in a comment. */
function endpointsSafe(endpoints: readonly EndpointInfo[], name: string): boolean {
  const room = MAX_COMMENT_LENGTH - ARROW - name.length;
  for (const ep of endpoints) {
    if (ep.endpoint.length > room || wordProblem(ep.ip) !== undefined || wordProblem(ep.endpoint) !== undefined) return false;
  }
  return true;
}
