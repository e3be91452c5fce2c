/**
 * The nftables tracer against the real kernel. kube-proxy's expected table for
 * TestOverallNFTablesRules is loaded with `nft -f` into the node of a NetnsCluster (client
 * namespace, node 192.168.0.2, pods 10.180.0.1-5 answering `<pod> <source it saw>`); then, for a
 * handful of flows, real connections must reach exactly the pods the trace lists, show the source
 * the trace predicts (masqueraded to the node or kept), and fail as it says: REJECT as "connection
 * refused", DROP as a timeout. The table is then listed back (`nft -a list ruleset`, `nft -j list
 * ruleset`) and both listings must trace the same as the loaded dump.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_IPS, FIXTURES, NODE_IP, NetnsCluster, kernelGate, listNft, loadNft, type ProbeResult } from '@svcrules/testkit';
import { parseDump, parseRuleset, renderDump, tracePacketNft, type NftRuleset, type NftTraceResult } from '../src/index.js';

const kernel = kernelGate(['ip', 'nft']);

const PODS = ['10.180.0.1', '10.180.0.2', '10.180.0.3', '10.180.0.4', '10.180.0.5'].map((ip, i) => ({ name: `p${i + 1}`, ip, tcpPorts: [80] }));
const POD_BY_IP = new Map(PODS.map((p) => [p.ip, p.name]));
// The node's addresses in a NetnsCluster: its InternalIP and the client subnet's gateway.
const LOCAL = [NODE_IP, '203.0.113.1'];
const [ALLOWED, BLOCKED] = CLIENT_IPS; // 203.0.113.10 is inside svc5's source range 203.0.113.0/25, .200 is not

interface Flow {
  readonly what: string;
  /** `client` or a pod name. */
  readonly from: string;
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
}

const FLOWS: Flow[] = [
  { what: 'NodePort eTP=Cluster from outside', from: 'client', src: ALLOWED, dst: NODE_IP, dport: 3003 },
  { what: 'external IP eTP=Cluster, two endpoints', from: 'client', src: ALLOWED, dst: '192.168.99.33', dport: 80 },
  { what: 'LoadBalancer IP from an allowed source (with affinity)', from: 'client', src: ALLOWED, dst: '5.6.7.8', dport: 80 },
  { what: 'LoadBalancer IP from a source outside loadBalancerSourceRanges', from: 'client', src: BLOCKED, dst: '5.6.7.8', dport: 80 },
  { what: 'NodePort eTP=Local without a local endpoint', from: 'client', src: ALLOWED, dst: NODE_IP, dport: 3001 },
  { what: 'cluster IP, two endpoints, from a pod', from: 'p2', src: '10.180.0.2', dst: '172.30.0.44', dport: 80 },
  { what: 'cluster IP hairpin (the endpoint itself)', from: 'p1', src: '10.180.0.1', dst: '172.30.0.41', dport: 80 },
  { what: 'cluster IP without endpoints', from: 'p2', src: '10.180.0.2', dst: '172.30.0.46', dport: 80 },
  { what: 'cluster IP on a port it does not serve', from: 'p2', src: '10.180.0.2', dst: '172.30.0.41', dport: 81 },
  { what: 'unallocated IP in the service CIDR', from: 'p2', src: '10.180.0.2', dst: '172.30.0.99', dport: 80 },
];

function trace(rs: readonly NftRuleset[], f: Flow): NftTraceResult {
  return tracePacketNft(rs, { src: f.src, dst: f.dst, dport: f.dport, protocol: 'tcp' }, { from: f.from === 'client' ? 'external' : 'pod', localAddresses: LOCAL });
}

/** What the kernel should show for a trace: the pods answering and the sources they saw, or the client's error. */
function expected(r: NftTraceResult, f: Flow): { pods: string[]; sources: string[]; errors: string[] } {
  const pods = new Set<string>();
  const sources = new Set<string>();
  const errors = new Set<string>();
  for (const o of r.outcomes) {
    expect(o.verdict).not.toBe('UNKNOWN');
    if (o.verdict === 'ACCEPT') {
      const ip = o.dnat?.to.split(':')[0] ?? '';
      pods.add(POD_BY_IP.get(ip) ?? `(not a pod: ${o.destination})`);
      sources.add(o.masquerade ? NODE_IP : f.src);
    } else errors.add(o.verdict === 'REJECT' ? o.reject!.tcp : 'TIMEOUT');
  }
  return { pods: [...pods].sort(), sources: [...sources].sort(), errors: [...errors].sort() };
}

function seen(results: readonly ProbeResult[]): { pods: string[]; sources: string[]; errors: string[] } {
  const ok = results.filter((r): r is Extract<ProbeResult, { ok: true }> => r.ok);
  const bad = results.filter((r): r is Extract<ProbeResult, { ok: false }> => !r.ok);
  return {
    pods: [...new Set(ok.map((r) => r.pod))].sort(),
    sources: [...new Set(ok.map((r) => r.source))].sort(),
    errors: [...new Set(bad.map((r) => r.error))].sort(),
  };
}

kernel.describe('nftables trace agrees with the kernel', () => {
  let cluster: NetnsCluster;
  const dump = parseDump(readFileSync(join(FIXTURES, 'compile-nft', 'upstream', 'TestOverallNFTablesRules', 'expected.nft'), 'utf8'));

  beforeAll(async () => {
    cluster = await NetnsCluster.create({ pods: PODS });
    await loadNft(cluster.node, renderDump(dump));
  }, 60_000);
  afterAll(async () => {
    await cluster?.destroy();
  });

  test.each(FLOWS.map((f) => [f.what, f] as const))('%s', async (_what, f) => {
    const want = expected(trace([dump], f), f);
    const ns = f.from === 'client' ? cluster.client : cluster.pod(f.from);
    // Enough attempts that each of two equally likely endpoints is seen (a miss is 2^-23 likely).
    const count = want.pods.length > 1 ? 24 : 3;
    const results = await cluster.probe(ns, { proto: 'tcp', host: f.dst, port: f.dport, count, timeoutMs: 700, ...(f.from === 'client' ? { localAddress: f.src } : {}) });
    expect(seen(results)).toEqual(want);
  }, 60_000);

  test('nft lists the loaded table back as text and JSON that trace as the dump does', async () => {
    const text = parseRuleset(await listNft(cluster.node, 'text'));
    const json = parseRuleset(await listNft(cluster.node, 'json'));
    expect([text.format, json.format]).toEqual(['list', 'json']);
    const brief = (rs: readonly NftRuleset[]) => FLOWS.map((f) => trace(rs, f).outcomes.map((o) => `${o.verdict} ${o.destination} ${o.masquerade !== null} ${o.given.map((g) => g.key).join(',')}`));
    expect(brief(text.rulesets)).toEqual(brief([dump]));
    expect(brief(json.rulesets)).toEqual(brief([dump]));
  });

  test('other tables of the host count too: an earlier nat chain of another table maps first, a forward chain with policy drop drops', async () => {
    const other = `table ip other {
	chain pre {
		type nat hook prerouting priority -150; policy accept;
		ip daddr 172.30.0.44 tcp dport 80 dnat to 10.180.0.3:80
	}
	chain forward-check {
		type filter hook forward priority 10; policy drop;
		ct state established,related accept
		ip daddr 10.180.0.3 accept
	}
}
`;
    await loadNft(cluster.node, other);
    try {
      const rs = [dump, ...parseRuleset(other).rulesets];
      for (const f of [FLOWS[5]!, FLOWS[0]!]) {
        const r = trace(rs, f);
        const ns = f.from === 'client' ? cluster.client : cluster.pod(f.from);
        const results = await cluster.probe(ns, { proto: 'tcp', host: f.dst, port: f.dport, count: 6, timeoutMs: 700, ...(f.from === 'client' ? { localAddress: f.src } : {}) });
        expect({ flow: f.what, ...seen(results) }).toEqual({ flow: f.what, ...expected(r, f) });
      }
      // The other table's DNAT won: kube-proxy's nat chain never ran for the cluster IP.
      expect(trace(rs, FLOWS[5]!).outcomes.map((o) => [o.verdict, o.dnat?.rule.table])).toEqual([['ACCEPT', 'ip other']]);
      // svc3's NodePort goes to 10.180.0.3 as well: it passes the other forward chain.
      expect(expected(trace(rs, FLOWS[0]!), FLOWS[0]!).pods).toEqual(['p3']);
      // svc4's external IP leads to 10.180.0.4 or .5: the other forward chain's policy drops it.
      const dropped = FLOWS[1]!;
      const r = trace(rs, dropped);
      expect(r.outcomes.map((o) => o.verdict)).toEqual(['DROP', 'DROP']);
      expect(r.outcomes[0]!.decidedBy).toEqual({ policy: { table: 'ip other', chain: 'forward-check', policy: 'drop' } });
      const results = await cluster.probe(cluster.client, { proto: 'tcp', host: dropped.dst, port: dropped.dport, count: 2, timeoutMs: 700, localAddress: dropped.src });
      expect(seen(results)).toEqual(expected(r, dropped));
    } finally {
      await loadNft(cluster.node, 'delete table ip other\n');
    }
  }, 60_000);
});
