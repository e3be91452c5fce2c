/**
 * The tracer against kube-proxy's own expectations on kube-proxy's own rules:
 *  - every upstream expected dump (fixtures/compile-nft/upstream/*.nft) is traced for every flow
 *    that matters (each service-ips / service-nodeports / no-endpoint / firewall element, each
 *    cluster IP on a port it does not serve, an unallocated service IP, node IPs, from a pod, an
 *    external client, a blocked client, the node and each endpoint), and the outcome must be what
 *    kube-proxy's test tracer (helpers_test.go, reproduced in kube-proxy-tracer.ts) says: the same
 *    DNAT destinations, DROP, REJECT or nothing, and the same masquerade decision;
 *  - kube-proxy's packet-flow expectations of proxier_test.go (fixtures/trace-nft/upstream, see its
 *    README) hold on the rules of their tests.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, caseName, findCases } from '@svcrules/testkit';
import { parseDump, tracePacketNft, type NftRuleset, type NftTraceOutcome, type NftTraceResult } from '../src/index.js';
import { kubeProxyTrace } from './kube-proxy-tracer.js';

/** testNodeIPs of proxier_test.go. */
const NODE_IPS = ['192.168.0.2', '192.168.1.2', '192.168.99.11', '2001:db8::1', '2001:db8:1::2'];

const dumps = findCases(join(FIXTURES, 'compile-nft', 'upstream'), 'NOTES').flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.nft') && f !== 'existing.nft')
    .map((f) => [caseName(join(dir, f)), parseDump(readFileSync(join(dir, f), 'utf8'))] as const),
);

interface Flow {
  readonly src: string;
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly dst: string;
  readonly dport: number;
}

/** The flows worth tracing through one dump. */
function flowsOf(rs: NftRuleset): Flow[] {
  const els = (name: string) => rs.elements.filter((e) => e.container === name);
  const endpoints = rs.rules.flatMap((r) => {
    const m = /dnat to (\S+):\d+$/.exec(r.words.join(' '));
    return m ? [m[1]!] : [];
  });
  const nodePortIPs = [...els('nodeport-ips').map((e) => e.key[0]!), '192.168.1.2'];
  const sources = [...new Set(['10.0.0.2', '203.0.113.2', '203.0.113.130', '192.168.0.2', ...endpoints])];
  const targets: Omit<Flow, 'src'>[] = [];
  const proto = (p: string) => p as Flow['protocol'];
  for (const name of ['service-ips', 'no-endpoint-services', 'firewall-ips']) {
    for (const e of els(name)) targets.push({ dst: e.key[0]!, protocol: proto(e.key[1]!), dport: Number(e.key[2]) });
  }
  for (const name of ['service-nodeports', 'no-endpoint-nodeports']) {
    for (const e of els(name)) for (const ip of nodePortIPs) targets.push({ dst: ip, protocol: proto(e.key[0]!), dport: Number(e.key[1]) });
  }
  for (const e of els('cluster-ips')) targets.push({ dst: e.key[0]!, protocol: 'tcp', dport: 81 }, { dst: e.key[0]!, protocol: 'udp', dport: 80 });
  targets.push({ dst: '172.30.0.250', protocol: 'tcp', dport: 80 }, { dst: '192.168.0.2', protocol: 'tcp', dport: 22 }, { dst: '8.8.8.8', protocol: 'udp', dport: 53 });
  const seen = new Set<string>();
  const out: Flow[] = [];
  for (const t of targets) {
    for (const src of sources) {
      const k = `${src} ${t.protocol} ${t.dst} ${t.dport}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push({ src, ...t });
    }
  }
  return out;
}

function markedForMasquerade(o: NftTraceOutcome): boolean {
  return o.events.some((e) => e.effect === 'jump' && e.target === 'mark-for-masquerade');
}

/** Our result in the Go tracer's terms: the set of outputs and the masquerade flag. */
function asKubeProxy(r: NftTraceResult): { outputs: string[]; masq: boolean } {
  const outputs = r.outcomes.map((o) => (o.verdict === 'ACCEPT' ? (o.dnat?.to ?? '') : o.verdict));
  return { outputs: [...new Set(outputs)].sort(), masq: r.outcomes.some(markedForMasquerade) };
}

const trace = (rs: NftRuleset, f: Flow): NftTraceResult => tracePacketNft(rs, f, { from: 'external', localAddresses: NODE_IPS });

describe("kube-proxy's test tracer and ours agree on every upstream dump", () => {
  test.each(dumps)('%s', (_name, rs) => {
    let compared = 0;
    let affinity = 0;
    for (const f of flowsOf(rs)) {
      let want;
      try {
        want = kubeProxyTrace(rs, f.src, f.protocol, f.dst, f.dport, NODE_IPS);
      } catch (e) {
        // The Go tracer cannot read session-affinity rules; our trace must fork on them instead.
        expect(String(e)).toMatch(/@affinity-/);
        expect(trace(rs, f).outcomes.some((o) => o.given.some((g) => g.code === 'affinity'))).toBe(true);
        affinity++;
        continue;
      }
      const got = asKubeProxy(trace(rs, f));
      expect({ flow: f, ...got }).toEqual({ flow: f, outputs: [...new Set(want.output.split(', '))].sort(), masq: want.masq });
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
    // Where the packet is delivered, the mark decides masquerading in nat-postrouting.
    for (const f of flowsOf(rs)) {
      for (const o of trace(rs, f).outcomes) if (o.verdict === 'ACCEPT') expect({ flow: f, masq: o.masquerade !== null }).toEqual({ flow: f, masq: markedForMasquerade(o) });
    }
    expect(affinity).toBeGreaterThanOrEqual(0);
  });
});

interface UpstreamFlow {
  readonly name: string;
  readonly sourceIP: string;
  readonly protocol: string;
  readonly destIP: string;
  readonly destPort: number;
  readonly output: string;
  readonly masq: boolean;
}

/** flows.yaml is a flat list of `- key: value` maps (strings quoted, numbers and booleans bare). */
function readFlows(text: string): UpstreamFlow[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    const m = /^(- |  )(\w+): (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === '- ') out.push({});
    const v = m[3]!;
    out[out.length - 1]![m[2]!] = v.startsWith('"') ? JSON.parse(v) : v === 'true' || v === 'false' ? v === 'true' : Number(v);
  }
  return out as unknown as UpstreamFlow[];
}

const FLOWS_ROOT = join(FIXTURES, 'trace-nft', 'upstream');
const flowCases = readdirSync(FLOWS_ROOT, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

/** The rules a folder's flows run on: its ruleset.nft, or kube-proxy's own expected dump for TestOverallNFTablesRules. */
function rulesOf(test: string): NftRuleset {
  if (test === 'TestOverallNFTablesRules') return dumps.find(([n]) => n.includes('/TestOverallNFTablesRules/'))![1];
  return parseDump(readFileSync(join(FLOWS_ROOT, test, 'ruleset.nft'), 'utf8'));
}

describe("kube-proxy's packet-flow expectations (fixtures/trace-nft/upstream)", () => {
  test('the folders: one per Go test, or per table-driven case', () => {
    const count = (test: string) => flowCases.filter((c) => c === test || c.startsWith(`${test}-`)).length;
    expect(
      Object.fromEntries(
        [
          'TestClusterIPGeneral',
          'TestExternalTrafficPolicyCluster',
          'TestExternalTrafficPolicyLocal',
          'TestInternalExternalMasquerade',
          'TestInternalTrafficPolicy',
          'TestLoadBalancer',
          'TestNoEndpointsReject',
          'TestNodePorts',
          'TestOverallNFTablesRules',
          'TestTerminatingEndpointsTrafficPolicyCluster',
          'TestTerminatingEndpointsTrafficPolicyLocal',
        ].map((t) => [t, count(t)]),
      ),
    ).toEqual({
      TestClusterIPGeneral: 1,
      TestExternalTrafficPolicyCluster: 1,
      TestExternalTrafficPolicyLocal: 1,
      // base, no LocalTrafficDetector, masqueradeAll, both
      TestInternalExternalMasquerade: 4,
      // cluster, local with one / several / no local endpoints, and the syncs after deletion
      TestInternalTrafficPolicy: 6,
      TestLoadBalancer: 1,
      TestNoEndpointsReject: 1,
      // ipv4, ipv6, each with the default and with several nodePortAddresses
      TestNodePorts: 4,
      TestOverallNFTablesRules: 1,
      // each case, and the sync after its slice is deleted
      TestTerminatingEndpointsTrafficPolicyCluster: 5,
      TestTerminatingEndpointsTrafficPolicyLocal: 5,
    });
    expect(flowCases).toHaveLength(30);
  });

  test.each(flowCases)('%s', (test) => {
    const rs = rulesOf(test);
    const flows = readFlows(readFileSync(join(FLOWS_ROOT, test, 'flows.yaml'), 'utf8'));
    expect(flows.length).toBeGreaterThanOrEqual(1);
    for (const f of flows) {
      const r = tracePacketNft(rs, { src: f.sourceIP, dst: f.destIP, dport: f.destPort, protocol: f.protocol.toLowerCase() as Flow['protocol'] }, { from: 'external', localAddresses: NODE_IPS });
      expect(r.outcomes.filter((o) => o.verdict === 'UNKNOWN')).toEqual([]);
      // Affinity: the branch without an entry is the first connection, which kube-proxy's expectations describe.
      const first = r.outcomes.filter((o) => !o.given.some((g) => g.code === 'affinity' && g.holds));
      const got = asKubeProxy({ ...r, outcomes: first });
      expect({ flow: f.name, ...got }).toEqual({ flow: f.name, outputs: [...new Set(f.output.split(', '))].sort(), masq: f.masq });
    }
  });
});
