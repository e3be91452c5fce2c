import { parseRuleset } from '@svcrules/iptables';
import { conntrackDeleteArgs, deleteStaleUdpFlows, describeFlow, staleUdpFlows, udpServiceMap, type Runner } from '../src/index.js';
import { endpoints, rules, service, slice, snapshot } from './helpers.js';

const dns = service('kube-system', 'dns', '172.30.0.10', {
  type: 'LoadBalancer',
  ports: [
    { name: 'dns', protocol: 'UDP', port: 53, nodePort: 30053 },
    { name: 'dns-tcp', protocol: 'TCP', port: 53, nodePort: 30054 },
  ],
  externalIPs: ['192.168.99.10'],
  loadBalancerIngress: [{ ip: '1.2.3.4' }],
  loadBalancerSourceRanges: ['203.0.113.0/25'],
});
const withEndpoints = (ips: string[]) => rules(snapshot([dns], [slice(dns, endpoints(ips), [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5353, protocol: 'TCP' }])]));

test('UDP frontends (cluster IP, external IP, LB IP through FW, node port) map to their endpoints; TCP is ignored', () => {
  const m = udpServiceMap(withEndpoints(['10.180.0.1', '10.180.0.2']));
  expect([...m.keys()].sort()).toEqual(['*:30053', '1.2.3.4:53', '172.30.0.10:53', '192.168.99.10:53']);
  for (const { endpoints: eps } of m.values()) expect([...eps].sort()).toEqual(['10.180.0.1:5353', '10.180.0.2:5353']);
});

test('the same from iptables-save text (save form: /32, -p before -m, --set-xmark)', () => {
  const save = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
-A KUBE-SERVICES -d 172.30.0.10/32 -p udp -m comment --comment "kube-system/dns:dns cluster IP" -m udp --dport 53 -j KUBE-SVC-A
-A KUBE-NODEPORTS -p udp -m comment --comment kube-system/dns:dns -m udp --dport 30053 -j KUBE-SVC-A
-A KUBE-SVC-A -m comment --comment "kube-system/dns:dns -> 10.180.0.1:5353" -j KUBE-SEP-1
-A KUBE-SEP-1 -p udp -m comment --comment kube-system/dns:dns -m udp -j DNAT --to-destination 10.180.0.1:5353
COMMIT
`;
  const m = udpServiceMap(parseRuleset(save));
  expect([...m.entries()].map(([k, v]) => [k, [...v.endpoints]])).toEqual([
    ['172.30.0.10:53', ['10.180.0.1:5353']],
    ['*:30053', ['10.180.0.1:5353']],
  ]);
});

test('stale flows: exactly the removed (frontend, endpoint) pairs; a removed service loses all of them', () => {
  const before = udpServiceMap(withEndpoints(['10.180.0.1', '10.180.0.2']));
  const after = udpServiceMap(withEndpoints(['10.180.0.2', '10.180.0.3']));
  const stale = staleUdpFlows(before, after);
  expect(stale.map(describeFlow).sort()).toEqual([
    'udp 1.2.3.4:53 -> 10.180.0.1:5353',
    'udp 172.30.0.10:53 -> 10.180.0.1:5353',
    'udp 192.168.99.10:53 -> 10.180.0.1:5353',
    'udp node port 30053 -> 10.180.0.1:5353',
  ]);
  expect(staleUdpFlows(after, after)).toEqual([]);
  expect(staleUdpFlows(before, udpServiceMap(rules(snapshot([], []))))).toHaveLength(8);
  // No endpoints at all is the same as no service (REJECT lives in filter).
  expect(staleUdpFlows(before, udpServiceMap(withEndpoints([])))).toHaveLength(8);
});

test('conntrack -D arguments: orig dst and port, reply source = the endpoint; node ports match any address; IPv6', () => {
  expect(conntrackDeleteArgs({ frontend: { ip: '172.30.0.10', port: 53 }, endpoint: '10.180.0.1:5353' }, 'ipv4')).toEqual([
    '-D', '-p', 'udp', '--orig-dst', '172.30.0.10', '--orig-port-dst', '53', '--reply-src', '10.180.0.1', '--reply-port-src', '5353',
  ]);
  expect(conntrackDeleteArgs({ frontend: { ip: undefined, port: 30053 }, endpoint: '10.180.0.1:5353' }, 'ipv4')).toEqual([
    '-D', '-p', 'udp', '--orig-port-dst', '30053', '--reply-src', '10.180.0.1', '--reply-port-src', '5353',
  ]);
  expect(conntrackDeleteArgs({ frontend: { ip: 'fd00:172:30::10', port: 53 }, endpoint: '[fd00:10:180::1]:5353' }, 'ipv6')).toEqual([
    '-D', '-f', 'ipv6', '-p', 'udp', '--orig-dst', 'fd00:172:30::10', '--orig-port-dst', '53', '--reply-src', 'fd00:10:180::1', '--reply-port-src', '5353',
  ]);
});

test('deleteStaleUdpFlows reads the count conntrack reports (exit 1 with 0 deleted is not an error); a missing tool is reported', async () => {
  const calls: string[][] = [];
  const runner: Runner = async (cmd, args) => {
    calls.push([cmd, ...args]);
    return args.includes('10.180.0.1')
      ? { code: 0, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.\n' }
      : { code: 1, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n' };
  };
  const flows = [
    { frontend: { ip: '172.30.0.10', port: 53 }, endpoint: '10.180.0.1:5353' },
    { frontend: { ip: '172.30.0.10', port: 53 }, endpoint: '10.180.0.2:5353' },
  ];
  expect(await deleteStaleUdpFlows(flows, { family: 'ipv4', runner, netns: 'n1' })).toEqual([
    { flow: flows[0], deleted: 2 },
    { flow: flows[1], deleted: 0 },
  ]);
  expect(calls[0]!.slice(0, 5)).toEqual(['ip', 'netns', 'exec', 'n1', 'conntrack']);
  const missing: Runner = async () => {
    throw new (await import('../src/exec.js')).CommandNotFoundError('conntrack');
  };
  expect(await deleteStaleUdpFlows(flows.slice(0, 1), { family: 'ipv4', runner: missing })).toEqual([{ flow: flows[0], deleted: 0, error: 'conntrack tool not found' }]);
});
