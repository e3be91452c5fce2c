import { ipFamilyOf, sliceLabels } from '@svcrules/core';
import type { Endpoint, EndpointSlice, IPFamily, Service } from '@svcrules/core';
import type { EndpointsAddress, EndpointsObject, EndpointsPort } from './schemas/endpoints.js';
import { LABEL_SERVICE_NAME } from './schemas/endpoint-slice.js';
import { setOwn } from './schemas/metadata.js';

/**
 * v1 Endpoints -> EndpointSlices, as kube-controller-manager's EndpointSlice mirroring controller
 * does it (kubernetes/kubernetes pkg/controller/endpointslicemirroring: endpointslicemirroring_controller.go
 * `syncEndpoints` / `shouldMirror`, reconciler.go `reconcile`, reconciler_helpers.go `addAddress`,
 * utils.go `newEndpointSlice` / `addressToEndpoint`; pkg/api/v1/endpoints `RepackSubsets`):
 *
 * - not mirrored: Endpoints labelled `endpointslice.kubernetes.io/skip-mirror: "true"` (the Endpoints
 *   controller sets it on the Endpoints it manages), Endpoints with the leader-election annotation,
 *   Endpoints without a Service of the same namespace/name, and Endpoints whose Service has a
 *   selector (the EndpointSlice controller owns those Services' slices);
 * - subsets are first repacked (`RepackSubsets`): addresses de-duplicated per port by IP text and
 *   targetRef UID, "not ready trumps ready", ports that serve the same address set grouped;
 * - one slice per repacked subset and address family; `addresses` -> ready true, `notReadyAddresses`
 *   -> ready false (serving and terminating unset); nodeName kept; IPs parsed sloppily and printed
 *   canonically; at most 1000 addresses per subset (the rest is skipped, with a warning);
 * - labels: the Endpoints' labels, then `kubernetes.io/service-name` = the Endpoints name and
 *   `endpointslice.kubernetes.io/managed-by` = `endpointslicemirroring-controller.k8s.io`.
 *
 * Where the controller is random (generateName suffixes, Go map order) this is deterministic: slices
 * are named `<endpoints>-mirror-<n>` in repacked order, IPv4 before IPv6; addresses keep the repack
 * order (IP text, then UID). If the snapshot already holds slices mirrored for an Endpoints object
 * (a dump of a live cluster has both), those are used and the Endpoints is not mirrored again.
 */

export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const MIRRORING_CONTROLLER = 'endpointslicemirroring-controller.k8s.io';
export const LEADER_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';
/** The controller's default --mirroring-max-endpoints-per-subset. */
export const MAX_ENDPOINTS_PER_SUBSET = 1000;

export type MirrorResult =
  | { readonly mirrored: false; readonly reason: string }
  | { readonly mirrored: true; readonly slices: EndpointSlice[]; readonly skippedAddresses: number };

interface Repacked {
  readonly ports: EndpointsPort[];
  readonly ready: EndpointsAddress[];
  readonly notReady: EndpointsAddress[];
}

const addressKey = (a: EndpointsAddress) => `${a.ip}\u0000${a.targetRef?.uid ?? ''}`;

/** `LessEndpointAddress`: by IP text, then targetRef UID (no targetRef first). */
function lessAddress(a: EndpointsAddress, b: EndpointsAddress): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  const ua = a.targetRef?.uid;
  const ub = b.targetRef?.uid;
  if (ua === ub) return 0;
  if (ub === undefined) return 1;
  if (ua === undefined) return -1;
  return ua < ub ? -1 : 1;
}

/** `RepackSubsets`, with groups in order of first appearance instead of hash order. */
export function repackSubsets(subsets: EndpointsObject['subsets']): Repacked[] {
  const NONE = '\u0000no-ports';
  const all = new Map<string, EndpointsAddress>();
  const portOrder: string[] = [];
  const portOf = new Map<string, EndpointsPort | null>();
  const byPort = new Map<string, Map<string, boolean>>();
  for (const s of subsets) {
    const ports: (EndpointsPort | null)[] = s.ports.length > 0 ? [...s.ports] : [null];
    for (const p of ports) {
      const pk = p ? JSON.stringify([p.name, p.port, p.protocol, p.appProtocol ?? null]) : NONE;
      let set = byPort.get(pk);
      if (!set) {
        set = new Map();
        byPort.set(pk, set);
        portOrder.push(pk);
        portOf.set(pk, p);
      }
      const add = (a: EndpointsAddress, ready: boolean) => {
        const k = addressKey(a);
        if (!all.has(k)) all.set(k, a);
        const was = set.get(k);
        if (was === undefined || was) set.set(k, ready); // not ready trumps ready
      };
      for (const a of s.addresses) add(a, true);
      for (const a of s.notReadyAddresses) add(a, false);
    }
  }
  const groups = new Map<string, Repacked>();
  for (const pk of portOrder) {
    const set = byPort.get(pk)!;
    const entries = [...set.entries()].map(([k, ready]) => ({ addr: all.get(k)!, ready })).sort((x, y) => lessAddress(x.addr, y.addr));
    const hash = entries.map((e) => `${addressKey(e.addr)}=${e.ready}`).join('\n');
    let g = groups.get(hash);
    if (!g) {
      g = { ports: [], ready: entries.filter((e) => e.ready).map((e) => e.addr), notReady: entries.filter((e) => !e.ready).map((e) => e.addr) };
      groups.set(hash, g);
    }
    const p = portOf.get(pk);
    if (p) g.ports.push(p);
  }
  return [...groups.values()];
}

/** Why an Endpoints object is not mirrored, or undefined when it is. */
export function mirrorSkipReason(ep: EndpointsObject, service: Service | undefined, hasMirroredSlices: boolean): string | undefined {
  if (ep.labels[LABEL_SKIP_MIRROR] === 'true') return `labelled ${LABEL_SKIP_MIRROR}: "true"`;
  if (ep.annotationKeys.includes(LEADER_ANNOTATION)) return `a leader-election record (${LEADER_ANNOTATION})`;
  if (!service) return `no Service ${ep.namespace}/${ep.name} in the snapshot`;
  if (service.selector !== undefined) return 'its Service has a selector (the EndpointSlice controller owns its slices)';
  if (hasMirroredSlices) return 'the snapshot already holds EndpointSlices mirrored from it';
  return undefined;
}

interface SliceStyle {
  /** The slice's name for the n-th slice (1-based). */
  readonly name: (n: number) => string;
  readonly labels: Readonly<Record<string, string>>;
  /** The address cap per repacked subset (the mirroring controller's); none when undefined. */
  readonly maxPerSubset?: number;
  readonly families: readonly IPFamily[];
  readonly endpoint: (a: EndpointsAddress, ready: boolean) => Endpoint;
}

/** Repacked subsets -> one slice per subset and family (the shape both controllers give). */
function slicesFrom(ep: EndpointsObject, style: SliceStyle): { slices: EndpointSlice[]; skippedAddresses: number } {
  const slices: EndpointSlice[] = [];
  let skippedAddresses = 0;
  for (const subset of repackSubsets(ep.subsets)) {
    // EndpointSet: keyed by addresses, hostname and targetRef namespace/name; a later insert replaces.
    const byFamily: Record<IPFamily, Map<string, Endpoint>> = { IPv4: new Map(), IPv6: new Map() };
    let added = 0;
    const add = (a: EndpointsAddress, ready: boolean) => {
      if (style.maxPerSubset !== undefined && added >= style.maxPerSubset) {
        skippedAddresses++;
        return;
      }
      added++;
      const key = [a.canonical, a.hostname ?? '', a.targetRef?.namespace ?? '', a.targetRef?.name ?? ''].join('\u0000');
      byFamily[a.family].set(key, style.endpoint(a, ready));
    };
    for (const a of subset.ready) add(a, true);
    for (const a of subset.notReady) add(a, false);
    for (const family of style.families) {
      const eps = byFamily[family];
      if (eps.size === 0) continue;
      slices.push({
        namespace: ep.namespace,
        name: style.name(slices.length + 1),
        serviceName: ep.name,
        addressType: family,
        ports: subset.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
        endpoints: [...eps.values()],
        labels: style.labels,
      });
    }
  }
  return { slices, skippedAddresses };
}

const withNode = (a: EndpointsAddress) => (a.nodeName !== undefined ? { nodeName: a.nodeName } : {});

export function mirrorEndpoints(ep: EndpointsObject, service: Service | undefined, hasMirroredSlices: boolean): MirrorResult {
  const reason = mirrorSkipReason(ep, service, hasMirroredSlices);
  if (reason !== undefined) return { mirrored: false, reason };

  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(ep.labels)) setOwn(labels, k, v);
  setOwn(labels, LABEL_SERVICE_NAME, ep.name);
  setOwn(labels, LABEL_MANAGED_BY, MIRRORING_CONTROLLER);
  const r = slicesFrom(ep, {
    name: (n) => `${ep.name}-mirror-${n}`,
    labels,
    maxPerSubset: MAX_ENDPOINTS_PER_SUBSET,
    families: ['IPv4', 'IPv6'],
    endpoint: (a, ready) => ({ addresses: [a.canonical], ready, ...withNode(a) }),
  });
  return { mirrored: true, ...r };
}

/**
 * The families an Endpoints object speaks for: those of its addresses, and the Service's primary
 * family (the Endpoints controller writes only primary-family addresses, so an empty Endpoints means
 * "no endpoints" for that family).
 */
export function endpointsFamilies(ep: EndpointsObject, service: Service): IPFamily[] {
  const out = new Set<IPFamily>();
  const primary = service.ipFamilies[0] ?? ipFamilyOf(service.clusterIP);
  if (primary) out.add(primary);
  for (const s of ep.subsets) for (const a of [...s.addresses, ...s.notReadyAddresses]) out.add(a.family);
  return (['IPv4', 'IPv6'] as const).filter((f) => out.has(f));
}

/**
 * v1 Endpoints standing in for the EndpointSlices a dump left out (`kubectl get svc,ep`): the
 * addresses as the EndpointSlice controller publishes the same Pods (pkg/controller/endpointslice
 * via k8s.io/endpointslice utils.go `podToEndpoint`: ready = serving = the Pod's readiness,
 * terminating false, since the Endpoints controller leaves terminating Pods out; nodeName kept;
 * ports by name as the Endpoints controller resolved them), labelled as that controller labels them
 * (`setEndpointSliceLabels`), one slice per repacked subset and family, for `families` only.
 * Slices are named `<service>-endpoints-<n>` (the controller's names are random).
 */
export function standInSlices(ep: EndpointsObject, service: Service, families: readonly IPFamily[]): EndpointSlice[] {
  const labels = sliceLabels(service);
  const { slices } = slicesFrom(ep, {
    name: (n) => `${ep.name}-endpoints-${n}`,
    labels,
    families,
    endpoint: (a, ready): Endpoint & { hostname?: string } => ({
      addresses: [a.canonical],
      ready,
      serving: ready,
      terminating: false,
      ...withNode(a),
      ...(a.hostname !== undefined && a.hostname !== '' ? { hostname: a.hostname } : {}),
    }),
  });
  // A family with no address gets the controller's placeholder (no ports, no endpoints): it says
  // "no endpoints" and keeps Pod-derived slices from taking over that family.
  for (const family of families) {
    if (slices.some((s) => s.addressType === family)) continue;
    slices.push({ namespace: ep.namespace, name: `${ep.name}-endpoints-${slices.length + 1}`, serviceName: ep.name, addressType: family, ports: [], endpoints: [], labels });
  }
  return slices;
}
