/**
 * Hand-written readers for the two kinds a large input is made of (Service, v1 EndpointSlice): the
 * document zod's schema would produce (service.ts, endpoint-slice.ts), built without zod's per-field
 * machinery. They accept only input zod accepts and then return what zod returns (property-tested in
 * test/fast-docs.test.ts); anything they do not take plainly — a bad or unusual value, a key such as
 * `__proto__` — returns undefined, and the loader runs the zod schema, which says what is wrong.
 */
import type { IPFamily, Protocol } from '@svcrules/core';
import { isDNS1035Label, isDNS1123Label, isDNS1123Subdomain, isIANASvcName, isLabelKey, isLabelValue } from '../words.js';
import type { EndpointSliceDoc } from './endpoint-slice.js';
import { checkCIDR, checkIP } from './fields.js';
import { isMapping } from './metadata.js';
import type { ServiceDoc } from './service.js';

/** Returned by a reader for input it leaves to zod. */
const NO = undefined;

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
const isPortName = (v: unknown): v is string => typeof v === 'string' && (v === '' || isDNS1123Label(v));
const isProtocol = (v: unknown): v is Protocol => v === 'TCP' || v === 'UDP' || v === 'SCTP';
const isZone = (v: unknown): v is string => typeof v === 'string' && v !== '' && isLabelValue(v);
const isNodeName = (v: unknown): v is string => typeof v === 'string' && isDNS1123Subdomain(v);

/** labelMap(): a fresh object of the same entries, or NO. */
function labels(v: unknown): Record<string, string> | undefined {
  if (!isMapping(v)) return NO;
  const out: Record<string, string> = {};
  for (const k of Object.keys(v)) {
    const val = v[k];
    if (k === '__proto__' || !isLabelKey(k) || typeof val !== 'string' || !isLabelValue(val)) return NO;
    out[k] = val;
  }
  return out;
}

interface Metadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: string[];
}

/** namespacedMetadata(name). */
function metadata(v: unknown, isName: (s: string) => boolean): Metadata | undefined {
  if (!isMapping(v)) return NO;
  const { name, namespace, annotations } = v;
  if (typeof name !== 'string' || !isName(name)) return NO;
  let ns = 'default';
  if (namespace !== undefined && namespace !== '') {
    if (typeof namespace !== 'string' || !isDNS1123Label(namespace)) return NO;
    ns = namespace;
  }
  const l = v.labels === undefined ? {} : labels(v.labels);
  if (!l) return NO;
  const m: Metadata = { name, namespace: ns, labels: l };
  if (annotations !== undefined) {
    if (!isMapping(annotations)) return NO;
    m.annotations = Object.keys(annotations);
  }
  return m;
}

/** `list(item)` with every element read by `read`, or NO. */
function list<T>(v: unknown, read: (x: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v)) return NO;
  const out: T[] = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = read(v[i]);
    if (x === NO) return NO;
    out[i] = x;
  }
  return out;
}

/** A field's value where '' reads as absent (emptyIsUnset) and absent is `dflt`; NO when not one of `values`. */
function choice<T extends string>(v: unknown, values: readonly T[], dflt: T): T | undefined {
  if (v === undefined || v === '') return dflt;
  return (values as readonly unknown[]).includes(v) ? (v as T) : NO;
}

function clusterIP(v: unknown): string | undefined {
  if (v === 'None' || v === '') return v;
  const r = checkIP(v);
  return r.ok ? r.value.text : NO;
}

function ipText(v: unknown, unicast: boolean): string | undefined {
  const r = checkIP(v, { unicast });
  return r.ok ? r.value.text : NO;
}

type ServicePortDoc = ServiceDoc['spec']['ports'][number];

function servicePort(v: unknown): ServicePortDoc | undefined {
  if (!isMapping(v)) return NO;
  const { name = '', port, nodePort = 0, targetPort } = v;
  const protocol = v.protocol === undefined || v.protocol === '' ? 'TCP' : v.protocol;
  if (!isPortName(name) || !isProtocol(protocol) || !isInt(port, 1, 65535) || !isInt(nodePort, 0, 65535)) return NO;
  const p: ServicePortDoc = { name, protocol, port, nodePort };
  if (targetPort !== undefined && targetPort !== 0 && targetPort !== '') {
    if (isInt(targetPort, 1, 65535) || (typeof targetPort === 'string' && isIANASvcName(targetPort))) p.targetPort = targetPort;
    else return NO;
  }
  return p;
}

const FAMILIES: readonly IPFamily[] = ['IPv4', 'IPv6'];
const TRAFFIC_POLICIES = ['Cluster', 'Local'] as const;

type Spec = ServiceDoc['spec'];

function serviceSpec(v: unknown): Spec | undefined {
  if (!isMapping(v)) return NO;
  const type = choice(v.type, ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], 'ClusterIP');
  const sessionAffinity = choice(v.sessionAffinity, ['None', 'ClientIP'], 'None');
  const externalTrafficPolicy = choice(v.externalTrafficPolicy, TRAFFIC_POLICIES, 'Cluster');
  const internalTrafficPolicy = choice(v.internalTrafficPolicy, TRAFFIC_POLICIES, 'Cluster');
  const ports = v.ports === undefined ? [] : list(v.ports, servicePort);
  const externalIPs = v.externalIPs === undefined ? [] : list(v.externalIPs, (x) => ipText(x, true));
  const ranges = v.loadBalancerSourceRanges === undefined ? [] : list(v.loadBalancerSourceRanges, (x) => {
    const r = checkCIDR(x, true);
    return r.ok ? r.value.text : NO;
  });
  const { healthCheckNodePort = 0 } = v;
  if (!type || !sessionAffinity || !externalTrafficPolicy || !internalTrafficPolicy || !ports || !externalIPs || !ranges || !isInt(healthCheckNodePort, 0, 65535)) return NO;
  const spec: Spec = { type, ports, externalIPs, loadBalancerSourceRanges: ranges, sessionAffinity, externalTrafficPolicy, internalTrafficPolicy, healthCheckNodePort };
  if (v.clusterIP !== undefined) {
    const c = clusterIP(v.clusterIP);
    if (c === NO) return NO;
    spec.clusterIP = c;
  }
  if (v.clusterIPs !== undefined) {
    const c = list(v.clusterIPs, clusterIP);
    if (!c) return NO;
    spec.clusterIPs = c;
  }
  if (v.ipFamilies !== undefined) {
    const f = list(v.ipFamilies, (x) => (FAMILIES.includes(x as IPFamily) ? (x as IPFamily) : NO));
    if (!f) return NO;
    spec.ipFamilies = f;
  }
  if (v.selector !== undefined) {
    const s = labels(v.selector);
    if (!s) return NO;
    spec.selector = s;
  }
  if (v.sessionAffinityConfig !== undefined) {
    const c = v.sessionAffinityConfig;
    if (!isMapping(c)) return NO;
    spec.sessionAffinityConfig = {};
    if (c.clientIP !== undefined) {
      if (!isMapping(c.clientIP)) return NO;
      const t = c.clientIP.timeoutSeconds;
      if (t !== undefined && !isInt(t, 1, 86400)) return NO;
      spec.sessionAffinityConfig.clientIP = t === undefined ? {} : { timeoutSeconds: t };
    }
  }
  if (v.publishNotReadyAddresses !== undefined) {
    if (typeof v.publishNotReadyAddresses !== 'boolean') return NO;
    spec.publishNotReadyAddresses = v.publishNotReadyAddresses;
  }
  return spec;
}

type Ingress = NonNullable<NonNullable<ServiceDoc['status']>['loadBalancer']>['ingress'][number];

function ingress(v: unknown): Ingress | undefined {
  if (!isMapping(v)) return NO;
  const g: Ingress = {};
  if (v.ip !== undefined) {
    const t = ipText(v.ip, false);
    if (t === NO) return NO;
    g.ip = t;
  }
  if (v.ipMode !== undefined) {
    if (v.ipMode !== 'VIP' && v.ipMode !== 'Proxy') return NO;
    g.ipMode = v.ipMode;
  }
  return g;
}

/** serviceSchema's output, or NO. */
export function serviceDoc(v: unknown): ServiceDoc | undefined {
  if (!isMapping(v)) return NO;
  const meta = metadata(v.metadata, isDNS1035Label);
  const spec = meta && serviceSpec(v.spec);
  if (!meta || !spec) return NO;
  const doc: ServiceDoc = { metadata: meta, spec };
  const { status } = v;
  if (status !== undefined) {
    if (!isMapping(status)) return NO;
    doc.status = {};
    const lb = status.loadBalancer;
    if (lb !== undefined) {
      if (!isMapping(lb)) return NO;
      const ing = lb.ingress === undefined ? [] : list(lb.ingress, ingress);
      if (!ing) return NO;
      doc.status.loadBalancer = { ingress: ing };
    }
  }
  return doc;
}

type EndpointDoc = EndpointSliceDoc['endpoints'][number];
type Hints = NonNullable<EndpointDoc['hints']>;

const named = (isName: (v: unknown) => v is string) => (x: unknown): { name: string } | undefined => (isMapping(x) && isName(x.name) ? { name: x.name } : NO);
const zoneHint = named(isZone);
const nodeHint = named(isNodeName);

function hints(v: unknown): Hints | undefined {
  if (!isMapping(v)) return NO;
  const h: Hints = {};
  if (v.forZones !== undefined) {
    const z = list(v.forZones, zoneHint);
    if (!z) return NO;
    h.forZones = z;
  }
  if (v.forNodes !== undefined) {
    const n = list(v.forNodes, nodeHint);
    if (!n) return NO;
    h.forNodes = n;
  }
  return h;
}

const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : NO);

function endpoint(v: unknown): EndpointDoc | undefined {
  if (!isMapping(v)) return NO;
  const addresses = v.addresses === undefined ? [] : list(v.addresses, str);
  if (!addresses) return NO;
  const e: EndpointDoc = { addresses };
  const c = v.conditions;
  if (c !== undefined) {
    if (!isMapping(c)) return NO;
    const { ready, serving, terminating } = c;
    if ((ready !== undefined && typeof ready !== 'boolean') || (serving !== undefined && typeof serving !== 'boolean') || (terminating !== undefined && typeof terminating !== 'boolean')) return NO;
    const conditions: NonNullable<EndpointDoc['conditions']> = {};
    if (ready !== undefined) conditions.ready = ready;
    if (serving !== undefined) conditions.serving = serving;
    if (terminating !== undefined) conditions.terminating = terminating;
    e.conditions = conditions;
  }
  if (v.nodeName !== undefined) {
    if (!isNodeName(v.nodeName)) return NO;
    e.nodeName = v.nodeName;
  }
  if (v.zone !== undefined) {
    if (!isZone(v.zone)) return NO;
    e.zone = v.zone;
  }
  if (v.hints !== undefined) {
    const h = hints(v.hints);
    if (!h) return NO;
    e.hints = h;
  }
  return e;
}

type SlicePortDoc = EndpointSliceDoc['ports'][number];

function slicePort(v: unknown): SlicePortDoc | undefined {
  if (!isMapping(v)) return NO;
  const { name = '', port, protocol = 'TCP' } = v;
  if (!isPortName(name) || !isProtocol(protocol) || (port !== undefined && !isInt(port, 1, 65535))) return NO;
  return port === undefined ? { name, protocol } : { name, port, protocol };
}

/** The v1 endpointSliceSchema's output, or NO. */
export function endpointSliceDoc(v: unknown): EndpointSliceDoc | undefined {
  if (!isMapping(v)) return NO;
  const meta = metadata(v.metadata, isDNS1123Subdomain);
  const { addressType } = v;
  if (!meta || (addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN')) return NO;
  const endpoints = v.endpoints === undefined ? [] : list(v.endpoints, endpoint);
  const ports = v.ports === undefined ? [] : list(v.ports, slicePort);
  if (!endpoints || !ports) return NO;
  return { metadata: meta, addressType, endpoints, ports };
}
