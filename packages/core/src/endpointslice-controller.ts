import { createHash } from 'node:crypto';
import type { Endpoint, EndpointSlice, EndpointSlicePort, IPFamily, NodeInfo, Pod, Service, ServicePort, Snapshot } from './model.js';
import { canonicalIP, ipFamilyOf } from './ip.js';

/**
 * The Kubernetes EndpointSlice controller, reduced to a pure function: Services with a selector and
 * the Pods they select become EndpointSlices, as `kube-controller-manager` would write them.
 * Follows k8s.io/endpointslice (reconciler.go `reconcileByAddressType`, utils.go `podToEndpoint`,
 * `getEndpointPorts`, `FindPort`, `getAddressTypesForService`, `setEndpointSliceLabels`;
 * util/controller_utils.go `ShouldPodBeInEndpoints`) and endpointslice_controller.go `syncService`.
 *
 * Where the controller is random (generateName suffixes, Go map order when filling slices, the
 * port order it gets from hashing), this module is deterministic instead:
 * - names are `<service>-` (cut to 58 characters, as generateName does) plus 5 characters of the
 *   generateName alphabet taken from sha256(namespace/service, addressType, ports, chunk);
 * - endpoints are sorted by address (bytewise, as kube-proxy sorts) then by Pod namespace/name,
 *   and cut into slices of at most 100 (the controller's default --max-endpoints-per-slice);
 * - slice ports keep the Service's port order.
 */

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
export const ENDPOINTSLICE_CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
/** kube-controller-manager's default `--max-endpoints-per-slice`. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** The Pod an endpoint was derived from (the controller's `targetRef`). */
export interface PodRef {
  readonly kind: 'Pod';
  readonly namespace: string;
  readonly name: string;
}

export interface DerivedEndpoint extends Endpoint {
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly targetRef: PodRef;
}

export interface DerivedEndpointSlice extends EndpointSlice {
  readonly addressType: IPFamily;
  readonly endpoints: readonly DerivedEndpoint[];
}

/** `labels.Set(selector).AsSelector().Matches(labels)`: every selector pair present with the same value. */
export function selectorMatches(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v);
}

/**
 * Whether the controller manages this Service's slices: not ExternalName and a selector. An empty
 * selector counts as none: the API server stores `selector: {}` as nil (protobuf drops empty maps).
 */
export function hasControllerManagedSlices(service: Service): boolean {
  return service.type !== 'ExternalName' && service.selector !== undefined && Object.keys(service.selector).length > 0;
}

/** `ShouldPodBeInEndpoints(pod, includeTerminating=true)`: not Succeeded/Failed and has an IP. */
export function shouldPodBeInEndpoints(pod: Pod): boolean {
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return false;
  return pod.podIPs.length > 0;
}

/**
 * `FindPort`: a numeric targetPort is used as is (unset, 0 and `''` default to `port`, as API
 * defaulting does); a named one is looked up by name AND protocol in the Pod's container ports, first
 * match wins. `null` when the Pod has no such port: the endpoint then lacks this port.
 */
export function findPort(pod: Pod, servicePort: ServicePort): number | null {
  const target = servicePort.targetPort;
  if (target === undefined || target === 0 || target === '') return servicePort.port;
  if (typeof target === 'number') return target;
  const found = pod.containerPorts.find((p) => p.name === target && p.protocol === servicePort.protocol);
  return found ? found.containerPort : null;
}

/** `getEndpointPorts`: the Service's ports this Pod serves, in spec order. */
export function endpointPorts(service: Service, pod: Pod): EndpointSlicePort[] {
  const out: EndpointSlicePort[] = [];
  for (const sp of service.ports) {
    const port = findPort(pod, sp);
    if (port !== null) out.push({ name: sp.name, port, protocol: sp.protocol });
  }
  return out;
}

/**
 * `getAddressTypesForService`: the Service's ipFamilies; without them (version skew) the family of
 * a set clusterIP; a Service with neither gets both families.
 */
export function serviceAddressTypes(service: Service): IPFamily[] {
  if (service.ipFamilies.length > 0) return [...new Set(service.ipFamilies)];
  if (service.clusterIP !== '' && service.clusterIP !== 'None') {
    return [ipFamilyOf(service.clusterIP) === 'IPv6' ? 'IPv6' : 'IPv4'];
  }
  return ['IPv4', 'IPv6'];
}

/**
 * `podToEndpoint`: serving = the Ready condition; terminating = deletionTimestamp set; ready =
 * publishNotReadyAddresses || (serving && !terminating). Addresses are the Pod IPs of `family`.
 */
export function podToEndpoint(pod: Pod, node: NodeInfo | undefined, service: Service, family: IPFamily): DerivedEndpoint {
  const serving = pod.ready;
  const terminating = pod.terminating;
  const ready = service.publishNotReadyAddresses === true || (serving && !terminating);
  const addresses: string[] = [];
  for (const ip of pod.podIPs) {
    const canonical = canonicalIP(ip);
    if (canonical !== null && ipFamilyOf(canonical) === family) addresses.push(canonical);
  }
  const zone = node?.labels[LABEL_TOPOLOGY_ZONE];
  return {
    addresses,
    ready,
    serving,
    terminating,
    ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
    ...(zone ? { zone } : {}),
    targetRef: { kind: 'Pod', namespace: pod.namespace, name: pod.name },
  };
}

/**
 * `setEndpointSliceLabels`: the Service's labels minus the reserved ones, the headless label for
 * `clusterIP: None`, then service-name and managed-by. A clusterIP that is unset (`''`, a manifest
 * before the API server allocates one) is not treated as headless.
 */
export function sliceLabels(service: Service): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(service.labels)) {
    if (k === LABEL_SERVICE_NAME || k === LABEL_MANAGED_BY || k === LABEL_HEADLESS) continue;
    labels[k] = v;
  }
  if (service.clusterIP === 'None') labels[LABEL_HEADLESS] = '';
  labels[LABEL_SERVICE_NAME] = service.name;
  labels[LABEL_MANAGED_BY] = ENDPOINTSLICE_CONTROLLER_NAME;
  return labels;
}

/** Go's string `<` (bytewise); our strings are ASCII, where UTF-16 order is the same. */
function goLess(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareEndpoints(a: DerivedEndpoint, b: DerivedEndpoint): number {
  return (
    goLess(a.addresses[0] ?? '', b.addresses[0] ?? '') ||
    goLess(a.addresses.join(','), b.addresses.join(',')) ||
    goLess(a.targetRef.namespace, b.targetRef.namespace) ||
    goLess(a.targetRef.name, b.targetRef.name)
  );
}

/** generateName's suffix alphabet (k8s.io/apimachinery/pkg/util/rand: no vowels). */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
/** generateName keeps at most 63 - 5 characters of the prefix. */
const MAX_GENERATED_PREFIX = 58;

function nameSuffix(seed: string): string {
  const digest = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < 5; i++) out += NAME_ALPHABET[digest[i]! % NAME_ALPHABET.length];
  return out;
}

function portMapKey(ports: readonly EndpointSlicePort[]): string {
  return ports.map((p) => `${p.name ?? ''}/${p.protocol}/${p.port ?? ''}`).join(',');
}

/** `sliceKey(ns, name)` -> taken slice names in that namespace, to keep derived names unique. */
function namespacedKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function sliceName(service: Service, family: IPFamily, key: string, chunk: number, taken: Set<string>): string {
  const prefix = `${service.name}-`.slice(0, MAX_GENERATED_PREFIX);
  for (let attempt = 0; ; attempt++) {
    const name = prefix + nameSuffix(`${service.namespace}/${service.name}\n${family}\n${key}\n${chunk}\n${attempt}`);
    if (!taken.has(namespacedKey(service.namespace, name))) {
      taken.add(namespacedKey(service.namespace, name));
      return name;
    }
  }
}

interface PortGroup {
  readonly key: string;
  readonly ports: readonly EndpointSlicePort[];
  /** Keyed like the controller's EndpointSet: addresses + Pod namespace/name; a later duplicate replaces. */
  readonly endpoints: Map<string, DerivedEndpoint>;
}

/** One Service, one address family: `reconcileByAddressType` starting from no existing slices. */
function slicesForFamily(
  service: Service,
  family: IPFamily,
  pods: readonly Pod[],
  nodes: ReadonlyMap<string, NodeInfo>,
  taken: Set<string>,
): DerivedEndpointSlice[] {
  const groups = new Map<string, PortGroup>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod)) continue;
    const ports = endpointPorts(service, pod);
    const key = portMapKey(ports);
    const node = pod.nodeName ? nodes.get(pod.nodeName) : undefined;
    // The controller skips a Pod whose Node is not found unless publishNotReadyAddresses is set. A
    // Pod without nodeName never has a Node. A named Node missing from the snapshot is not taken as
    // missing from the cluster (snapshots usually hold only the node the rules are for): kept, no zone.
    if (!pod.nodeName && service.publishNotReadyAddresses !== true) continue;
    const endpoint = podToEndpoint(pod, node, service, family);
    if (endpoint.addresses.length === 0) continue;
    let group = groups.get(key);
    if (!group) {
      group = { key, ports, endpoints: new Map() };
      groups.set(key, group);
    }
    const id = `${[...endpoint.addresses].sort().join(',')}|${pod.namespace}/${pod.name}`;
    group.endpoints.set(id, endpoint);
  }

  const labels = sliceLabels(service);
  const slices: DerivedEndpointSlice[] = [];
  for (const group of [...groups.values()].sort((a, b) => goLess(a.key, b.key))) {
    const endpoints = [...group.endpoints.values()].sort(compareEndpoints);
    for (let chunk = 0; chunk * MAX_ENDPOINTS_PER_SLICE < endpoints.length; chunk++) {
      slices.push({
        namespace: service.namespace,
        name: sliceName(service, family, group.key, chunk, taken),
        serviceName: service.name,
        addressType: family,
        ports: group.ports,
        endpoints: endpoints.slice(chunk * MAX_ENDPOINTS_PER_SLICE, (chunk + 1) * MAX_ENDPOINTS_PER_SLICE),
        labels,
      });
    }
  }
  // "When no endpoint slices would usually exist, we need to add a placeholder": no ports, no endpoints.
  if (slices.length === 0) {
    slices.push({
      namespace: service.namespace,
      name: sliceName(service, family, '', 0, taken),
      serviceName: service.name,
      addressType: family,
      ports: [],
      endpoints: [],
      labels,
    });
  }
  return slices;
}

/**
 * The EndpointSlices the controller would write for every selector Service of the snapshot, for
 * each address family the Service has and the snapshot gives no slice of (explicit slices win, per
 * family: a Service with an explicit IPv4 slice still gets a derived IPv6 one). Ordered by
 * namespace, Service name, family (the Service's order), port set; independent of input order.
 */
export function deriveEndpointSlices(snapshot: Snapshot): DerivedEndpointSlice[] {
  const explicitFamilies = new Map<string, Set<string>>();
  const taken = new Set<string>();
  for (const s of snapshot.endpointSlices) {
    taken.add(namespacedKey(s.namespace, s.name));
    if (s.serviceName === '') continue;
    const key = namespacedKey(s.namespace, s.serviceName);
    let set = explicitFamilies.get(key);
    if (!set) explicitFamilies.set(key, (set = new Set()));
    set.add(s.addressType);
  }
  const nodes = new Map(snapshot.nodes.map((n) => [n.name, n] as const));
  const podsByNamespace = new Map<string, Pod[]>();
  for (const pod of snapshot.pods ?? []) {
    const list = podsByNamespace.get(pod.namespace);
    if (list) list.push(pod);
    else podsByNamespace.set(pod.namespace, [pod]);
  }

  const services = snapshot.services
    .filter(hasControllerManagedSlices)
    .sort((a, b) => goLess(a.namespace, b.namespace) || goLess(a.name, b.name));
  const out: DerivedEndpointSlice[] = [];
  for (const service of services) {
    const selector = service.selector!;
    const selected = (podsByNamespace.get(service.namespace) ?? []).filter((p) => selectorMatches(selector, p.labels));
    const explicit = explicitFamilies.get(namespacedKey(service.namespace, service.name));
    for (const family of serviceAddressTypes(service)) {
      if (explicit?.has(family)) continue;
      out.push(...slicesForFamily(service, family, selected, nodes, taken));
    }
  }
  return out;
}

/** The snapshot with the derived slices appended (the same object when nothing is derived). Idempotent. */
export function withDerivedEndpointSlices(snapshot: Snapshot): Snapshot {
  const derived = deriveEndpointSlices(snapshot);
  if (derived.length === 0) return snapshot;
  return { ...snapshot, endpointSlices: [...snapshot.endpointSlices, ...derived] };
}
