/**
 * `svcrules trace` on real nodes' `iptables-save` dumps found in public material (fixtures/trace/real,
 * sources in its SOURCES file): kube-proxy with Docker, flannel, Weave, Calico and libvirt rules.
 * Every ordinary flow of each node is traced twice: with the node's state (its `ip -j address` /
 * `ip -j route` as reconstructed from the same source, see SOURCES) and from the rules alone. Both
 * must answer (never refuse); with the node state no interface is left to assume; the outcomes are a
 * golden (`expected.txt`, read when changed), and the flows whose answer is known from the source
 * (the user's own report, or the rules read by hand) are asserted here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, readGolden } from '@svcrules/testkit';
import type { OutcomeJson, TraceJson } from '../src/commands/trace-json.js';
import { runCli } from './run-cli.js';

const ROOT = join(FIXTURES, 'trace', 'real');
const NODES = readdirSync(ROOT, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

interface Flow {
  readonly name: string;
  readonly src: string;
  readonly dst: string;
  readonly from: string;
}

function line(o: OutcomeJson): string {
  const parts = [o.verdict, o.destination, o.probability.percent];
  if (o.verdict === 'ACCEPT') parts.push(`${o.delivery}${o.outInterface && o.delivery !== 'local' ? ` by ${o.outInterface}` : ''}`, o.masquerade ? `masquerade to ${o.masquerade.to ?? 'the outgoing address'}` : 'source kept');
  if (o.reject) parts.push(`with ${o.reject.with}: ${o.reject.tcp}/${o.reject.udp}`);
  if (o.verdict === 'DROP' && o.decidedBy && 'routing' in o.decidedBy) parts.push(`routing: ${o.decidedBy.routing}`);
  if (o.stoppedAt) parts.push(`stopped: ${o.stoppedAt.why}`);
  const given = o.given.map((g) => `${g.holds ? '' : 'not '}${g.key}`);
  return `${parts.join('  ')}${given.length > 0 ? `  | if ${given.join(', ')}` : ''}`;
}

const results = new Map<string, { state: TraceJson; bare: TraceJson }>();

async function trace(node: string, args: string[]): Promise<TraceJson> {
  const r = await runCli(['trace', '--json', '--rules', 'node.rules', ...args], join(ROOT, node));
  if (r.code !== 0) throw new Error(`${node}: trace ${args.join(' ')} failed (${r.code}): ${r.err}`);
  return JSON.parse(r.out) as TraceJson;
}

describe.each(NODES)('real node %s', (node) => {
  const flows = JSON.parse(readFileSync(join(ROOT, node, 'flows.json'), 'utf8')) as Flow[];

  test('every ordinary flow is answered, with and without the node state; interfaces decided with it', async () => {
    const blocks: string[] = [];
    for (const f of flows) {
      const base = ['--src', f.src, '--dst', f.dst, '--from', f.from];
      const state = await trace(node, [...base, '--ip-addr', 'ip-addr.json', '--ip-route', 'ip-route.json']);
      const bare = await trace(node, base);
      results.set(`${node}/${f.name}`, { state, bare });
      for (const o of state.outcomes) {
        expect(o.verdict).not.toBe('UNKNOWN');
        expect(o.given.filter((g) => g.code === 'interface')).toEqual([]);
      }
      expect(bare.outcomes.length).toBeGreaterThan(0);
      blocks.push(
        [`## ${f.name}`, `trace --from ${f.from} --src ${f.src} --dst ${f.dst}`, 'with the node state:', ...state.outcomes.map((o) => `  ${line(o)}`), 'rules only:', ...bare.outcomes.map((o) => `  ${line(o)}`)].join('\n'),
      );
    }
    const actual = `${blocks.join('\n\n')}\n`;
    expect(actual).toBe(readGolden(join(ROOT, node, 'expected.txt'), actual));
  });
});

/** The one outcome line of a flow traced with the node state. */
const only = (key: string) => {
  const r = results.get(key);
  if (!r) throw new Error(`no trace for ${key}`);
  return r.state.outcomes.map(line);
};

describe('answers known from the sources', () => {
  test("CentOS + flannel: a pod's connection to the API server is rejected by the host firewall, \"no route to host\" as coredns logged", () => {
    // The DNAT goes to the node's own 192.168.1.5:6443; INPUT accepts only ssh, then REJECTs icmp-host-prohibited.
    expect(only("centos-flannel-docker-libvirt/pod to the API server's cluster IP (coredns' \"no route to host\")")).toEqual([
      'REJECT  192.168.1.5:6443  100%  with icmp-host-prohibited: EHOSTUNREACH/EHOSTUNREACH',
    ]);
    // FORWARD's REJECT sits before FLANNEL-FWD: pod traffic that kube-proxy did not mark never reaches flannel's ACCEPT.
    expect(only('centos-flannel-docker-libvirt/pod to a pod on the same bridge')).toEqual(['REJECT  10.1.0.66:443  100%  with icmp-host-prohibited: EHOSTUNREACH/EHOSTUNREACH']);
    expect(only('centos-flannel-docker-libvirt/pod to cluster DNS (no endpoints)')).toEqual(['REJECT  10.2.0.10:53  100%  with icmp-port-unreachable: ECONNREFUSED/ECONNREFUSED']);
    expect(only('centos-flannel-docker-libvirt/a Docker container to the internet')).toEqual(['ACCEPT  93.184.216.34:443  100%  forward by eth0  masquerade to 192.168.1.5']);
  });

  test("Docker's default rules: FORWARD DROP stops what nothing published; containers reach out, masqueraded", () => {
    expect(only("docker-default/outside to a container's address (nothing published)")).toEqual(['DROP  172.17.0.2:80  100%']);
    expect(only('docker-default/a container to the internet')).toEqual(['ACCEPT  93.184.216.34:443  100%  forward by eth0  masquerade to 10.0.2.15']);
    expect(only('docker-default/a container to another container')).toEqual(['ACCEPT  172.17.0.3:80  100%  forward by docker0  source kept']);
  });

  test("Calico: workload traffic with no workload chain is dropped (\"Unknown interface\"); the node's block is a blackhole", () => {
    expect(only('calico-docker-centos/a workload to the internet (no workload chains yet)')).toEqual(['DROP  8.8.8.8:53  100%']);
    expect(only("calico-docker-centos/outside to an unused address of the node's block (blackhole route)")).toEqual(['DROP  172.20.219.70:80  100%  routing: blackhole route 172.20.219.64/26']);
  });

  test('Weave: the ipset and bridge-port questions stay labelled branches (their state is not in the source)', () => {
    const dns = results.get('weave-docker-kubeadm/pod to cluster DNS')!.state;
    const codes = new Set(dns.outcomes.flatMap((o) => o.given.map((g) => g.code)));
    expect([...codes].sort()).toEqual(['ipset', 'physdev']);
    expect(dns.outcomes.every((o) => o.given.length > 0)).toBe(true);
  });
});
