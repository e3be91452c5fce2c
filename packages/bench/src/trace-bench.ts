/**
 * `svcrules trace` on a node-sized ruleset with the node's state: the synthetic 10k×10 cluster (about
 * 430k lines once kube-proxy's rules are rendered), read back with the parser as `--rules` would, plus
 * Docker's and flannel's rules, traced with addresses, routes and bridge ports. Reports the parse, the
 * first trace (which indexes the ruleset) and the median/max of later traces of varied flows.
 *
 *   node packages/bench/dist/trace-bench.js [size-name]
 */
import { performance } from 'node:perf_hooks';
import { compile, KUBE_PROXY_HOOKS } from '@svcrules/core';
import { parseRuleset, render, tracePacket, type NodeState, type TraceFrom, parseIpAddress, parseIpRoute } from '@svcrules/iptables';
import { loadSnapshot } from '@svcrules/snapshot';
import { SIZES, syntheticSnapshotText } from './generate.js';

const EXTRA = `*nat
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A POSTROUTING -s 10.0.0.0/8 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A DOCKER -i docker0 -j RETURN
COMMIT
*filter
:DOCKER-USER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -s 10.0.0.0/8 -m comment --comment "flanneld forward" -j ACCEPT
-A FORWARD -j REJECT --reject-with icmp-host-prohibited
-A DOCKER-USER -j RETURN
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
COMMIT
`;

const NODE: NodeState = {
  interfaces: parseIpAddress(
    [
      [
        { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
        { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.0.10', prefixlen: 24 }] },
        { ifname: 'cni0', addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }] },
        { ifname: 'veth1', master: 'cni0', addr_info: [] },
        { ifname: 'flannel.1', addr_info: [{ family: 'inet', local: '10.0.0.0', prefixlen: 32 }] },
        { ifname: 'docker0', addr_info: [{ family: 'inet', local: '172.17.0.1', prefixlen: 16 }] },
      ],
    ],
    'bench',
  ),
  routes: parseIpRoute(
    [
      [
        { dst: 'default', gateway: '192.168.0.1', dev: 'eth0' },
        { dst: '192.168.0.0/24', dev: 'eth0' },
        { dst: '10.0.0.0/24', dev: 'cni0' },
        { dst: '10.0.0.0/8', gateway: '10.1.0.0', dev: 'flannel.1' },
        { dst: '172.17.0.0/16', dev: 'docker0' },
        { type: 'local', dst: '192.168.0.10', dev: 'eth0', table: 'local' },
        { type: 'local', dst: '10.0.0.1', dev: 'cni0', table: 'local' },
        { type: 'local', dst: '127.0.0.0/8', dev: 'lo', table: 'local' },
      ],
    ],
    'bench',
  ),
  sysctls: { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' },
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface TraceBenchResult {
  readonly lines: number;
  readonly parseMs: number;
  readonly firstTraceMs: number;
  readonly medianMs: number;
  readonly maxMs: number;
  readonly traces: number;
}

export function measureTrace(sizeName = '10k×10', traces = 300): TraceBenchResult {
  const size = SIZES.find((s) => s.name === sizeName);
  if (!size) throw new Error(`no size ${sizeName}`);
  const loaded = loadSnapshot([{ name: 'bench.json', text: syntheticSnapshotText(size) }]);
  const text = render(compile(loaded.snapshot).ruleset) + EXTRA;
  const lines = text.split('\n').length - 1;
  let t = performance.now();
  const ruleset = parseRuleset(text);
  const parseMs = performance.now() - t;
  // Flows over the Services' own addresses: cluster IPs and node ports from a pod, outside and the node.
  const services = loaded.snapshot.services.filter((s) => s.clusterIPs.length > 0 && s.ports.length > 0);
  const flows: { src: string; dst: string; port: number; from: TraceFrom }[] = [];
  for (let i = 0; flows.length < traces; i++) {
    const s = services[(i * 7919) % services.length]!;
    const p = s.ports[0]!;
    const from: TraceFrom = (['pod', 'external', 'node'] as const)[i % 3]!;
    const src = from === 'pod' ? '10.0.0.5' : from === 'node' ? '192.168.0.10' : '203.0.113.7';
    if (p.nodePort && i % 2 === 0) flows.push({ src, dst: '192.168.0.10', port: p.nodePort, from });
    else flows.push({ src, dst: s.clusterIPs[0]!, port: p.port, from });
  }
  const run = (f: (typeof flows)[number]) =>
    tracePacket(ruleset, { src: f.src, dst: f.dst, protocol: 'tcp', dport: f.port }, { from: f.from, localAddresses: [], node: NODE, hooks: KUBE_PROXY_HOOKS });
  t = performance.now();
  run(flows[0]!);
  const firstTraceMs = performance.now() - t;
  const times: number[] = [];
  for (const f of flows) {
    t = performance.now();
    run(f);
    times.push(performance.now() - t);
  }
  return { lines, parseMs, firstTraceMs, medianMs: median(times), maxMs: Math.max(...times), traces: times.length };
}

if (process.argv[1]?.endsWith('trace-bench.js')) {
  const r = measureTrace(process.argv[2] ?? '10k×10');
  process.stdout.write(
    `trace with node state on ${r.lines} lines: parse ${r.parseMs.toFixed(0)} ms; first trace (indexes) ${r.firstTraceMs.toFixed(0)} ms; ` +
      `then ${r.traces} traces: median ${r.medianMs.toFixed(2)} ms, max ${r.maxMs.toFixed(2)} ms\n`,
  );
}
