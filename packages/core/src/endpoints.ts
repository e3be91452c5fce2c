import type { EndpointSlice, IPFamily } from './model.js';
import { joinHostPort } from './ip.js';
import { hasProxySkipLabel, proxySkipLabel, servicePortNameString } from './service-port.js';
import type { ServicePortInfo } from './service-port.js';

/** One endpoint of one service port, as kube-proxy's endpoint cache holds it. */
export interface EndpointInfo {
  readonly ip: string;
  readonly port: number;
  /** `ip:port` / `[ip]:port`: the sort key and the SEP hash input. */
  readonly endpoint: string;
  readonly isLocal: boolean;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly zoneHints: ReadonlySet<string> | null;
  readonly nodeHints: ReadonlySet<string> | null;
}

/** Key of a service port in the endpoints map: the name string plus the protocol (both must match). */
export const portKey = (name: string, protocol: string) => `${name}\u0000${protocol}`;

const setOrNull = (xs: readonly string[] | undefined) => (xs && xs.length > 0 ? new Set(xs) : null);

/** Whether kube-proxy reads this slice for `family` at all. */
export function sliceInScope(slice: EndpointSlice, family: IPFamily): boolean {
  return slice.addressType === family && slice.serviceName !== '' && !hasProxySkipLabel(slice.labels);
}

/**
 * Why kube-proxy would not read a slice at all (`services`: the input's `ns/name`s), or undefined.
 * The reasons behind `sliceInScope`, for reporting; a slice of the other family is not ignored.
 */
export function sliceSkipReason(slice: EndpointSlice, services: ReadonlySet<string>): string | undefined {
  if (slice.addressType === 'FQDN') return 'addressType FQDN (kube-proxy reads only IPv4 and IPv6 slices)';
  if (slice.serviceName === '') return 'no kubernetes.io/service-name label (kube-proxy cannot tell its Service)';
  const label = proxySkipLabel(slice.labels);
  if (label !== undefined) return `labelled ${label} (kube-proxy does not watch it)`;
  if (!services.has(`${slice.namespace}/${slice.serviceName}`)) return `no Service ${slice.namespace}/${slice.serviceName} in the input`;
  return undefined;
}

/**
 * One slice's endpoints per service port (portKey -> endpoints in slice order), as kube-proxy's
 * endpoint cache reads them: only `addresses[0]`; ports without a name, or with no port, skipped.
 */
export function sliceEndpoints(slice: EndpointSlice, nodeName: string): Map<string, EndpointInfo[]> {
  const out = new Map<string, EndpointInfo[]>();
  for (const p of slice.ports) {
    if (p.name === null || p.port === null || p.port === 0) continue;
    const key = portKey(servicePortNameString(slice.namespace, slice.serviceName, p.name), p.protocol.toLowerCase());
    let list = out.get(key);
    if (!list) out.set(key, (list = []));
    for (const ep of slice.endpoints) {
      const ip = ep.addresses[0];
      if (ip === undefined) continue;
      list.push({
        ip,
        port: p.port,
        endpoint: joinHostPort(ip, p.port),
        isLocal: nodeName !== '' && ep.nodeName === nodeName,
        ready: ep.ready ?? true,
        serving: ep.serving ?? true,
        terminating: ep.terminating ?? false,
        zoneHints: setOrNull(ep.zoneHints),
        nodeHints: setOrNull(ep.nodeHints),
      });
    }
  }
  return out;
}

/** Slices in the order kube-proxy's cache visits them: (namespace, name); stable otherwise. */
export const compareSlices = (a: EndpointSlice, b: EndpointSlice): number =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

export const compareEndpoints = (a: EndpointInfo, b: EndpointInfo): number => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0);

/** De-duplication across slices (endpointslicecache.go): a later non-terminating copy wins, else the first. */
export const wins = (prev: EndpointInfo | undefined, next: EndpointInfo): boolean => prev === undefined || !next.terminating;

/**
 * Endpoints per service port for one family (endpointslicecache.go): endpoints de-duplicated by
 * `ip:port` across the Service's slices, sorted bytewise. Slices are visited in (namespace, name)
 * order so the result does not depend on input order.
 */
export function buildEndpointsMap(slices: readonly EndpointSlice[], family: IPFamily, nodeName: string): Map<string, EndpointInfo[]> {
  const byKey = new Map<string, Map<string, EndpointInfo>>();
  const sorted = slices.filter((s) => sliceInScope(s, family)).sort(compareSlices);
  for (const slice of sorted) {
    for (const [key, list] of sliceEndpoints(slice, nodeName)) {
      let eps = byKey.get(key);
      if (!eps) byKey.set(key, (eps = new Map()));
      for (const info of list) if (wins(eps.get(info.endpoint), info)) eps.set(info.endpoint, info);
    }
  }
  const out = new Map<string, EndpointInfo[]>();
  for (const [key, eps] of byKey) out.set(key, [...eps.values()].sort(compareEndpoints));
  return out;
}

export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

/** topology.go `topologyModeFromHints` (PreferSameTrafficDistribution is GA: node hints always read). */
export function topologyModeFromHints(endpoints: readonly EndpointInfo[], nodeName: string, zone: string): TopologyMode {
  let hasEndpointForNode = false;
  let allHaveNodeHints = true;
  let hasEndpointForZone = false;
  let allHaveZoneHints = true;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    if (ep.zoneHints === null) allHaveZoneHints = false;
    else if (ep.zoneHints.has(zone)) hasEndpointForZone = true;
    if (ep.nodeHints === null) allHaveNodeHints = false;
    else if (ep.nodeHints.has(nodeName)) hasEndpointForNode = true;
    // A ready endpoint without either hint decides it (no mode): no walk over the other 100k.
    if (!allHaveNodeHints && !allHaveZoneHints) return '';
  }
  if (allHaveNodeHints && hasEndpointForNode) return 'PreferSameNode';
  if (allHaveZoneHints && hasEndpointForZone) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: EndpointInfo, mode: TopologyMode, nodeName: string, zone: string): boolean {
  if (mode === 'PreferSameNode') return ep.nodeHints?.has(nodeName) ?? false;
  if (mode === 'PreferSameZone') return ep.zoneHints?.has(zone) ?? false;
  return true;
}

export interface CategorizedEndpoints {
  /** Endpoints of the cluster policy chain (KUBE-SVC), or empty when the service does not use it. */
  readonly cluster: readonly EndpointInfo[];
  /** Endpoints of the local policy chain (KUBE-SVL). */
  readonly local: readonly EndpointInfo[];
  /** Every endpoint some chain can reach: these get KUBE-SEP chains. */
  readonly allReachable: readonly EndpointInfo[];
  /** Any usable endpoint anywhere (REJECT vs DROP). */
  readonly hasAny: boolean;
}

/**
 * `endpoints.filter(keep)`, as a plain copy when every endpoint is kept (the common case: a copy
 * is one allocation, a filter of 100k endpoints grows its result again and again).
 */
function filterAll(endpoints: readonly EndpointInfo[], keep: (ep: EndpointInfo) => boolean): EndpointInfo[] {
  let i = 0;
  while (i < endpoints.length && keep(endpoints[i]!)) i++;
  if (i === endpoints.length) return endpoints.slice();
  const out = endpoints.slice(0, i);
  for (i++; i < endpoints.length; i++) if (keep(endpoints[i]!)) out.push(endpoints[i]!);
  return out;
}

/** topology.go `CategorizeEndpoints`, including the serving-terminating fallbacks. */
export function categorizeEndpoints(
  endpoints: readonly EndpointInfo[],
  svc: ServicePortInfo,
  nodeName: string,
  zone: string,
): CategorizedEndpoints {
  if (endpoints.length === 0) return { cluster: [], local: [], allReachable: [], hasAny: false };
  let cluster: EndpointInfo[] = [];
  let hasAny = false;
  let mode: TopologyMode = '';
  if (svc.usesClusterEndpoints) {
    mode = topologyModeFromHints(endpoints, nodeName, zone);
    cluster = filterAll(endpoints, (ep) => ep.ready && availableForTopology(ep, mode, nodeName, zone));
    if (cluster.length === 0) cluster = endpoints.filter((ep) => ep.serving && ep.terminating);
    hasAny = cluster.length > 0;
  }
  if (!svc.usesLocalEndpoints) return { cluster, local: [], allReachable: cluster, hasAny };

  let hasLocalReady = false;
  let hasLocalServingTerminating = false;
  for (const ep of endpoints) {
    if (ep.ready) {
      hasAny = true;
      if (ep.isLocal) hasLocalReady = true;
    } else if (ep.serving && ep.terminating) {
      hasAny = true;
      if (ep.isLocal) hasLocalServingTerminating = true;
    }
  }
  let local: EndpointInfo[] = [];
  let useServingTerminating = false;
  if (hasLocalReady) local = endpoints.filter((ep) => ep.isLocal && ep.ready);
  else if (hasLocalServingTerminating) {
    useServingTerminating = true;
    local = endpoints.filter((ep) => ep.isLocal && ep.serving && ep.terminating);
  }
  if (!svc.usesClusterEndpoints) return { cluster, local, allReachable: local, hasAny };
  if (mode === '' && !useServingTerminating) return { cluster, local, allReachable: cluster, hasAny };
  // Union of both; kube-proxy's order here is Go map order, ours is the sorted endpoint order.
  const seen = new Set(cluster.map((ep) => ep.endpoint));
  const union = [...cluster, ...local.filter((ep) => !seen.has(ep.endpoint))];
  union.sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  return { cluster, local, allReachable: union, hasAny };
}
