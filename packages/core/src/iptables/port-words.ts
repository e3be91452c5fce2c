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
 * are built with `vettedAppend` or `templateRule` and the renderer does not check their words
 * again; when false (input the snapshot loader refuses, a model built by other code), they are
 * built with `append` and the renderer checks them word by word as before, so output and errors
 * are the same either way.
 * `knownSafe[i] >= 0`: endpoint i of `allReachable` passed this check under the same name before
 * (in an earlier version of the port, reused by the incremental compiler): it is not checked again.
 */
export function portWordsSafe(plan: ServicePortPlan, ctx: CompileContext, knownSafe?: Int32Array): boolean {
  const { info, chains } = plan;
  const name = info.name;
  if (!safe(name) || name.length > MAX_COMMENT_LENGTH - COMMENT_SLACK) return false;
  if (!safe(info.protocol) || !safe(info.clusterIP) || !safe(plan.internalFilter.target) || !safe(plan.externalFilter.target)) return false;
  // Numbers print as digits (or NaN, Infinity, 1e+21): safe; anything else passed as one is checked.
  for (const n of [info.port.port, info.port.nodePort, info.healthCheckNodePort, info.stickyMaxAgeSeconds] as unknown[]) {
    if (typeof n !== 'number' && !safe(String(n))) return false;
  }
  if (!allSafe(info.externalIPs) || !allSafe(info.loadBalancerVIPs) || !allSafe(info.sourceRanges)) return false;
  if (ctx.localDetector && !(allSafe(ctx.localDetector.ifLocal) && allSafe(ctx.localDetector.ifNotLocal))) return false;
  if (wordProblem(plan.internalFilter.comment, true) !== undefined || wordProblem(plan.externalFilter.comment, true) !== undefined) return false;
  const { svc, svl, ext, fw } = chains;
  if (!chainSafe(svc) || !chainSafe(svl) || !chainSafe(ext) || !chainSafe(fw)) return false;
  // The plan's other chains are these (core's plans), so their names were just checked.
  const own = (c: string) => c === svc || c === svl || c === ext || c === fw || chainSafe(c);
  if (!own(plan.internalTrafficChain) || !own(plan.externalPolicyChain) || !own(plan.loadBalancerTrafficChain)) return false;
  const { allReachable, cluster, local } = plan.endpoints;
  return endpointsSafe(knownSafe ? unknown(allReachable, knownSafe) : allReachable, name) && (cluster === allReachable || endpointsSafe(cluster, name)) && (local === allReachable || endpointsSafe(local, name));
}

const safe = (w: string): boolean => wordProblem(w) === undefined;
const chainSafe = (c: string): boolean => chainNameProblem(c) === undefined;
function allSafe(words: readonly string[]): boolean {
  for (const w of words) if (!safe(w)) return false;
  return true;
}

function unknown(endpoints: readonly EndpointInfo[], knownSafe: Int32Array): EndpointInfo[] {
  const out: EndpointInfo[] = [];
  for (let i = 0; i < endpoints.length; i++) if ((knownSafe[i] ?? -1) < 0) out.push(endpoints[i]!);
  return out;
}

/** Each endpoint's address and `ip:port` are words, and `NAME -> ip:port` fits in a comment. */
function endpointsSafe(endpoints: readonly EndpointInfo[], name: string): boolean {
  const room = MAX_COMMENT_LENGTH - ARROW - name.length;
  for (const ep of endpoints) if (ep.endpoint.length > room || !safe(ep.endpoint) || !(ipInEndpoint(ep) || safe(ep.ip))) return false;
  return true;
}

/** The address is part of the `ip:port` (`[ip]:port`) just checked, so its characters are too. */
function ipInEndpoint({ ip, endpoint }: EndpointInfo): boolean {
  return typeof ip === 'string' && ip.length > 0 && endpoint.startsWith(ip, endpoint.charCodeAt(0) === 0x5b ? 1 : 0);
}
