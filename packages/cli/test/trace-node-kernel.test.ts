/**
 * The tracer on a node built like a real one, against the kernel. The node namespace has a cni0
 * bridge with pod veths, docker0 with a container and Docker's real rule set (DOCKER, DOCKER-USER,
 * DOCKER-ISOLATION-STAGE-1/2, `:FORWARD DROP`, MASQUERADE for 172.17.0.0/16, a published port), a
 * "legacy" bridge, flannel's MASQUERADE and forward rules, CentOS-style INPUT/FORWARD REJECTs with
 * icmp-host-prohibited, a physdev rule for bridged traffic, and svcrules' own rules loaded by
 * `svcrules apply --netns`. `svcrules node-state --netns` captures it; each flow is traced from that
 * capture alone (no interface flags) and then sent for real: the endpoints that answer, the source
 * they see, and the failure (refused, no route to host, timeout) must equal the trace. A node state
 * whose routes put docker0's subnet on cni0 (a broken interface inference) must fail the comparison.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBE_PROXY_HOOKS } from '@svcrules/core';
import { tracePacket, parseRuleset, type TraceFrom, type TraceResult, type NodeState } from '@svcrules/iptables';
import { BridgeNode, kernelGate, type ProbeResult } from '@svcrules/testkit';
import { loadNodeState, type NodeStateFile } from '../src/commands/trace-node-input.js';
import { runCli } from './run-cli.js';

const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'nfacct', 'sysctl']);

const NODE_IP = '192.168.0.2';
const CLIENT_IP = '203.0.113.10';
const EXT_GW = '203.0.113.1';

/** Pods on cni0 (10.244.0.0/24), the Docker container, the legacy host, the client, the node. */
const ADDRESSES: Record<string, string> = {
  '10.244.0.2': 'a',
  '10.244.0.3': 'b',
  '10.244.0.4': 'c',
  '10.244.0.5': 'd',
  '172.17.0.2': 'docker',
  '10.250.0.5': 'legacy',
  [CLIENT_IP]: 'client',
  [NODE_IP]: 'node',
  [EXT_GW]: 'node',
};

// Docker's rules as `iptables-save` prints them on a host with one container publishing 8080->80,
// CentOS's default REJECTs, flannel's FORWARD and MASQUERADE rules, and a CNI rule for bridged traffic.
const BASE_RULES = `*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 172.17.0.2/32 -d 172.17.0.2/32 -p tcp -m tcp --dport 80 -j MASQUERADE
-A POSTROUTING -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN
-A POSTROUTING -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A POSTROUTING ! -s 10.244.0.0/16 -d 10.244.0.0/24 -m comment --comment "flanneld masq" -j RETURN
-A POSTROUTING ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:CNI-BRIDGE - [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
:FLANNEL-FWD - [0:0]
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT -p icmp -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 2222 -j ACCEPT
-A INPUT -p tcp -m tcp --dport 9999 -j DROP
-A INPUT -j REJECT --reject-with icmp-host-prohibited
-A FORWARD -m physdev --physdev-is-bridged -j CNI-BRIDGE
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
-A CNI-BRIDGE -p tcp -m tcp --dport 9000 -j DROP
-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-2 -j RETURN
-A DOCKER-USER -j RETURN
-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT
COMMIT
`;

function svc(name: string, clusterIP: string, port: number, targetPort: number, endpoints: Record<string, string>, extra: { proto?: string; nodePort?: number; etpLocal?: boolean } = {}): string {
  const proto = extra.proto ?? 'TCP';
  const type = extra.nodePort ? 'NodePort' : 'ClusterIP';
  const eps = Object.entries(endpoints);
  return [
    `apiVersion: v1\nkind: Service\nmetadata: {name: ${name}, namespace: default}\nspec:\n  type: ${type}\n  clusterIP: ${clusterIP}\n  clusterIPs: [${clusterIP}]\n  ipFamilies: [IPv4]`,
    `  ports: [{name: p, protocol: ${proto}, port: ${port}, targetPort: ${targetPort}${extra.nodePort ? `, nodePort: ${extra.nodePort}` : ''}}]${extra.etpLocal ? '\n  externalTrafficPolicy: Local' : ''}`,
    '---',
    `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: ${name}-1, namespace: default, labels: {kubernetes.io/service-name: ${name}}}\naddressType: IPv4`,
    `ports: [{name: p, protocol: ${proto}, port: ${targetPort}}]`,
    eps.length === 0 ? 'endpoints: []' : `endpoints:\n${eps.map(([ip, node]) => `- {addresses: [${ip}], nodeName: ${node}}`).join('\n')}`,
  ].join('\n');
}

const SNAPSHOT = [
  'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nhostnameOverride: test-node\nclusterCIDR: 10.244.0.0/16',
  `apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\nstatus:\n  addresses:\n  - {type: InternalIP, address: ${NODE_IP}}`,
  svc('web', '10.96.0.10', 80, 8080, { '10.244.0.3': 'test-node', '10.244.0.4': 'test-node', '10.244.0.5': 'test-node' }),
  svc('empty', '10.96.0.11', 80, 8080, {}),
  svc('dns', '10.96.0.53', 53, 5353, { '10.244.0.2': 'test-node', '10.244.0.3': 'test-node' }, { proto: 'UDP' }),
  svc('np', '10.96.0.12', 80, 8080, { '10.244.0.2': 'test-node', '10.244.0.4': 'test-node' }, { nodePort: 30003 }),
  svc('remote', '10.96.0.13', 80, 8080, { '10.244.1.5': 'other-node' }, { nodePort: 30002, etpLocal: true }),
  svc('keep', '10.96.0.14', 80, 8080, { '10.244.0.5': 'test-node' }, { nodePort: 30007, etpLocal: true }),
  svc('s9000', '10.96.0.90', 90, 9000, { '10.244.0.3': 'test-node' }),
].join('\n---\n');

interface Flow {
  readonly name: string;
  readonly from: 'a' | 'b' | 'docker' | 'client' | 'node';
  readonly dst: string;
  readonly port: number;
  readonly proto?: 'tcp' | 'udp';
}

const SRC: Record<Flow['from'], string> = { a: '10.244.0.2', b: '10.244.0.3', docker: '172.17.0.2', client: CLIENT_IP, node: NODE_IP };
const FROM: Record<Flow['from'], TraceFrom> = { a: 'pod', b: 'pod', docker: 'pod', client: 'external', node: 'node' };

const FLOWS: Flow[] = [
  { name: 'outside to a cluster IP with three endpoints', from: 'client', dst: '10.96.0.10', port: 80 },
  { name: 'outside to a NodePort (eTP Cluster)', from: 'client', dst: NODE_IP, port: 30003 },
  { name: 'outside to an eTP=Local NodePort without local endpoints', from: 'client', dst: NODE_IP, port: 30002 },
  { name: 'outside to an eTP=Local NodePort with a local endpoint', from: 'client', dst: NODE_IP, port: 30007 },
  { name: 'outside to a Service without endpoints', from: 'client', dst: '10.96.0.11', port: 80 },
  { name: "outside to Docker's published port", from: 'client', dst: NODE_IP, port: 8080 },
  { name: 'outside to the container directly, published port', from: 'client', dst: '172.17.0.2', port: 80 },
  { name: 'outside to the container directly, unpublished port', from: 'client', dst: '172.17.0.2', port: 81 },
  { name: 'outside to a pod directly', from: 'client', dst: '10.244.0.3', port: 8080 },
  { name: 'outside to the legacy bridge', from: 'client', dst: '10.250.0.5', port: 8080 },
  { name: 'outside to an open node port', from: 'client', dst: NODE_IP, port: 2222 },
  { name: 'outside to a closed node port (CentOS REJECT)', from: 'client', dst: NODE_IP, port: 9090 },
  { name: 'outside to a dropped node port', from: 'client', dst: NODE_IP, port: 9999 },
  { name: 'outside UDP to the node (CentOS REJECT)', from: 'client', dst: NODE_IP, port: 9191, proto: 'udp' },
  { name: 'pod to a cluster IP', from: 'a', dst: '10.96.0.10', port: 80 },
  { name: 'hairpin: an endpoint to its own Service', from: 'b', dst: '10.96.0.10', port: 80 },
  { name: 'pod to the UDP DNS Service', from: 'a', dst: '10.96.0.53', port: 53, proto: 'udp' },
  { name: 'pod to a Service without endpoints', from: 'a', dst: '10.96.0.11', port: 80 },
  { name: 'pod to a NodePort', from: 'a', dst: NODE_IP, port: 30003 },
  { name: "pod to Docker's published port", from: 'a', dst: NODE_IP, port: 8080 },
  { name: 'pod to pod on the bridge', from: 'a', dst: '10.244.0.3', port: 8080 },
  { name: 'pod to pod on the bridge, port dropped by the physdev rule', from: 'a', dst: '10.244.0.3', port: 9000 },
  { name: 'pod to a Service whose backend shares the bridge: bridged after DNAT, dropped by the physdev rule', from: 'a', dst: '10.96.0.90', port: 90 },
  { name: 'pod to the outside: flannel masquerades', from: 'a', dst: CLIENT_IP, port: 7000 },
  { name: 'pod to the legacy bridge', from: 'a', dst: '10.250.0.5', port: 8080 },
  { name: 'pod to a closed node port', from: 'a', dst: NODE_IP, port: 9090 },
  { name: 'node to a cluster IP', from: 'node', dst: '10.96.0.10', port: 80 },
  { name: "node to Docker's published port", from: 'node', dst: NODE_IP, port: 8080 },
  { name: 'node to a pod', from: 'node', dst: '10.244.0.4', port: 8080 },
  { name: 'node to a Service without endpoints', from: 'node', dst: '10.96.0.11', port: 80 },
  { name: 'node to a NodePort', from: 'node', dst: NODE_IP, port: 30003 },
  { name: 'container to a cluster IP', from: 'docker', dst: '10.96.0.10', port: 80 },
  { name: 'container to the outside: Docker masquerades', from: 'docker', dst: CLIENT_IP, port: 7000 },
  { name: 'container to a pod', from: 'docker', dst: '10.244.0.2', port: 8080 },
  { name: 'container to the legacy bridge', from: 'docker', dst: '10.250.0.5', port: 8080 },
];

/** What a trace predicts: `name from source` per reachable server, or the one failure. */
function prediction(r: TraceResult): string[] {
  const out = new Set<string>();
  for (const o of r.outcomes) {
    if (o.given.length > 0) out.add(`assumed: ${o.given.map((g) => g.text).join('; ')}`);
    if (o.verdict === 'UNKNOWN') out.add(`UNKNOWN at ${o.stoppedAt?.rule.text}`);
    else if (o.verdict === 'DROP') out.add('TIMEOUT');
    else if (o.verdict === 'REJECT') out.add(r.packet.protocol === 'udp' ? o.reject!.udp : o.reject!.tcp);
    else {
      const host = o.destination.slice(0, o.destination.lastIndexOf(':'));
      out.add(`${ADDRESSES[host] ?? `unknown ${host}`} from ${o.masquerade ? (o.masquerade.to ?? 'an unknown address') : r.packet.src}`);
    }
  }
  return [...out].sort();
}

function observed(results: readonly ProbeResult[]): string[] {
  return [...new Set(results.map((x) => (x.ok ? `${x.pod} from ${x.source}` : x.error)))].sort();
}

kernel.describe('the tracer on a real-looking node (cni0, docker0, flannel, CentOS REJECT) equals the kernel', () => {
  let n: BridgeNode;
  const ns: Partial<Record<Flow['from'], string>> = {};
  let state: NodeState;
  let rules: ReturnType<typeof parseRuleset>;
  const seen = new Map<string, string[]>();
  let dir: string;

  beforeAll(async () => {
    n = await BridgeNode.create(async (b) => {
      await b.bridge('cni0', '10.244.0.1/24');
      await b.bridge('docker0', '172.17.0.1/16');
      await b.bridge('br1', '10.250.0.1/24');
      // A sink for Service IPs before DNAT (a node's default route), as a real node has one.
      await b.ip(b.node, 'link', 'add', 'svc0', 'type', 'veth', 'peer', 'name', 'svc1');
      await b.ip(b.node, 'link', 'set', 'svc0', 'up');
      await b.ip(b.node, 'route', 'add', '10.96.0.0/12', 'dev', 'svc0');
      ns.client = await b.outside('client', 'ext0', [`${NODE_IP}/24`, `${EXT_GW}/24`], [`${CLIENT_IP}/24`], EXT_GW, { tcp: [7000] });
      ns.a = await b.attach('cni0', 'a', '10.244.0.2/24', '10.244.0.1', { tcp: [8080], udp: [5353] });
      ns.b = await b.attach('cni0', 'b', '10.244.0.3/24', '10.244.0.1', { tcp: [8080, 9000], udp: [5353] });
      await b.attach('cni0', 'c', '10.244.0.4/24', '10.244.0.1', { tcp: [8080] });
      await b.attach('cni0', 'd', '10.244.0.5/24', '10.244.0.1', { tcp: [8080] });
      ns.docker = await b.attach('docker0', 'docker', '172.17.0.2/16', '172.17.0.1', { tcp: [80] });
      await b.attach('br1', 'legacy', '10.250.0.5/24', '10.250.0.1', { tcp: [8080] });
      await b.serve(b.node, 'node', { tcp: [2222, 9090, 9999], udp: [9191] });
      ns.node = b.node;
      const r = await b.exec(b.node, 'iptables-restore', ['-w', '5'], BASE_RULES);
      if (r.code !== 0) throw new Error(`iptables-restore: ${r.stderr}`);
    });
    dir = mkdtempSync(join(tmpdir(), 'svcr-node-'));
    writeFileSync(join(dir, 'cluster.yaml'), `${SNAPSHOT}\n`);
    const applied = await runCli(['apply', '--netns', n.node, 'cluster.yaml'], dir);
    if (applied.code !== 0) throw new Error(`svcrules apply: ${applied.err}`);
    const captured = await runCli(['node-state', '--netns', n.node], dir);
    if (captured.code !== 0) throw new Error(`svcrules node-state: ${captured.err}`);
    writeFileSync(join(dir, 'node.json'), captured.out);
    const file = JSON.parse(captured.out) as NodeStateFile;
    rules = parseRuleset(file.iptablesSave!);
    const io = { stdout: () => undefined, stderr: () => undefined, readFile: async () => captured.out, cwd: dir, stdoutIsTTY: false, env: {} };
    state = (await loadNodeState(io, { nodeState: 'node.json' })).node!;
  }, 120_000);

  afterAll(async () => {
    await n?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const trace = (f: Flow, node: NodeState) =>
    tracePacket(rules, { src: SRC[f.from], dst: f.dst, protocol: f.proto ?? 'tcp', dport: f.port }, { from: FROM[f.from], localAddresses: [], node, hooks: KUBE_PROXY_HOOKS });

  test.each(FLOWS.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const want = prediction(trace(f, state));
    const fails = want.length === 1 && /^(TIMEOUT|E[A-Z]+)$/.test(want[0]!);
    const reach = want.length;
    // Enough attempts that missing one of n equally likely endpoints is below 1e-4.
    const count = fails ? 2 : reach === 1 ? 2 : Math.ceil(Math.log(1e-4 / reach) / Math.log(1 - 1 / reach));
    const results = await n.probe(ns[f.from]!, { proto: f.proto ?? 'tcp', host: f.dst, port: f.port, count, timeoutMs: want.includes('TIMEOUT') ? 800 : 1500, localAddress: SRC[f.from] });
    const got = observed(results);
    seen.set(f.name, got);
    expect(got).toEqual(want);
  });

  test('the flows cover every kind of result, from every kind of source', () => {
    const all = FLOWS.map((f) => seen.get(f.name) ?? []).flat();
    for (const kind of ['TIMEOUT', 'ECONNREFUSED', 'EHOSTUNREACH']) expect(all).toContain(kind);
    expect(all.some((x) => x.startsWith('docker from '))).toBe(true);
    expect(new Set(FLOWS.map((f) => f.from)).size).toBe(5);
    expect(FLOWS.length).toBeGreaterThanOrEqual(30);
  });

  test('a broken interface inference (docker0 routes read as cni0) fails the comparison', () => {
    const broken: NodeState = { ...state, routes: state.routes.map((r) => (r.dev === 'docker0' ? { ...r, dev: 'cni0' } : r)) };
    const differ = FLOWS.filter((f) => seen.has(f.name) && JSON.stringify(prediction(trace(f, broken))) !== JSON.stringify(seen.get(f.name)));
    expect(differ.map((f) => f.name)).toEqual(expect.arrayContaining(["outside to Docker's published port", 'outside to the container directly, published port']));
  });
});

