/**
 * kube-proxy's nftables packet-flow expectations (`runPacketFlowTests` in pkg/proxy/nftables/
 * proxier_test.go) with real packets. Each upstream case's input (fixtures/trace/upstream) is
 * compiled in nftables mode with the test fake's service CIDR, loaded with the real `nft -f` into the
 * node of a network-namespace cluster (testkit's NetnsCluster: pods routed behind the node, each
 * endpoint a pod answering with its name and the source it saw, an outside client namespace), and
 * every flow is sent for real: the answering endpoints must be exactly the expected ones, the source
 * they see the node's address when the flow is masqueraded and the client's otherwise, REJECT must
 * be "connection refused" and DROP a timeout.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileNFTables } from '@svcrules/core';
import type { Snapshot } from '@svcrules/core';
import { renderDump } from '@svcrules/nftables';
import { loadSnapshot } from '@svcrules/snapshot';
import { FIXTURES, NODE_IP, NetnsCluster, caseName, findCases, kernelGate, readFlows } from '@svcrules/testkit';
import type { PacketFlow, PodSpec, ProbeResult } from '@svcrules/testkit';

const kernel = kernelGate(['ip', 'nft']);

/**
 * Cases whose nftables test makes the same flows as the iptables one the fixture was read from.
 * Left out: TestNodePorts (localhost node ports, which nftables mode does not have), the health-check
 * tests (an ACCEPT of the host's own port) and TestTracePacket (no input).
 */
const cases = findCases(join(FIXTURES, 'trace', 'upstream'), 'flows.yaml').filter(
  (d) => existsSync(join(d, 'input.yaml')) && !/\/(TestNodePorts|TestHealthCheckNodePort)/.test(d),
);

/**
 * Where kube-proxy's nftables test expects something else than its iptables test (the nftables
 * proxier rejects other ports of a cluster IP and drops unallocated service addresses).
 */
const NFT_FLOWS: Readonly<Record<string, readonly Partial<PacketFlow>[]>> = {
  TestClusterIPGeneral: [
    { name: 'TCP-only port does not match UDP traffic', output: 'REJECT' },
    { name: "svc1 does not accept svc2's ports", output: 'REJECT' },
    { name: 'packet to unallocated cluster ip', sourceIP: '10.180.0.2', protocol: 'TCP', destIP: '172.30.0.50', destPort: 80, output: 'DROP', masq: false },
  ],
};

function flowsOf(dir: string): PacketFlow[] {
  const flows = readFlows(dir);
  const base = flows[0]!;
  for (const o of NFT_FLOWS[dir.slice(dir.lastIndexOf('/') + 1)] ?? []) {
    const i = flows.findIndex((f) => f.name === o.name);
    if (i >= 0) flows[i] = { ...flows[i]!, ...o };
    else flows.push({ ...base, ...o } as PacketFlow);
  }
  return flows;
}

const EXTERNAL = ['203.0.113.2', '203.0.113.130'];

/** Flows real packets can make here: IPv4, TCP or UDP, from a pod, the node or an outside client. */
function sendable(f: PacketFlow): string | undefined {
  if (f.sourceIP.includes(':') || f.destIP.includes(':')) return 'IPv6';
  if (f.protocol === 'SCTP') return 'SCTP (the probe speaks TCP and UDP)';
  if (f.sourceIP.startsWith('127.')) return 'from localhost (nftables mode has no localhost node ports)';
  if (f.output === '' || f.output === 'ACCEPT') return 'not a service flow';
  if (!f.sourceIP.startsWith('10.') && !EXTERNAL.includes(f.sourceIP) && !f.nodeIPs.includes(f.sourceIP)) return `source ${f.sourceIP} is neither a pod, the node nor the client`;
  return undefined;
}

function compileCase(dir: string): { snapshot: Snapshot; text: string } {
  const loaded = loadSnapshot([{ name: 'input.yaml', text: readFileSync(join(dir, 'input.yaml'), 'utf8') }]);
  if (loaded.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(loaded.diagnostics));
  // The inputs are iptables-mode configurations: the fake's masqueradeAll goes to the nftables section.
  const config = loaded.snapshot.config;
  const snapshot: Snapshot = config ? { ...loaded.snapshot, config: { ...config, nftables: { masqueradeAll: config.masqueradeAll ?? false } } } : loaded.snapshot;
  // NewFakeProxier: mark 0x4000 and service CIDR 172.30.0.0/16.
  const r = compileNFTables(snapshot, { masqueradeMark: '0x4000', serviceCIDRs: ['172.30.0.0/16'] });
  if (r.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(r.diagnostics));
  return { snapshot, text: renderDump(r.ruleset) };
}

/** A pod per endpoint IP (serving every port its slices name) and per pod source of the flows. */
function podsFor(snapshot: Snapshot, flows: readonly PacketFlow[]): PodSpec[] {
  const pods = new Map<string, { tcp: Set<number>; udp: Set<number> }>();
  const pod = (ip: string) => pods.get(ip) ?? pods.set(ip, { tcp: new Set(), udp: new Set() }).get(ip)!;
  for (const s of snapshot.endpointSlices) {
    if (s.addressType !== 'IPv4') continue;
    for (const ep of s.endpoints) {
      for (const p of s.ports) {
        if (p.port === null) continue;
        if (p.protocol === 'TCP') pod(ep.addresses[0]!).tcp.add(p.port);
        if (p.protocol === 'UDP') pod(ep.addresses[0]!).udp.add(p.port);
      }
    }
  }
  for (const f of flows) if (f.sourceIP.startsWith('10.')) pod(f.sourceIP);
  return [...pods].map(([ip, ports]) => ({ name: ip, ip, tcpPorts: [...ports.tcp], udpPorts: [...ports.udp] }));
}

interface Expected {
  readonly endpoints: readonly string[];
  readonly failure: 'ECONNREFUSED' | 'TIMEOUT' | null;
}

function expected(f: PacketFlow): Expected {
  if (f.output === 'REJECT') return { endpoints: [], failure: 'ECONNREFUSED' };
  if (f.output === 'DROP') return { endpoints: [], failure: 'TIMEOUT' };
  return { endpoints: f.output.split(', ').map((e) => e.slice(0, e.lastIndexOf(':'))), failure: null };
}

for (const dir of cases) {
  const flows = flowsOf(dir);
  kernel.describe(`nftables packet flows with real packets: ${caseName(dir)}`, () => {
    let cluster: NetnsCluster;
    const { snapshot, text } = compileCase(dir);

    beforeAll(async () => {
      cluster = await NetnsCluster.create({ pods: podsFor(snapshot, flows) });
      // The fake's other node addresses, and its outside clients (allowed and blocked by source ranges).
      for (const ip of flows[0]!.nodeIPs.filter((a) => !a.includes(':') && a !== NODE_IP)) await cluster.exec(cluster.node, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'ext0']);
      for (const ip of EXTERNAL) await cluster.exec(cluster.client, 'ip', ['addr', 'add', `${ip}/24`, 'dev', 'eth0']);
      const r = await cluster.exec(cluster.node, 'nft', ['-f', '-'], text);
      if (r.code !== 0) throw new Error(`nft -f: ${r.stderr}`);
    }, 60_000);

    afterAll(async () => {
      await cluster?.destroy();
    });

    test.each(flows.filter((f) => sendable(f) === undefined).map((f) => [f.name, f] as const))('%s', async (_name, f) => {
      const want = expected(f);
      const from = f.sourceIP.startsWith('10.') ? cluster.pod(f.sourceIP) : f.nodeIPs.includes(f.sourceIP) ? cluster.node : cluster.client;
      const n = Math.max(1, want.endpoints.length);
      // Enough attempts that missing one of n equally likely endpoints is below 1e-4.
      const count = want.failure ? 2 : n === 1 ? 2 : Math.ceil(Math.log(1e-4 / n) / Math.log(1 - 1 / n));
      const proto = f.protocol === 'UDP' ? 'udp' : 'tcp';
      const probe = () => cluster.probe(from, { proto, host: f.destIP, port: f.destPort, count, timeoutMs: want.failure === 'TIMEOUT' ? 800 : 1500, localAddress: f.sourceIP });
      const results: ProbeResult[] = await probe();
      // A busy machine can still miss an endpoint now and then (174 flows × 1e-4): up to three more
      // rounds while one is missing. A wrong answer (another pod, an error) is never retried away.
      const wanted = new Set(want.endpoints);
      for (let round = 0; !want.failure && round < 3 && ![...wanted].every((ep) => results.some((x) => x.ok && x.pod === ep)); round++) results.push(...(await probe()));
      if (want.failure) {
        expect(results.map((x) => (x.ok ? `reached ${x.pod}` : x.error))).toEqual(new Array(count).fill(want.failure));
        return;
      }
      const seenSource = f.masq && !f.nodeIPs.includes(f.sourceIP) ? NODE_IP : f.sourceIP;
      const observed = new Set(results.map((x) => (x.ok ? `${x.pod} from ${x.source}` : x.error)));
      expect([...observed].sort()).toEqual(want.endpoints.map((ep) => `${ep} from ${seenSource}`).sort());
    });
  });
}
