import fc from 'fast-check';

/**
 * fast-check generators of valid Kubernetes API objects as kubectl prints them (plain JSON data), with
 * the sloppy forms kube-proxy accepts (leading zeros, upper-case IPv6, host bits in source ranges) so
 * canonicalisation is exercised. Names are unique per kind and namespace.
 */
export type ApiObject = Record<string, unknown>;

const NAMES = ['svc1', 'svc2', 'web', 'dns', 'api-1'];
const NAMESPACES = ['ns1', 'ns2', 'default'];
const octet = fc.integer({ min: 1, max: 254 });
const sloppy = (n: number) => fc.constantFrom(String(n), `0${n}`, `00${n}`.slice(-3));

const ipv4 = (a: number) => fc.tuple(octet, octet, octet).chain(([b, c, d]) => fc.tuple(sloppy(a), sloppy(b), sloppy(c), sloppy(d)).map((p) => p.join('.')));
const ipv6 = (prefix: string) =>
  fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.boolean()).map(([x, upper]) => {
    const s = `${prefix}${x.toString(16)}`;
    return upper ? s.toUpperCase() : s;
  });
const familyIP = (family: 'IPv4' | 'IPv6', a: number) => (family === 'IPv4' ? ipv4(a) : ipv6(`fd00:${a}::`));
const portName = fc.constantFrom('', 'p80', 'http', 'dns-tcp');
const protocol = fc.constantFrom('TCP', 'UDP', 'SCTP');
const labels = fc.dictionary(fc.constantFrom('app', 'tier', 'example.com/team', 'topology.kubernetes.io/zone'), fc.constantFrom('web', 'db', 'zone-a', 'x_1.y', ''), { maxKeys: 3 });

const meta = (namespaced: boolean) =>
  fc.record({ name: fc.constantFrom(...NAMES), namespace: fc.constantFrom(...NAMESPACES), labels }).map((m) => (namespaced ? m : { name: m.name, labels: m.labels }));

export const serviceObject: fc.Arbitrary<ApiObject> = fc
  .record({
    metadata: meta(true),
    family: fc.constantFrom('IPv4' as const, 'IPv6' as const),
    type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'),
    ports: fc.uniqueArray(fc.record({ name: portName, protocol, port: fc.integer({ min: 1, max: 65535 }), target: fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.constantFrom('http', 'metrics')) }), {
      selector: (p) => `${p.name}/${p.protocol}`,
      maxLength: 3,
    }),
    selector: fc.option(fc.dictionary(fc.constantFrom('app', 'tier'), fc.constantFrom('web', 'db'), { minKeys: 1, maxKeys: 2 }), { nil: undefined }),
    affinity: fc.option(fc.integer({ min: 1, max: 86400 }), { nil: undefined }),
    sourceRange: fc.option(fc.constantFrom(' 203.0.113.7/25', '10.1.2.3/8', '203.000.113.000/025'), { nil: undefined }),
    eTP: fc.constantFrom(undefined, 'Cluster', 'Local'),
    lb: fc.boolean(),
  })
  .chain((r) =>
    fc.tuple(familyIP(r.family, 172), familyIP(r.family, 192), familyIP(r.family, 5)).map(([cip, ext, lb]) => {
      const spec: ApiObject = {
        type: r.type,
        clusterIP: cip,
        ports: r.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), protocol: p.protocol, port: p.port, targetPort: p.target })),
        externalIPs: [ext],
      };
      if (r.selector) spec.selector = r.selector;
      if (r.affinity !== undefined) Object.assign(spec, { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: r.affinity } } });
      if (r.sourceRange !== undefined && r.family === 'IPv4') spec.loadBalancerSourceRanges = [r.sourceRange];
      if (r.eTP !== undefined) spec.externalTrafficPolicy = r.eTP;
      const obj: ApiObject = { apiVersion: 'v1', kind: 'Service', metadata: r.metadata, spec };
      if (r.lb) obj.status = { loadBalancer: { ingress: [{ ip: lb }, { hostname: 'lb.example.com' }] } };
      return obj;
    }),
  );

export const sliceObject: fc.Arbitrary<ApiObject> = fc
  .record({
    metadata: meta(true),
    service: fc.constantFrom(...NAMES),
    family: fc.constantFrom('IPv4' as const, 'IPv6' as const),
    n: fc.integer({ min: 0, max: 4 }),
    ports: fc.uniqueArray(fc.record({ name: portName, protocol, port: fc.integer({ min: 1, max: 65535 }) }), { selector: (p) => `${p.name}/${p.protocol}`, maxLength: 2 }),
    ready: fc.array(fc.constantFrom(undefined, true, false), { minLength: 4, maxLength: 4 }),
    node: fc.constantFrom(undefined, 'node-1', 'node-2'),
  })
  .chain((r) =>
    fc.array(familyIP(r.family, 10), { minLength: r.n, maxLength: r.n }).map((ips) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { ...r.metadata, name: `${r.service}-${r.metadata.name}`, labels: { ...r.metadata.labels, 'kubernetes.io/service-name': r.service } },
      addressType: r.family,
      endpoints: ips.map((ip, i) => ({
        addresses: [ip],
        ...(r.ready[i] !== undefined ? { conditions: { ready: r.ready[i] } } : {}),
        ...(r.node ? { nodeName: r.node, zone: 'zone-a', hints: { forZones: [{ name: 'zone-a' }] } } : {}),
      })),
      ports: r.ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port })),
    })),
  );

export const endpointsObject: fc.Arbitrary<ApiObject> = fc
  .record({
    metadata: meta(true),
    subsets: fc.array(
      fc.record({
        ready: fc.array(fc.oneof(ipv4(10), ipv6('fd00:10::')), { maxLength: 3 }),
        notReady: fc.array(ipv4(11), { maxLength: 2 }),
        ports: fc.uniqueArray(fc.record({ name: portName, port: fc.integer({ min: 1, max: 65535 }) }), { selector: (p) => p.name, maxLength: 2 }),
        node: fc.constantFrom(undefined, 'node-1'),
      }),
      { maxLength: 2 },
    ),
  })
  .map((r) => ({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: r.metadata,
    subsets: r.subsets.map((s) => ({
      addresses: s.ready.map((ip) => ({ ip, ...(s.node ? { nodeName: s.node } : {}) })),
      notReadyAddresses: s.notReady.map((ip) => ({ ip })),
      ports: s.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port })),
    })),
  }));

export const nodeObject: fc.Arbitrary<ApiObject> = fc.record({ metadata: meta(false), ip: ipv4(192), cidr: fc.constantFrom('10.0.1.7/24', '10.000.2.0/24') }).map((r) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { ...r.metadata, name: `node-${r.metadata.name}` },
  spec: { podCIDRs: [r.cidr] },
  status: { addresses: [{ type: 'InternalIP', address: r.ip }, { type: 'Hostname', address: `node-${r.metadata.name}` }] },
}));

export const podObject: fc.Arbitrary<ApiObject> = fc
  .record({ metadata: meta(true), ip: ipv4(10), ready: fc.boolean(), terminating: fc.boolean(), phase: fc.constantFrom('Pending', 'Running', 'Succeeded') })
  .map((r) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...r.metadata, ...(r.terminating ? { deletionTimestamp: '2026-11-24T10:00:00Z' } : {}) },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
    status: { phase: r.phase, podIP: r.ip, podIPs: [{ ip: r.ip }], conditions: [{ type: 'Ready', status: r.ready ? 'True' : 'False' }] },
  }));

export const configObject: fc.Arbitrary<ApiObject> = fc
  .record({ bit: fc.integer({ min: 0, max: 31 }), mode: fc.constantFrom('', 'ClusterCIDR', 'InterfaceNamePrefix'), all: fc.boolean() })
  .map((r) => ({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    hostnameOverride: 'Node-1',
    clusterCIDR: '10.0.0.0/8',
    detectLocalMode: r.mode,
    detectLocal: { interfaceNamePrefix: 'veth' },
    iptables: { masqueradeBit: r.bit, masqueradeAll: r.all },
    nodePortAddresses: ['192.168.0.0/16'],
  }));

const key = (o: ApiObject) => {
  const m = o.metadata as { name?: string; namespace?: string } | undefined;
  return `${String(o.kind)}/${m?.namespace ?? ''}/${m?.name ?? ''}`;
};

/** A valid set of API objects: unique (kind, namespace, name), every kind represented sometimes. */
export const apiObjects: fc.Arbitrary<ApiObject[]> = fc
  .tuple(
    fc.uniqueArray(serviceObject, { selector: key, maxLength: 5 }),
    fc.uniqueArray(sliceObject, { selector: key, maxLength: 4 }),
    fc.uniqueArray(endpointsObject, { selector: key, maxLength: 3 }),
    fc.uniqueArray(nodeObject, { selector: key, maxLength: 2 }),
    fc.uniqueArray(podObject, { selector: key, maxLength: 3 }),
    fc.option(configObject, { nil: undefined }),
  )
  .map(([s, sl, ep, n, p, c]) => [...s, ...sl, ...ep, ...n, ...p, ...(c ? [c] : [])]);
