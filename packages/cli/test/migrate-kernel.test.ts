/**
 * `migrate` against the kernel: the same snapshot loaded in iptables mode (iptables-restore plus
 * kube-proxy's jump rules and its route_localnet sysctl) in one network-namespace cluster and in
 * nftables mode (`nft -f` of the kube-proxy table) in another of the same topology; the flows migrate
 * traced are sent for real in both. The flows it lists as different must really behave differently
 * (other endpoints, another source seen, refused or timed out), and the others the same. Both
 * clusters carry the same host firewall, dropping each health-check node port in filter INPUT after
 * kube-proxy's rules: that is where iptables mode's accept rule shows; and the outside client holds
 * the unallocated service address migrate tries, so that leaving untranslated and being dropped differ.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KUBE_PROXY_HOOK_RULES, compile, compileNFTables, migrate, type CompileOptions, type MigrateFlow, type MigrateReport, type Snapshot } from '@svcrules/core';
import { hookRuleArgs, render } from '@svcrules/iptables';
import { renderDump } from '@svcrules/nftables';
import { loadSnapshot } from '@svcrules/snapshot';
import { CLIENT_IPS, FIXTURES, NODE_IP, NetnsCluster, kernelGate, type ProbeResult } from '@svcrules/testkit';

const kernel = kernelGate(['ip', 'iptables', 'iptables-restore', 'nfacct', 'nft', 'sysctl']);

interface Case {
  readonly name: string;
  readonly file: string;
  readonly options: CompileOptions;
  /** Node addresses besides NODE_IP, added to ext0. */
  readonly extraAddresses: readonly string[];
  readonly podIP?: string;
  /** Every flow that differs is sent, and every `sample`-th of the others. */
  readonly sample: number;
  readonly expected: readonly string[];
}

const CASES: readonly Case[] = [
  {
    name: 'node-addresses',
    file: join(FIXTURES, 'migrate', 'node-addresses', 'input.yaml'),
    options: { interfaceAddresses: [NODE_IP, '192.168.1.2'] },
    extraAddresses: ['192.168.1.2'],
    podIP: '10.180.0.2',
    sample: 1,
    expected: ['localhost-node-ports', 'node-port-addresses-primary', 'unused-cluster-ip-port'],
  },
  {
    name: 'TestOverallIPTablesRules',
    file: join(FIXTURES, 'compile', 'upstream', 'TestOverallIPTablesRules', 'input.yaml'),
    options: { masqueradeMark: '0x4000', serviceCIDRs: ['172.30.0.0/16'] },
    extraAddresses: [],
    sample: 3,
    expected: ['health-check-node-port', 'localhost-node-ports', 'unallocated-cluster-ip', 'unused-cluster-ip-port'],
  },
];

function load(file: string): Snapshot {
  const loaded = loadSnapshot([{ name: file, text: readFileSync(file, 'utf8') }]);
  if (loaded.diagnostics.some((d) => d.severity === 'error')) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.snapshot;
}

/** Each endpoint address with the ports it serves. */
function endpointPods(snap: Snapshot): Map<string, Set<number>> {
  const pods = new Map<string, Set<number>>();
  for (const s of snap.endpointSlices)
    for (const e of s.endpoints) {
      const ports = pods.get(e.addresses[0]!) ?? pods.set(e.addresses[0]!, new Set()).get(e.addresses[0]!)!;
      for (const p of s.ports) if (p.port !== null) ports.add(p.port);
    }
  return pods;
}

async function must(cluster: NetnsCluster, cmd: string, args: readonly string[], stdin?: string): Promise<void> {
  const r = await cluster.exec(cluster.node, cmd, args, stdin);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

async function makeCluster(c: Case, snap: Snapshot, report: MigrateReport): Promise<NetnsCluster> {
  const pods = [...endpointPods(snap)].map(([ip, ports]) => ({ name: ip, ip, tcpPorts: [...ports] }));
  const cluster = await NetnsCluster.create({ pods: [...pods, { name: report.podIP, ip: report.podIP }] });
  for (const a of c.extraAddresses) await must(cluster, 'ip', ['addr', 'add', `${a}/32`, 'dev', 'ext0']);
  // An unallocated service address is held by the outside client, which answers with a reset: a
  // packet that leaves untranslated is refused, one that is dropped times out.
  for (const f of report.flows.filter((x) => x.kind === 'unallocated-cluster-ip')) {
    const r = await cluster.exec(cluster.client, 'ip', ['addr', 'add', `${f.dst}/32`, 'dev', 'eth0']);
    if (r.code !== 0) throw new Error(r.stderr);
    await must(cluster, 'ip', ['route', 'add', `${f.dst}/32`, 'dev', 'ext0']);
  }
  return cluster;
}

/** The host's own firewall, the same in both clusters: health-check node ports are closed. */
async function hostFirewall(cluster: NetnsCluster, report: MigrateReport): Promise<void> {
  for (const f of report.flows.filter((x) => x.kind === 'health-check')) await must(cluster, 'iptables', ['-w', '5', '-A', 'INPUT', '-p', 'tcp', '--dport', String(f.dport), '-j', 'DROP']);
}

/** What a client sees of a flow: the endpoints reached with the source each saw, or the error. */
async function observe(cluster: NetnsCluster, report: MigrateReport, f: MigrateFlow): Promise<string[]> {
  const ns = f.from === 'pod' ? cluster.pod(report.podIP) : f.from === 'node' ? cluster.node : cluster.client;
  const probe = (count: number) => cluster.probe(ns, { proto: 'tcp', host: f.dst, port: f.dport, count, timeoutMs: 800, localAddress: f.src });
  const first: ProbeResult[] = await probe(1);
  // Two equally likely endpoints: 15 attempts miss one with probability below 1e-4. A flow that
  // fails fails every time (no endpoint to pick), so one attempt tells.
  const results = first[0]!.ok ? [...first, ...(await probe(14))] : first;
  return [...new Set(results.map((x) => (x.ok ? `${x.pod} from ${x.source}` : x.error)))].sort();
}

describe.each(CASES.map((c) => [c.name, c] as const))('migrate %s: both modes in two netns clusters, the same flows sent', (_name, c) => {
  const snap = load(c.file);
  const report = migrate(snap, { ...c.options, ...(c.podIP ? { podIP: c.podIP } : {}), externalIP: CLIENT_IPS[0] });
  const different = new Set(report.differences.map((d) => d.flow));
  let agreeing = 0;
  const sent = report.flows.filter((f) => different.has(f) || agreeing++ % c.sample === 0);

  kernel.describe('kernel', () => {
    let ipt: NetnsCluster;
    let nft: NetnsCluster;

    beforeAll(async () => {
      ipt = await makeCluster(c, snap, report);
      nft = await makeCluster(c, snap, report);
      const rules = compile(snap, c.options).ruleset;
      for (const counter of ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts']) await must(ipt, 'nfacct', ['add', counter]);
      // kube-proxy's iptables mode sets route_localnet for localhost node ports.
      await must(ipt, 'sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=1']);
      await must(ipt, 'iptables-restore', ['-w', '5'], render(rules));
      for (const h of KUBE_PROXY_HOOK_RULES) {
        if (!rules.tables.some((t) => t.name === h.table && t.chains.some((ch) => ch.name === h.target))) continue;
        await must(ipt, 'iptables', ['-w', '5', '-t', h.table, '-I', h.chain, ...hookRuleArgs(h)]);
      }
      await must(nft, 'nft', ['-f', '-'], renderDump(compileNFTables(snap, c.options).ruleset));
      await hostFirewall(ipt, report);
      await hostFirewall(nft, report);
    }, 120_000);

    afterAll(async () => {
      await ipt?.destroy();
      await nft?.destroy();
    });

    test('migrate finds the documented differences of this snapshot', () => {
      expect([...new Set(report.differences.map((d) => d.reason?.id))].sort()).toEqual(c.expected);
    });

    test.each(sent.map((f) => [`${different.has(f) ? 'differs' : 'agrees'}: ${f.kind} ${f.from} ${f.src} -> ${f.dst}:${f.dport}`, f] as const))('%s', async (_n, f) => {
      const [a, b] = [await observe(ipt, report, f), await observe(nft, report, f)];
      if (different.has(f)) expect(b).not.toEqual(a);
      else expect(b).toEqual(a);
    }, 60_000);
  });
});
