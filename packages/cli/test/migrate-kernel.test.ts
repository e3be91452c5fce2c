/**
 * `migrate` against the kernel: the same snapshot loaded in iptables mode (iptables-restore plus
 * kube-proxy's jump rules and its route_localnet sysctl) in one network-namespace cluster and in
 * nftables mode (`nft -f` of the kube-proxy table) in another of the same topology; every flow migrate
 * traced is sent for real in both. The flows it lists as different must really behave differently
 * (other endpoints, another source seen, refused or timed out), and every other flow the same.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBE_PROXY_HOOK_RULES, compile, compileNFTables, migrate, type MigrateFlow, type Snapshot } from '@svcrules/core';
import { hookRuleArgs, render } from '@svcrules/iptables';
import { renderDump } from '@svcrules/nftables';
import { loadSnapshot } from '@svcrules/snapshot';
import { CLIENT_IPS, FIXTURES, NODE_IP, NetnsCluster, kernelGate, type ProbeResult } from '@svcrules/testkit';

const kernel = kernelGate(['ip', 'iptables', 'iptables-restore', 'nfacct', 'nft', 'sysctl']);

const DIR = join(FIXTURES, 'migrate', 'node-addresses');
const SECOND = '192.168.1.2';
const POD = '10.180.0.2';
const LOCAL = [NODE_IP, SECOND];

function snapshot(): Snapshot {
  const loaded = loadSnapshot([{ name: 'input.yaml', text: readFileSync(join(DIR, 'input.yaml'), 'utf8') }]);
  if (loaded.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.snapshot;
}

const snap = snapshot();
const report = migrate(snap, { interfaceAddresses: LOCAL, podIP: POD, externalIP: CLIENT_IPS[0] });
const different = new Set(report.differences.map((d) => d.flow));
const endpointIPs = [...new Set(snap.endpointSlices.flatMap((s) => s.endpoints.map((e) => e.addresses[0]!)))];

async function makeCluster(): Promise<NetnsCluster> {
  const cluster = await NetnsCluster.create({ pods: [...endpointIPs.map((ip) => ({ name: ip, ip, tcpPorts: [8080] })), { name: POD, ip: POD }] });
  const r = await cluster.exec(cluster.node, 'ip', ['addr', 'add', `${SECOND}/32`, 'dev', 'ext0']);
  if (r.code !== 0) throw new Error(r.stderr);
  return cluster;
}

/** What a client sees of a flow: the endpoints reached with the source each saw, or the error. */
async function observe(cluster: NetnsCluster, f: MigrateFlow): Promise<string[]> {
  const ns = f.from === 'pod' ? cluster.pod(POD) : f.from === 'node' ? cluster.node : cluster.client;
  // Two equally likely endpoints: 15 attempts miss one with probability below 1e-4.
  const results: ProbeResult[] = await cluster.probe(ns, { proto: 'tcp', host: f.dst, port: f.dport, count: 15, timeoutMs: 800, localAddress: f.src });
  return [...new Set(results.map((x) => (x.ok ? `${x.pod} from ${x.source}` : x.error)))].sort();
}

kernel.describe('migrate: both modes in two netns clusters, the same flows sent', () => {
  let ipt: NetnsCluster;
  let nft: NetnsCluster;

  beforeAll(async () => {
    ipt = await makeCluster();
    nft = await makeCluster();
    const rules = compile(snap, { interfaceAddresses: LOCAL }).ruleset;
    for (const c of ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts']) {
      const r = await ipt.exec(ipt.node, 'nfacct', ['add', c]);
      if (r.code !== 0) throw new Error(r.stderr);
    }
    // kube-proxy's iptables mode sets route_localnet for localhost node ports.
    const s = await ipt.exec(ipt.node, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=1']);
    if (s.code !== 0) throw new Error(s.stderr);
    const restore = await ipt.exec(ipt.node, 'iptables-restore', ['-w', '5'], render(rules));
    if (restore.code !== 0) throw new Error(`iptables-restore: ${restore.stderr}`);
    for (const h of KUBE_PROXY_HOOK_RULES) {
      if (!rules.tables.some((t) => t.name === h.table && t.chains.some((c) => c.name === h.target))) continue;
      const r = await ipt.exec(ipt.node, 'iptables', ['-w', '5', '-t', h.table, '-I', h.chain, ...hookRuleArgs(h)]);
      if (r.code !== 0) throw new Error(`iptables -I: ${r.stderr}`);
    }
    const load = await nft.exec(nft.node, 'nft', ['-f', '-'], renderDump(compileNFTables(snap, { interfaceAddresses: LOCAL }).ruleset));
    if (load.code !== 0) throw new Error(`nft -f: ${load.stderr}`);
  }, 120_000);

  afterAll(async () => {
    await ipt?.destroy();
    await nft?.destroy();
  });

  test('migrate finds the documented differences of this snapshot', () => {
    expect([...new Set(report.differences.map((d) => d.reason?.id))].sort()).toEqual(['localhost-node-ports', 'node-port-addresses-primary', 'unused-cluster-ip-port']);
  });

  test.each(report.flows.map((f) => [`${different.has(f) ? 'differs' : 'agrees'}: ${f.kind} ${f.from} ${f.src} -> ${f.dst}:${f.dport}`, f] as const))('%s', async (_name, f) => {
    const [a, b] = [await observe(ipt, f), await observe(nft, f)];
    if (different.has(f)) expect(b).not.toEqual(a);
    else expect(b).toEqual(a);
  }, 60_000);
});
