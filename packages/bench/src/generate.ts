/**
 * Realistic synthetic clusters, as kubectl writes them (`kubectl get -o json` List of Services,
 * EndpointSlices, the Node and a KubeProxyConfiguration). Deterministic: the same size gives the
 * same bytes, so results compare across runs.
 *
 * The mix per Service: 60 % ClusterIP, 25 % NodePort, 15 % LoadBalancer (one ingress IP; 40 % with
 * two source ranges); eTP=Local on 30 % of the externally reachable ones (LoadBalancers then get a
 * health-check node port); ClientIP affinity on 10 %; iTP=Local on 3 %; ports: 85 % one, 10 %
 * two, 5 % three (some UDP). 3 % of Services have no endpoints. Endpoints are spread over 50 nodes
 * in 3 zones (2 % not ready, 1 % terminating) in slices of at most 100, as the controller cuts them.
 * Node ports are unique while the range lasts (30000-32767); after that NodePort Services become
 * ClusterIP and LoadBalancers get none (allocateLoadBalancerNodePorts: false), as a real cluster
 * of that size must.
 */

export interface Size {
  readonly name: string;
  readonly services: number;
  readonly endpoints: number;
}

export const SIZES: readonly Size[] = [
  { name: '1k×10', services: 1000, endpoints: 10 },
  { name: '10k×10', services: 10000, endpoints: 10 },
  { name: '1k×100', services: 1000, endpoints: 100 },
  { name: '1×100k', services: 1, endpoints: 100000 },
];

export const NODE_NAME = 'node-0';
const NODES = 50;
const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const SLICE_MAX = 100;

/** mulberry32: a small seeded PRNG (benchmarks must not depend on Math.random). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ipOf = (base: [number, number], k: number) => `${base[0]}.${base[1] + (k >>> 16)}.${(k >>> 8) & 255}.${k & 255}`;

type Json = Record<string, unknown>;

/** `clusterIPOnly`: every Service a one-port TCP ClusterIP without affinity (the second mix). */
export interface MixOptions {
  readonly clusterIPOnly?: boolean;
}

/** The objects of one synthetic cluster, in kubectl's JSON shape. */
export function syntheticObjects(size: Size, mix: MixOptions = {}): Json[] {
  const rnd = prng(0x5eed + size.services * 31 + size.endpoints);
  const items: Json[] = [];
  let nodePort = 30000;
  const takeNodePort = () => (nodePort <= 32767 ? nodePort++ : 0);
  let endpointIndex = 1;

  items.push({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    hostnameOverride: NODE_NAME,
    clusterCIDR: '10.0.0.0/8',
    detectLocalMode: 'ClusterCIDR',
  });
  items.push({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE_NAME, labels: { 'topology.kubernetes.io/zone': ZONES[0] } },
    spec: { podCIDR: '10.0.0.0/24', podCIDRs: ['10.0.0.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }, { type: 'Hostname', address: NODE_NAME }] },
  });

  for (let i = 0; i < size.services; i++) {
    const ns = `ns-${i % 97}`;
    const name = `svc-${i}`;
    const r = rnd();
    let type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' = mix.clusterIPOnly || r < 0.6 ? 'ClusterIP' : r < 0.85 ? 'NodePort' : 'LoadBalancer';
    const nPorts = ((x) => (mix.clusterIPOnly || x < 0.85 ? 1 : x < 0.95 ? 2 : 3))(rnd());
    const portNames = ['http', 'https', 'metrics'];
    const ports: Json[] = [];
    for (let p = 0; p < nPorts; p++) {
      const port: Json = { name: portNames[p], protocol: p === 2 && rnd() < 0.5 ? 'UDP' : 'TCP', port: 80 + p * 363, targetPort: 8080 + p };
      if (type !== 'ClusterIP') {
        const np = takeNodePort();
        if (np === 0 && type === 'NodePort') type = 'ClusterIP';
        if (np !== 0) port.nodePort = np;
      }
      ports.push(port);
    }
    if (type === 'ClusterIP') for (const p of ports) delete p.nodePort;
    const clusterIP = ipOf([172, 16], i + 10);
    const external = type !== 'ClusterIP';
    const eTPLocal = external && rnd() < 0.3;
    const spec: Json = {
      type,
      clusterIP,
      clusterIPs: [clusterIP],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      ports,
      selector: { app: name },
      sessionAffinity: rnd() < 0.1 && !mix.clusterIPOnly ? 'ClientIP' : 'None',
      internalTrafficPolicy: rnd() < 0.03 && !mix.clusterIPOnly ? 'Local' : 'Cluster',
    };
    if (spec.sessionAffinity === 'ClientIP') spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
    if (external) spec.externalTrafficPolicy = eTPLocal ? 'Local' : 'Cluster';
    const status: Json = { loadBalancer: {} };
    if (type === 'LoadBalancer') {
      if (eTPLocal) {
        const hc = takeNodePort();
        spec.healthCheckNodePort = hc !== 0 ? hc : 32767;
      }
      if (rnd() < 0.4) spec.loadBalancerSourceRanges = ['203.0.113.0/24', `198.51.${i % 256}.0/24`];
      if (ports.every((p) => p.nodePort === undefined)) spec.allocateLoadBalancerNodePorts = false;
      status.loadBalancer = { ingress: [{ ip: ipOf([100, 64], i + 1), ipMode: 'VIP' }] };
    }
    items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec, status });

    if (rnd() < 0.03 && size.services > 1) continue; // no endpoints
    const slicePorts = ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.targetPort }));
    for (let s = 0; s * SLICE_MAX < size.endpoints; s++) {
      const endpoints: Json[] = [];
      for (let e = s * SLICE_MAX; e < Math.min(size.endpoints, (s + 1) * SLICE_MAX); e++) {
        const node = Math.floor(rnd() * NODES);
        const c = rnd();
        const terminating = c < 0.01;
        const ready = !terminating && c >= 0.03;
        endpoints.push({
          addresses: [ipOf([10, 1], endpointIndex++)],
          conditions: { ready, serving: ready || terminating, terminating },
          nodeName: `node-${node}`,
          zone: ZONES[node % ZONES.length],
          targetRef: { kind: 'Pod', namespace: ns, name: `${name}-${e}` },
        });
      }
      items.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${name}-${s.toString(36).padStart(5, '0')}`,
          namespace: ns,
          labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
        },
        addressType: 'IPv4',
        endpoints,
        ports: slicePorts,
      });
    }
  }
  return items;
}

/** The cluster as one `kubectl get -o json` List document. */
export function syntheticSnapshotText(size: Size, mix: MixOptions = {}): string {
  return JSON.stringify(syntheticList(size, mix), null, 2) + '\n';
}

export function syntheticList(size: Size, mix: MixOptions = {}): Json {
  return { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items: syntheticObjects(size, mix) };
}
