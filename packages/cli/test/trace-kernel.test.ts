/**
 * The tracer against the real kernel. A one-node cluster of network namespaces (testkit's
 * NetnsCluster: a client namespace, the node, pods on veth pairs running servers that answer with
 * their name and the source address they saw) gets our compiled rules plus kube-proxy's hook rules.
 * For each traced destination, real connections must reach exactly the pods the tracer lists (all of
 * them, over enough attempts), see the source the tracer predicts (masqueraded to the node's address
 * or kept), and fail the way it says: REJECT as "connection refused", DROP as a timeout.
 */
import { compile } from '@svcrules/core';
import { KUBE_PROXY_HOOKS, KUBE_PROXY_HOOK_RULES } from '@svcrules/core';
import { hookRuleArgs, render, tracePacket, type TraceFrom, type TraceResult } from '@svcrules/iptables';
import { loadSnapshot } from '@svcrules/snapshot';
import { CLIENT_IPS, NODE_IP, NetnsCluster, kernelGate, type ProbeResult } from '@svcrules/testkit';

const kernel = kernelGate(['ip', 'iptables', 'iptables-restore', 'nfacct']);

const PODS = [
  { name: 'a', ip: '10.180.0.1', tcpPorts: [8080], udpPorts: [5353] },
  { name: 'b', ip: '10.180.0.2', tcpPorts: [8080], udpPorts: [5353] },
  { name: 'c', ip: '10.180.0.3', tcpPorts: [8080] },
  { name: 'd', ip: '10.180.0.4', tcpPorts: [8080] },
];
const POD_BY_IP = new Map(PODS.map((p) => [p.ip, p.name]));
// The node's own addresses in NodetnsCluster: its InternalIP and the client subnet's gateway.
const LOCAL = [NODE_IP, '203.0.113.1'];

interface Svc {
  ns: string;
  name: string;
  clusterIP: string;
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  port: number;
  protocol?: 'TCP' | 'UDP';
  targetPort: number;
  nodePort?: number;
  etp?: 'Local';
  affinity?: boolean;
  lb?: { ip: string; ranges: string[] };
  /** endpoint IP -> node name */
  endpoints: Record<string, string>;
}

const SERVICES: Svc[] = [
  { ns: 'ns1', name: 'web', clusterIP: '172.30.0.41', port: 80, targetPort: 8080, endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'test-node', '10.180.0.3': 'test-node' } },
  { ns: 'ns1', name: 'empty', clusterIP: '172.30.0.46', port: 80, targetPort: 8080, endpoints: {} },
  { ns: 'ns2', name: 'local', clusterIP: '172.30.0.42', type: 'NodePort', nodePort: 30002, etp: 'Local', port: 80, targetPort: 8080, endpoints: { '10.180.0.4': 'other-node' } },
  { ns: 'ns3', name: 'np', clusterIP: '172.30.0.43', type: 'NodePort', nodePort: 30003, port: 80, targetPort: 8080, endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'other-node' } },
  { ns: 'ns4', name: 'lb', clusterIP: '172.30.0.44', type: 'LoadBalancer', nodePort: 30004, port: 80, targetPort: 8080, lb: { ip: '5.6.7.8', ranges: ['203.0.113.0/25'] }, endpoints: { '10.180.0.3': 'test-node' } },
  { ns: 'ns5', name: 'sticky', clusterIP: '172.30.0.45', affinity: true, port: 80, targetPort: 8080, endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'test-node', '10.180.0.3': 'test-node' } },
  { ns: 'ns6', name: 'dns', clusterIP: '172.30.0.53', port: 53, protocol: 'UDP', targetPort: 5353, endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'test-node' } },
  { ns: 'ns7', name: 'keep', clusterIP: '172.30.0.47', type: 'NodePort', nodePort: 30007, etp: 'Local', port: 80, targetPort: 8080, endpoints: { '10.180.0.3': 'test-node' } },
];

function snapshotYaml(): string {
  const docs: string[] = [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nhostnameOverride: test-node\nclusterCIDR: 10.0.0.0/8',
    `apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\nstatus:\n  addresses:\n  - {type: InternalIP, address: ${NODE_IP}}`,
  ];
  for (const s of SERVICES) {
    const proto = s.protocol ?? 'TCP';
    docs.push(
      [
        'apiVersion: v1',
        'kind: Service',
        `metadata: {name: ${s.name}, namespace: ${s.ns}}`,
        'spec:',
        `  type: ${s.type ?? 'ClusterIP'}`,
        `  clusterIP: ${s.clusterIP}`,
        `  clusterIPs: [${s.clusterIP}]`,
        '  ipFamilies: [IPv4]',
        `  ports: [{name: p, protocol: ${proto}, port: ${s.port}, targetPort: ${s.targetPort}${s.nodePort ? `, nodePort: ${s.nodePort}` : ''}}]`,
        ...(s.etp ? [`  externalTrafficPolicy: ${s.etp}`, ...(s.type === 'LoadBalancer' ? ['  healthCheckNodePort: 32000'] : [])] : []),
        ...(s.affinity ? ['  sessionAffinity: ClientIP', '  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}'] : []),
        ...(s.lb ? [`  loadBalancerSourceRanges: [${s.lb.ranges.join(', ')}]`, 'status:', `  loadBalancer: {ingress: [{ip: ${s.lb.ip}}]}`] : []),
      ].join('\n'),
    );
    const eps = Object.entries(s.endpoints);
    docs.push(
      [
        'apiVersion: discovery.k8s.io/v1',
        'kind: EndpointSlice',
        `metadata: {name: ${s.name}-1, namespace: ${s.ns}, labels: {kubernetes.io/service-name: ${s.name}}}`,
        'addressType: IPv4',
        `ports: [{name: p, protocol: ${proto}, port: ${s.targetPort}}]`,
        eps.length === 0 ? 'endpoints: []' : `endpoints:\n${eps.map(([ip, node]) => `- {addresses: [${ip}], nodeName: ${node}}`).join('\n')}`,
      ].join('\n'),
    );
  }
  return `${docs.join('\n---\n')}\n`;
}

function compiled() {
  const loaded = loadSnapshot([{ name: 'cluster.yaml', text: snapshotYaml() }], { skipInvalid: false });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
  const result = compile(loaded.snapshot, {});
  if (result.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(result.diagnostics));
  return result.ruleset;
}

interface Expectation {
  /** Pod names the tracer says the connection can reach, with the source each one sees. */
  readonly pods: ReadonlyMap<string, string>;
  readonly failure: 'ECONNREFUSED' | 'TIMEOUT' | null;
  readonly sticky: boolean;
}

/** What the trace predicts a real connection will see. */
function expectation(r: TraceResult): Expectation {
  const pods = new Map<string, string>();
  let failure: Expectation['failure'] = null;
  for (const o of r.outcomes) {
    if (o.verdict === 'REJECT') failure = 'ECONNREFUSED';
    else if (o.verdict === 'DROP') failure = 'TIMEOUT';
    else if (o.dnat) {
      const ip = o.dnat.to.slice(0, o.dnat.to.lastIndexOf(':'));
      // MASQUERADE takes the address of the interface towards the pod: the node's address on its veth.
      pods.set(POD_BY_IP.get(ip) ?? `unknown ${ip}`, o.masquerade ? NODE_IP : r.packet.src);
    } else throw new Error(`outcome without DNAT or failure: ${o.verdict} ${o.destination}`);
  }
  if (failure && pods.size > 0) throw new Error('a flow both fails and succeeds: not a kube-proxy shape');
  return { pods, failure, sticky: r.outcomes.some((o) => o.affinity.some((a) => a.op === 'set' && a.matched)) };
}

kernel.describe('tracer predictions hold on the real kernel (netns cluster)', () => {
  let cluster: NetnsCluster;
  const ruleset = compiled();

  beforeAll(async () => {
    cluster = await NetnsCluster.create({ pods: PODS });
    const node = cluster.node;
    for (const c of ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts']) {
      const r = await cluster.exec(node, 'nfacct', ['add', c]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const restore = await cluster.exec(node, 'iptables-restore', ['-w', '5'], render(ruleset));
    if (restore.code !== 0) throw new Error(`iptables-restore: ${restore.stderr}`);
    for (const h of KUBE_PROXY_HOOK_RULES) {
      if (!ruleset.tables.some((t) => t.name === h.table && t.chains.some((c) => c.name === h.target))) continue;
      const r = await cluster.exec(node, 'iptables', ['-w', '5', '-t', h.table, '-I', h.chain, ...hookRuleArgs(h)]);
      if (r.code !== 0) throw new Error(`iptables -I: ${r.stderr}`);
    }
  }, 60_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  const FLOWS: { name: string; from: TraceFrom; ns: () => string; src: string; dst: string; port: number; proto?: 'tcp' | 'udp' }[] = [
    { name: 'pod to a cluster IP with three endpoints', from: 'pod', ns: () => cluster.pod('d'), src: '10.180.0.4', dst: '172.30.0.41', port: 80 },
    { name: 'outside client to a cluster IP: masqueraded', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[0], dst: '172.30.0.41', port: 80 },
    { name: 'hairpin: an endpoint to its own service', from: 'pod', ns: () => cluster.pod('a'), src: '10.180.0.1', dst: '172.30.0.41', port: 80 },
    { name: 'the node to a cluster IP', from: 'node', ns: () => cluster.node, src: NODE_IP, dst: '172.30.0.41', port: 80 },
    { name: 'no endpoints: REJECT', from: 'pod', ns: () => cluster.pod('d'), src: '10.180.0.4', dst: '172.30.0.46', port: 80 },
    { name: 'eTP=Local node port without local endpoints: DROP', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[0], dst: NODE_IP, port: 30002 },
    { name: 'eTP=Local node port from a pod: short-circuit to all endpoints', from: 'pod', ns: () => cluster.pod('a'), src: '10.180.0.1', dst: NODE_IP, port: 30002 },
    { name: 'eTP=Cluster node port from outside: masqueraded, both endpoints', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[0], dst: NODE_IP, port: 30003 },
    { name: 'eTP=Local node port with a local endpoint: client IP kept', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[0], dst: NODE_IP, port: 30007 },
    { name: 'LoadBalancer IP, source in loadBalancerSourceRanges', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[0], dst: '5.6.7.8', port: 80 },
    { name: 'LoadBalancer IP, source outside loadBalancerSourceRanges: DROP', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[1], dst: '5.6.7.8', port: 80 },
    { name: 'session affinity: one endpoint for every connection from a source', from: 'external', ns: () => cluster.client, src: CLIENT_IPS[0], dst: '172.30.0.45', port: 80 },
    { name: 'UDP cluster IP with two endpoints', from: 'pod', ns: () => cluster.pod('d'), src: '10.180.0.4', dst: '172.30.0.53', port: 53, proto: 'udp' },
  ];

  test.each(FLOWS.map((f) => [f.name, f]))('%s', async (_name, f) => {
    const proto = f.proto ?? 'tcp';
    const r = tracePacket(ruleset, { src: f.src, dst: f.dst, protocol: proto, dport: f.port }, { from: f.from, localAddresses: LOCAL, hooks: KUBE_PROXY_HOOKS });
    const want = expectation(r);
    // Enough attempts that missing one of n equally likely endpoints is below 1e-4.
    const count = want.failure ? 2 : want.sticky ? 12 : Math.max(1, Math.ceil(Math.log(1e-4 / Math.max(1, want.pods.size)) / Math.log(1 - 1 / Math.max(1, want.pods.size))));
    const results: ProbeResult[] = await cluster.probe(f.ns(), { proto, host: f.dst, port: f.port, count, timeoutMs: want.failure === 'TIMEOUT' ? 800 : 1500, localAddress: f.src });

    if (want.failure) {
      expect(results.map((x) => (x.ok ? `reached ${x.pod}` : x.error))).toEqual(new Array(count).fill(want.failure));
      return;
    }
    const seen = new Map<string, Set<string>>();
    for (const x of results) {
      expect(x.ok ? 'ok' : x.error).toBe('ok');
      if (!x.ok) continue;
      const sources = seen.get(x.pod) ?? new Set<string>();
      sources.add(x.source);
      seen.set(x.pod, sources);
    }
    const observed = [...seen.entries()].map(([pod, s]) => `${pod} from ${[...s].join(',')}`).sort();
    if (want.sticky) {
      // The first connection picks any of the traced endpoints; every later one sticks to it.
      expect(observed).toHaveLength(1);
      expect([...want.pods.entries()].map(([pod, src]) => `${pod} from ${src}`)).toContain(observed[0]);
    } else {
      expect(observed).toEqual([...want.pods.entries()].map(([pod, src]) => `${pod} from ${src}`).sort());
    }
  });
});

