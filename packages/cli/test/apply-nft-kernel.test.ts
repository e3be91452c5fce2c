/**
 * `svcrules apply --mode nftables --netns NODE` through the CLI, checked against the kernel and
 * against `svcrules trace --mode nftables --json`: in a NetnsCluster (client namespace, node
 * 192.168.0.2, pods answering `<pod> <source it saw>`), real connections for each flow must reach
 * exactly the pods the trace lists, show the source it predicts (masqueraded to the node or kept),
 * and fail as it says (REJECT: connection refused, DROP: a timeout). Then, with a --state file:
 * re-apply changes nothing, a changed snapshot is a partial sync whose packets again agree with its
 * trace, a foreign nft table and an iptables rule survive every step, and cleanup removes only ours.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLIENT_IPS, NODE_IP, NetnsCluster, kernelGate, mustExec, type ProbeResult } from '@svcrules/testkit';
import type { TraceJson } from '../src/commands/trace.js';
import { runCli } from './run-cli.js';

const kernel = kernelGate(['ip', 'nft', 'iptables']);

const PODS = ['10.180.0.1', '10.180.0.2', '10.180.0.3', '10.180.0.4'].map((ip, i) => ({ name: `p${i + 1}`, ip, tcpPorts: [8080] }));
const POD_BY_IP = new Map(PODS.map((p) => [p.ip, p.name]));
const [ALLOWED, BLOCKED] = CLIENT_IPS; // 203.0.113.10 is in lb's source range 203.0.113.0/25, .200 is not

interface Svc {
  name: string;
  clusterIP: string;
  type?: 'NodePort' | 'LoadBalancer';
  nodePort?: number;
  local?: boolean;
  lb?: string;
  /** endpoint IP -> node */
  endpoints: Record<string, string>;
}

function yaml(services: readonly Svc[]): string {
  const docs = [
    'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\nhostnameOverride: test-node\nclusterCIDR: 10.0.0.0/8',
    `apiVersion: v1\nkind: Node\nmetadata: {name: test-node}\nstatus:\n  addresses:\n  - {type: InternalIP, address: ${NODE_IP}}`,
  ];
  for (const s of services) {
    docs.push(
      [
        'apiVersion: v1',
        'kind: Service',
        `metadata: {name: ${s.name}, namespace: ns}`,
        'spec:',
        `  type: ${s.type ?? 'ClusterIP'}`,
        `  clusterIP: ${s.clusterIP}`,
        `  clusterIPs: [${s.clusterIP}]`,
        '  ipFamilies: [IPv4]',
        `  ports: [{name: p, protocol: TCP, port: 80, targetPort: 8080${s.nodePort ? `, nodePort: ${s.nodePort}` : ''}}]`,
        ...(s.local ? ['  externalTrafficPolicy: Local', ...(s.type === 'LoadBalancer' ? ['  healthCheckNodePort: 32000'] : [])] : []),
        ...(s.lb ? ['  loadBalancerSourceRanges: [203.0.113.0/25]', 'status:', `  loadBalancer: {ingress: [{ip: ${s.lb}}]}`] : []),
      ].join('\n'),
      [
        'apiVersion: discovery.k8s.io/v1',
        'kind: EndpointSlice',
        `metadata: {name: ${s.name}-1, namespace: ns, labels: {kubernetes.io/service-name: ${s.name}}}`,
        'addressType: IPv4',
        'ports: [{name: p, protocol: TCP, port: 8080}]',
        Object.keys(s.endpoints).length === 0 ? 'endpoints: []' : `endpoints:\n${Object.entries(s.endpoints).map(([ip, node]) => `- {addresses: [${ip}], nodeName: ${node}}`).join('\n')}`,
      ].join('\n'),
    );
  }
  return `${docs.join('\n---\n')}\n`;
}

const FIRST: Svc[] = [
  { name: 'web', clusterIP: '172.30.0.41', endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'test-node', '10.180.0.3': 'test-node' } },
  { name: 'empty', clusterIP: '172.30.0.46', endpoints: {} },
  { name: 'np', clusterIP: '172.30.0.43', type: 'NodePort', nodePort: 30003, endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'other-node' } },
  { name: 'local', clusterIP: '172.30.0.42', type: 'NodePort', nodePort: 30002, local: true, endpoints: { '10.180.0.4': 'other-node' } },
  { name: 'lb', clusterIP: '172.30.0.44', type: 'LoadBalancer', nodePort: 30004, lb: '5.6.7.8', endpoints: { '10.180.0.3': 'test-node' } },
];
// web moves to p4 alone, empty is gone, np gains a local endpoint.
const SECOND: Svc[] = [
  { ...FIRST[0]!, endpoints: { '10.180.0.4': 'test-node' } },
  { ...FIRST[2]!, endpoints: { '10.180.0.1': 'test-node', '10.180.0.2': 'other-node', '10.180.0.3': 'test-node' } },
  FIRST[3]!,
  FIRST[4]!,
];

interface Flow {
  readonly what: string;
  /** `client` or a pod name. */
  readonly from: string;
  readonly src: string;
  readonly dst: string;
  readonly port: number;
}

const FLOWS: Flow[] = [
  { what: 'cluster IP, three endpoints, from a pod', from: 'p4', src: '10.180.0.4', dst: '172.30.0.41', port: 80 },
  { what: 'cluster IP hairpin (the endpoint itself)', from: 'p1', src: '10.180.0.1', dst: '172.30.0.41', port: 80 },
  { what: 'cluster IP on a port it does not serve', from: 'p4', src: '10.180.0.4', dst: '172.30.0.41', port: 81 },
  { what: 'cluster IP without endpoints', from: 'p4', src: '10.180.0.4', dst: '172.30.0.46', port: 80 },
  { what: 'NodePort eTP=Cluster from outside', from: 'client', src: ALLOWED, dst: NODE_IP, port: 30003 },
  { what: 'NodePort eTP=Local without a local endpoint', from: 'client', src: ALLOWED, dst: NODE_IP, port: 30002 },
  { what: 'LoadBalancer IP from an allowed source', from: 'client', src: ALLOWED, dst: '5.6.7.8', port: 80 },
  { what: 'LoadBalancer IP from a source outside loadBalancerSourceRanges', from: 'client', src: BLOCKED, dst: '5.6.7.8', port: 80 },
];

interface Seen {
  pods: string[];
  sources: string[];
  errors: string[];
}

/** What the kernel should show for a `trace --json`: the pods answering and the sources they saw, or the client's error. */
function expected(t: TraceJson, f: Flow): Seen {
  const pods = new Set<string>();
  const sources = new Set<string>();
  const errors = new Set<string>();
  for (const o of t.outcomes) {
    expect(o.verdict).not.toBe('UNKNOWN');
    if (o.verdict === 'ACCEPT') {
      pods.add(POD_BY_IP.get(o.dnat?.to.split(':')[0] ?? '') ?? `(not a pod: ${o.destination})`);
      sources.add(o.masquerade ? NODE_IP : f.src);
    } else errors.add(o.verdict === 'REJECT' ? o.reject!.tcp : 'TIMEOUT');
  }
  return { pods: [...pods].sort(), sources: [...sources].sort(), errors: [...errors].sort() };
}

function seen(results: readonly ProbeResult[]): Seen {
  const ok = results.filter((r): r is Extract<ProbeResult, { ok: true }> => r.ok);
  const bad = results.filter((r): r is Extract<ProbeResult, { ok: false }> => !r.ok);
  return { pods: [...new Set(ok.map((r) => r.pod))].sort(), sources: [...new Set(ok.map((r) => r.source))].sort(), errors: [...new Set(bad.map((r) => r.error))].sort() };
}

kernel.describe('svcrules apply --mode nftables agrees with svcrules trace --mode nftables', () => {
  let cluster: NetnsCluster;
  const dir = mkdtempSync(join(tmpdir(), 'svcr-nft-cli-'));
  const state = join(dir, 'nft.state');
  writeFileSync(join(dir, 'first.yaml'), yaml(FIRST));
  writeFileSync(join(dir, 'second.yaml'), yaml(SECOND));

  beforeAll(async () => {
    cluster = await NetnsCluster.create({ pods: PODS });
    // The node answers every REJECT: the ICMP rate limit (per peer, a burst of 6) would turn later ones into timeouts.
    await mustExec('ip', ['netns', 'exec', cluster.node, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0']);
    // Someone else's nft table and iptables rule on the node: every step must leave them alone.
    await mustExec('ip', ['netns', 'exec', cluster.node, 'nft', '-f', '-'], 'table ip foreign {\n\tset keep { type ipv4_addr; elements = { 198.51.100.1 } }\n}\n');
    await mustExec('ip', ['netns', 'exec', cluster.node, 'iptables', '-t', 'filter', '-A', 'INPUT', '-s', '198.51.100.2', '-j', 'ACCEPT']);
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (argv: string[]) => runCli(argv, dir);
  const foreignSurvives = async () => {
    expect(await mustExec('ip', ['netns', 'exec', cluster.node, 'nft', 'list', 'table', 'ip', 'foreign'])).toContain('198.51.100.1');
    expect(await mustExec('ip', ['netns', 'exec', cluster.node, 'iptables', '-S', 'INPUT'])).toContain('-A INPUT -s 198.51.100.2/32 -j ACCEPT');
  };

  async function agree(snapshot: string, flows: readonly Flow[]): Promise<void> {
    for (const f of flows) {
      const t = await cli(['trace', '--mode', 'nftables', '--json', '--from', f.from === 'client' ? 'external' : 'pod', '--src', f.src, '--dst', `${f.dst}:${f.port}`, snapshot]);
      expect(t.err).toBe('');
      const want = expected(JSON.parse(t.out) as TraceJson, f);
      const ns = f.from === 'client' ? cluster.client : cluster.pod(f.from);
      // Enough attempts that each of up to three equally likely endpoints is seen (a miss is < 3·(2/3)^30).
      const count = want.pods.length > 1 ? 30 : 3;
      const results = await cluster.probe(ns, { proto: 'tcp', host: f.dst, port: f.port, count, timeoutMs: 700, ...(f.from === 'client' ? { localAddress: f.src } : {}) });
      expect({ flow: f.what, ...seen(results) }).toEqual({ flow: f.what, ...want });
    }
  }

  test('apply, packets as traced, re-apply changes nothing, a changed snapshot is a partial sync, cleanup', async () => {
    const first = await cli(['apply', '--mode', 'nftables', '--netns', cluster.node, '--state', state, 'first.yaml']);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/^ipv4: full sync \(no state file .*\); \d+ nft operations in one transaction\n$/);
    await foreignSurvives();
    await agree('first.yaml', FLOWS);
    // The trace's own expectations, so the agreement above is about something.
    const web = JSON.parse((await cli(['trace', '--mode', 'nftables', '--json', '--src', '10.180.0.4', '--dst', '172.30.0.41:80', 'first.yaml'])).out) as TraceJson;
    expect(web.outcomes.map((o) => [o.dnat?.to, o.probability.exact])).toEqual([['10.180.0.1:8080', '1/3'], ['10.180.0.2:8080', '1/3'], ['10.180.0.3:8080', '1/3']]);
    expect(web.outcomes[0]!.path[0]).toMatchObject({ hook: 'prerouting', table: 'ip kube-proxy' });

    const again = await cli(['apply', '--mode', 'nftables', '--netns', cluster.node, '--state', state, 'first.yaml']);
    expect(again).toEqual({ code: 0, out: 'ipv4: partial sync; nothing to change\n', err: '' });
    expect(await cli(['diff', '--mode', 'nftables', '--netns', cluster.node, '--state', state, 'first.yaml'])).toEqual({ code: 0, out: '', err: 'ipv4: no changes\n' });

    const diff = await cli(['diff', '--mode', 'nftables', '--netns', cluster.node, '--state', state, 'second.yaml']);
    expect(diff.code).toBe(1);
    expect(diff.out).toMatch(/^chain endpoint-\S+-ns\/web\/tcp\/p__10\.180\.0\.4\/8080 \(new\)$/m);
    expect(diff.out).toMatch(/^chain endpoint-\S+-ns\/web\/tcp\/p__10\.180\.0\.1\/8080 \(deleted\)$/m);
    expect(diff.out).toContain('elements of cluster-ips (changed)\n- element cluster-ips { 172.30.0.46 }\n');

    const second = await cli(['apply', '--mode', 'nftables', '--netns', cluster.node, '--state', state, 'second.yaml']);
    expect(second).toMatchObject({ code: 0, err: '' });
    expect(second.out).toMatch(/^ipv4: partial sync; \d+ nft operations in one transaction; \d+ stale chains flushed \(deleted by the next apply\)\n$/);
    await foreignSurvives();
    await agree('second.yaml', FLOWS.filter((f) => f.dst !== '172.30.0.46'));
    const moved = JSON.parse((await cli(['trace', '--mode', 'nftables', '--json', '--src', '10.180.0.1', '--dst', '172.30.0.41:80', 'second.yaml'])).out) as TraceJson;
    expect(moved.outcomes.map((o) => o.dnat?.to)).toEqual(['10.180.0.4:8080']);

    // The table listed back from the node traces as the compiled one (--rules detects nft -j JSON).
    const listed = await mustExec('ip', ['netns', 'exec', cluster.node, 'nft', '-j', 'list', 'ruleset']);
    writeFileSync(join(dir, 'listed.json'), listed);
    const fromHost = JSON.parse((await cli(['trace', '--json', '--rules', 'listed.json', '--src', '10.180.0.1', '--dst', '172.30.0.41:80', 'second.yaml'])).out) as TraceJson;
    expect(fromHost.outcomes.map((o) => o.dnat?.to)).toEqual(['10.180.0.4:8080']);

    const cleanup = await cli(['cleanup', '--mode', 'nftables', '--family', 'ipv4', '--netns', cluster.node, '--state', state]);
    expect(cleanup).toEqual({ code: 0, out: 'ipv4: deleted table ip kube-proxy\n', err: '' });
    // What is left: the foreign table and the iptables rule's table (iptables-nft keeps its rules in nft).
    expect((await mustExec('ip', ['netns', 'exec', cluster.node, 'nft', 'list', 'tables'])).split('\n').filter((l) => l !== '' && l !== 'table ip filter')).toEqual(['table ip foreign']);
    await foreignSurvives();
  }, 300_000);

  test('a kube-proxy table svcrules did not write is refused by apply and cleanup, replaced with --force', async () => {
    // An empty kube-proxy table, as if kube-proxy had made it (whatever the first test left).
    await mustExec('ip', ['netns', 'exec', cluster.node, 'nft', '-f', '-'], 'table ip kube-proxy\ndelete table ip kube-proxy\nadd table ip kube-proxy\n');
    const refused = await cli(['apply', '--mode', 'nftables', '--netns', cluster.node, '--no-state', 'first.yaml']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/^svcrules: refusing to apply: the ip kube-proxy table exists and was not written by svcrules .* pass --force to replace the table\.\n$/);
    const noCleanup = await cli(['cleanup', '--mode', 'nftables', '--family', 'ipv4', '--netns', cluster.node]);
    expect(noCleanup.code).toBe(1);
    expect(noCleanup.err).toContain('pass --force to delete it anyway');
    const dry = await cli(['apply', '--mode', 'nftables', '--netns', cluster.node, '--force', '--dry-run', 'first.yaml']);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^add table ip kube-proxy/);
    expect(dry.err).toBe('ipv4: transaction checked with nft -c -f -: ok\n');
    expect(await mustExec('ip', ['netns', 'exec', cluster.node, 'nft', 'list', 'table', 'ip', 'kube-proxy'])).toBe('table ip kube-proxy {\n}\n');
    const forced = await cli(['apply', '--mode', 'nftables', '--netns', cluster.node, '--force', '--no-state', 'first.yaml']);
    expect(forced.code).toBe(0);
    await agree('first.yaml', FLOWS.slice(0, 1));
    expect(await cli(['cleanup', '--mode', 'nftables', '--family', 'ipv4', '--netns', cluster.node])).toMatchObject({ code: 0, out: 'ipv4: deleted table ip kube-proxy\n' });
    await foreignSurvives();
  }, 120_000);
});
