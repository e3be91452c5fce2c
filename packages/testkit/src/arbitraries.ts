import fc from 'fast-check';
import type { Endpoint, EndpointSlice, IPFamily, Protocol, Service, Snapshot } from '@svcrules/core';

/**
 * fast-check generators of valid, canonical snapshots (what @svcrules/snapshot produces), small
 * enough to compile thousands of times in a test run but covering every feature the compiler has.
 */
export const NODE = 'test-node';

const label = fc.stringMatching(/^[a-z]([a-z0-9-]{0,6}[a-z0-9])?$/);
const octet = fc.integer({ min: 1, max: 254 });
const ipv4In = (a: number, b: number) => fc.tuple(octet, octet).map(([c, d]) => `${a}.${b}.${c}.${d}`);
const ipv6In = (prefix: string) => fc.tuple(fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 1, max: 0xffff })).map(([x, y]) => `${prefix}${x.toString(16)}:${y.toString(16)}`);
const protocol: fc.Arbitrary<Protocol> = fc.constantFrom('TCP', 'UDP', 'SCTP');

const ip = (family: IPFamily, kind: 'cluster' | 'pod' | 'external') =>
  family === 'IPv4'
    ? kind === 'cluster' ? ipv4In(172, 30) : kind === 'pod' ? ipv4In(10, 180) : ipv4In(192, 168)
    : kind === 'cluster' ? ipv6In('fd00:172:30::') : kind === 'pod' ? ipv6In('fd00:10:180::') : ipv6In('fd00:192:168::');

function serviceArb(family: IPFamily): fc.Arbitrary<Service> {
  return fc
    .record({
      namespace: fc.constantFrom('ns1', 'ns2', 'kube-system'),
      name: label,
      type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer') as fc.Arbitrary<Service['type']>,
      clusterIP: ip(family, 'cluster'),
      portNames: fc.uniqueArray(fc.constantFrom('', 'p80', 'http', 'dns'), { minLength: 1, maxLength: 3 }),
      protocol,
      nodePortBase: fc.integer({ min: 30000, max: 32000 }),
      externalIPs: fc.array(ip(family, 'external'), { maxLength: 2 }),
      lbIPs: fc.array(fc.record({ ip: ip(family, 'external'), proxy: fc.boolean() }), { maxLength: 2 }),
      sourceRanges: fc.array(fc.constantFrom(...(family === 'IPv4' ? ['203.0.113.0/25', '192.168.0.0/16', '10.0.0.0/8'] : ['fd00:203::/64', 'fd00:192:168::/48'])), { maxLength: 2 }),
      affinity: fc.boolean(),
      timeout: fc.integer({ min: 1, max: 86400 }),
      eTPLocal: fc.boolean(),
      iTPLocal: fc.boolean(),
      healthCheckNodePort: fc.integer({ min: 30000, max: 32767 }),
    })
    .map((r) => {
      const ports = r.portNames.map((name, i) => ({
        name: r.portNames.length > 1 && name === '' ? `p${i}` : name,
        protocol: r.protocol,
        port: 80 + i,
        nodePort: r.type === 'ClusterIP' ? 0 : r.nodePortBase + i,
      }));
      return {
        namespace: r.namespace,
        name: r.name,
        type: r.type,
        clusterIP: r.clusterIP,
        clusterIPs: [r.clusterIP],
        ipFamilies: [family],
        ports,
        externalIPs: r.externalIPs,
        loadBalancerIngress: r.type === 'LoadBalancer' ? r.lbIPs.map((l) => (l.proxy ? { ip: l.ip, ipMode: 'Proxy' as const } : { ip: l.ip })) : [],
        loadBalancerSourceRanges: r.type === 'LoadBalancer' ? r.sourceRanges : [],
        sessionAffinity: r.affinity ? 'ClientIP' : 'None',
        affinityTimeoutSeconds: r.timeout,
        externalTrafficPolicy: r.eTPLocal ? 'Local' : 'Cluster',
        internalTrafficPolicy: r.iTPLocal ? 'Local' : 'Cluster',
        healthCheckNodePort: r.type === 'LoadBalancer' && r.eTPLocal ? r.healthCheckNodePort : 0,
        labels: {},
      } satisfies Service;
    });
}

function endpointArb(family: IPFamily): fc.Arbitrary<Endpoint> {
  return fc
    .record({
      ip: ip(family, 'pod'),
      ready: fc.option(fc.boolean(), { nil: undefined }),
      serving: fc.option(fc.boolean(), { nil: undefined }),
      terminating: fc.option(fc.boolean(), { nil: undefined }),
      node: fc.constantFrom(NODE, 'other-node', undefined),
      zones: fc.option(fc.subarray(['zone-a', 'zone-b'], { minLength: 1 }), { nil: undefined }),
    })
    .map((r) => ({
      addresses: [r.ip],
      ...(r.ready !== undefined ? { ready: r.ready } : {}),
      ...(r.serving !== undefined ? { serving: r.serving } : {}),
      ...(r.terminating !== undefined ? { terminating: r.terminating } : {}),
      ...(r.node !== undefined ? { nodeName: r.node } : {}),
      ...(r.zones !== undefined ? { zoneHints: r.zones } : {}),
    }));
}

/** A snapshot of one family: services with unique names, slices for most of them, the node, a config. */
export function snapshotArb(family: IPFamily = 'IPv4', maxServices = 6): fc.Arbitrary<Snapshot> {
  return fc
    .uniqueArray(serviceArb(family), { maxLength: maxServices, selector: (s) => `${s.namespace}/${s.name}` })
    .chain((services) =>
      fc
        .tuple(
          fc.tuple(...services.map(() => fc.tuple(fc.boolean(), fc.array(endpointArb(family), { maxLength: 5 })))),
          fc.constantFrom('ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix') as fc.Arbitrary<'ClusterCIDR'>,
          fc.boolean(),
          fc.boolean(),
        )
        .map(([sliceSpecs, detectLocalMode, masqueradeAll, localhostNodePorts]) => {
          const endpointSlices: EndpointSlice[] = [];
          services.forEach((svc, i) => {
            const [hasSlice, endpoints] = sliceSpecs[i]!;
            if (!hasSlice) return;
            endpointSlices.push({
              namespace: svc.namespace,
              name: `${svc.name}-abc`,
              serviceName: svc.name,
              addressType: family,
              ports: svc.ports.map((p) => ({ name: p.name, port: 8000 + p.port, protocol: p.protocol })),
              endpoints,
              labels: { 'kubernetes.io/service-name': svc.name },
            });
          });
          const v4 = family === 'IPv4';
          return {
            services,
            endpointSlices,
            nodes: [
              {
                name: NODE,
                addresses: [{ type: 'InternalIP', address: v4 ? '192.168.0.2' : 'fd00:192:168::2' }],
                podCIDRs: [v4 ? '10.180.0.0/16' : 'fd00:10:180::/64'],
                labels: { 'topology.kubernetes.io/zone': 'zone-a' },
              },
            ],
            config: {
              hostnameOverride: NODE,
              clusterCIDRs: [v4 ? '10.0.0.0/8' : 'fd00:10::/32'],
              detectLocalMode,
              bridgeInterface: 'cbr0',
              interfaceNamePrefix: 'veth',
              masqueradeAll,
              localhostNodePorts,
            },
          } satisfies Snapshot;
        }),
    );
}
