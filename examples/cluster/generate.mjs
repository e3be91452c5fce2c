// Writes cluster.yaml: a realistic 3-node cluster as `kubectl get svc,endpointslices,nodes -A -o yaml`
// would print it, seen from node-a. Deterministic: run `node examples/cluster/generate.mjs` to rewrite.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const nodes = [
  { name: 'node-a', ip: '10.0.1.11', zone: 'eu-west-1a', podCIDR: '10.244.0.0/24' },
  { name: 'node-b', ip: '10.0.1.12', zone: 'eu-west-1b', podCIDR: '10.244.1.0/24' },
  { name: 'node-c', ip: '10.0.1.13', zone: 'eu-west-1c', podCIDR: '10.244.2.0/24' },
];
let clusterIP = 10;
let podHost = 10;
const items = [];

function endpoints(n, opts = {}) {
  return Array.from({ length: n }, (_, i) => {
    const node = nodes[(i + (opts.offset ?? 0)) % nodes.length];
    const ep = {
      addresses: [opts.hostNetwork ? node.ip : `${node.podCIDR.split('.').slice(0, 3).join('.')}.${podHost++}`],
      conditions: { ready: !(opts.terminating?.includes(i)), serving: true, terminating: Boolean(opts.terminating?.includes(i)) },
      nodeName: node.name,
      zone: node.zone,
    };
    if (opts.hints) ep.hints = { forZones: [{ name: node.zone }] };
    return ep;
  });
}

function service(ns, name, spec, eps, slicePorts) {
  const ip = spec.clusterIP ?? `10.96.${Math.floor(clusterIP / 250)}.${clusterIP++ % 250}`;
  const { status, ...rest } = spec;
  items.push({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: ns, labels: { 'app.kubernetes.io/name': name } },
    spec: { type: 'ClusterIP', clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster', ...rest },
    ...(status ? { status } : {}),
  });
  if (eps === null) return;
  items.push({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-${(name.length * 7919).toString(36).slice(0, 5)}`, namespace: ns, labels: { 'kubernetes.io/service-name': name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    ports: slicePorts ?? spec.ports.map((p) => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: typeof p.targetPort === 'number' ? p.targetPort : p.port })),
    endpoints: eps.length ? eps : null,
  });
}

service('default', 'kubernetes', { clusterIP: '10.96.0.1', ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 6443 }] }, endpoints(3, { hostNetwork: true }));
service('kube-system', 'kube-dns', {
  clusterIP: '10.96.0.10',
  ports: [
    { name: 'dns', protocol: 'UDP', port: 53, targetPort: 53 },
    { name: 'dns-tcp', protocol: 'TCP', port: 53, targetPort: 53 },
    { name: 'metrics', protocol: 'TCP', port: 9153, targetPort: 9153 },
  ],
}, endpoints(2, { offset: 1 }));
service('kube-system', 'metrics-server', { ports: [{ name: 'https', protocol: 'TCP', port: 443, targetPort: 10250 }] }, endpoints(1, { offset: 2 }));
service('ingress-nginx', 'ingress-nginx-controller', {
  type: 'LoadBalancer',
  externalTrafficPolicy: 'Local',
  healthCheckNodePort: 32456,
  loadBalancerSourceRanges: ['203.0.113.0/24', '198.51.100.0/24'],
  ports: [
    { name: 'http', protocol: 'TCP', port: 80, targetPort: 80, nodePort: 31080 },
    { name: 'https', protocol: 'TCP', port: 443, targetPort: 443, nodePort: 31443 },
  ],
  status: { loadBalancer: { ingress: [{ ip: '192.0.2.50', ipMode: 'VIP' }] } },
}, endpoints(2, { offset: 1 }));
service('monitoring', 'prometheus', { ports: [{ name: 'web', protocol: 'TCP', port: 9090, targetPort: 9090 }], sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 3600 } } }, endpoints(2));
service('monitoring', 'node-exporter', { internalTrafficPolicy: 'Local', ports: [{ name: 'metrics', protocol: 'TCP', port: 9100, targetPort: 9100 }] }, endpoints(3, { hostNetwork: true }));
service('monitoring', 'grafana', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 3000, targetPort: 3000, nodePort: 30300 }] }, endpoints(1, { offset: 1 }));
service('shop', 'frontend', { type: 'LoadBalancer', ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort: 30080 }], status: { loadBalancer: { ingress: [{ ip: '192.0.2.60' }, { hostname: 'shop.example.com' }] } } }, endpoints(6, { hints: true }));
service('shop', 'cart', { trafficDistribution: 'PreferClose', ports: [{ name: 'grpc', protocol: 'TCP', port: 7070, targetPort: 7070 }] }, endpoints(4, { hints: true }));
service('shop', 'checkout', { ports: [{ name: 'grpc', protocol: 'TCP', port: 5050, targetPort: 5050 }] }, endpoints(3, { terminating: [0] }));
service('shop', 'payments', { ports: [{ name: 'grpc', protocol: 'TCP', port: 50051, targetPort: 50051 }] }, []);
service('shop', 'redis', { ports: [{ name: 'redis', protocol: 'TCP', port: 6379, targetPort: 6379 }] }, endpoints(1, { offset: 2 }));
service('shop', 'catalog', { ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }, { name: 'grpc', protocol: 'TCP', port: 9090, targetPort: 9090 }] }, endpoints(5));
service('shop', 'assets', { externalIPs: ['198.51.100.20'], ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }] }, endpoints(2, { offset: 2 }));
service('voip', 'sip', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'sip', protocol: 'UDP', port: 5060, targetPort: 5060, nodePort: 30560 }, { name: 'sctp', protocol: 'SCTP', port: 5061, targetPort: 5061, nodePort: 30561 }] }, endpoints(2, { offset: 1 }));
service('data', 'postgres', { clusterIP: 'None', ports: [{ name: 'pg', protocol: 'TCP', port: 5432, targetPort: 5432 }] }, endpoints(3));
service('data', 'legacy-db', { type: 'ExternalName', clusterIP: undefined, clusterIPs: undefined, ipFamilies: undefined, ipFamilyPolicy: undefined, externalName: 'db.legacy.example.com' }, null);
for (const [i, node] of nodes.entries()) {
  items.push({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'topology.kubernetes.io/zone': node.zone } },
    spec: { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] },
    status: { addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }] },
  });
  void i;
}
items.push({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', hostnameOverride: 'node-a', clusterCIDR: '10.244.0.0/16', mode: 'iptables', iptables: { masqueradeAll: false, localhostNodePorts: true } });

const strip = (x) => JSON.parse(JSON.stringify(x));
const here = dirname(fileURLToPath(import.meta.url));
writeFileSync(join(here, 'cluster.json'), JSON.stringify(strip({ apiVersion: 'v1', kind: 'List', items }), null, 2) + '\n');
