import { renderDump } from '@svcrules/nftables';
import { compileNFTables } from '../src/nftables/index.js';
import { compile } from '../src/compile.js';
import type { Snapshot } from '../src/model.js';
import { service, slice } from './helpers.js';

const node = { name: 'test-node', addresses: [{ type: 'InternalIP', address: '192.168.0.2' }], podCIDRs: [], labels: {} };
const config = { hostnameOverride: 'test-node', clusterCIDRs: ['10.0.0.0/8'] };
const ep = (ip: string) => ({ addresses: [ip], nodeName: 'other-node' });

function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return {
    services: [service('ns1', 'svc1')],
    endpointSlices: [slice('ns1', 'svc1', { endpoints: [ep('10.180.0.1')] })],
    nodes: [node],
    config,
    ...over,
  };
}

const lines = (s: Snapshot, options = {}) => renderDump(compileNFTables(s, options).ruleset).split('\n');

describe('compileNFTables', () => {
  test('the same snapshot in another document order gives the same text', () => {
    const services = [service('ns2', 'b', { clusterIP: '172.30.0.2' }), service('ns1', 'a', { clusterIP: '172.30.0.1' })];
    const slices = [slice('ns2', 'b', { endpoints: [ep('10.180.0.2')] }), slice('ns1', 'a', { endpoints: [ep('10.180.0.1')] })];
    const a = renderDump(compileNFTables(snapshot({ services, endpointSlices: slices })).ruleset);
    const b = renderDump(compileNFTables(snapshot({ services: [...services].reverse(), endpointSlices: [...slices].reverse() })).ruleset);
    expect(a).toBe(b);
  });

  test('nodePortAddresses defaults to primary in nftables mode (the node IP), to match-all in iptables mode', () => {
    expect(lines(snapshot())).toContain('add element ip kube-proxy nodeport-ips { 192.168.0.2 }');
    expect(compile(snapshot()).context.nodePortIPs).toBeNull();
    // Without a node IP, primary leaves nothing: match all, and the set is not created.
    const noNode = lines(snapshot({ nodes: [] }));
    expect(noNode.some((l) => l.includes('nodeport-ips'))).toBe(false);
    expect(noNode).toContain('add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports');
  });

  test('the mark comes from the nftables section, not the iptables one', () => {
    const out = lines(snapshot({ config: { ...config, masqueradeBit: 3, nftables: { masqueradeBit: 5 } } }));
    expect(out).toContain('add rule ip kube-proxy mark-for-masquerade mark set mark or 0x00000020');
    expect(compile(snapshot({ config: { ...config, masqueradeBit: 3, nftables: { masqueradeBit: 5 } } })).context.mark).toBe('0x00000008');
  });

  test('service CIDRs: this family only, sorted, joined with "," (options replace the objects)', () => {
    const serviceCIDRs = [
      { name: 'b', cidrs: ['172.50.0.0/16', 'fd00::/108'] },
      { name: 'a', cidrs: ['172.30.0.0/16'] },
    ];
    const drop = (out: string[]) => out.filter((l) => l.includes('unallocated'));
    expect(drop(lines(snapshot({ serviceCIDRs })))).toEqual([
      'add rule ip kube-proxy cluster-ips-check ip daddr { 172.30.0.0/16,172.50.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"',
    ]);
    expect(drop(lines(snapshot({ serviceCIDRs }), { serviceCIDRs: ['10.96.0.0/12'] }))).toEqual([
      'add rule ip kube-proxy cluster-ips-check ip daddr { 10.96.0.0/12 } drop comment "Drop traffic to unallocated ClusterIPs"',
    ]);
    expect(drop(lines(snapshot()))).toEqual([]);
  });

  test('source ranges get their firewall chain even without endpoints (iptables mode writes none)', () => {
    const lb = service('ns1', 'svc1', { type: 'LoadBalancer', loadBalancerIngress: [{ ip: '1.2.3.4' }], loadBalancerSourceRanges: ['203.0.113.0/25'] });
    const out = lines(snapshot({ services: [lb], endpointSlices: [] }));
    expect(out.filter((l) => l.includes('firewall-ULMVA6XW'))).toEqual([
      'add chain ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80',
      'add rule ip kube-proxy firewall-ULMVA6XW-ns1/svc1/tcp/p80 ip saddr != { 203.0.113.0/25 } drop',
      'add element ip kube-proxy firewall-ips { 1.2.3.4 . tcp . 80 : goto firewall-ULMVA6XW-ns1/svc1/tcp/p80 }',
    ]);
    expect(out).toContain('add element ip kube-proxy no-endpoint-services { 1.2.3.4 . tcp . 80 comment "ns1/svc1:p80" : goto reject-chain }');
  });

  test('two Services claiming one external IP and port: one element, the later in name order, and a warning', () => {
    const a = service('ns1', 'a', { clusterIP: '172.30.0.1', externalIPs: ['192.168.99.1'] });
    const b = service('ns1', 'b', { clusterIP: '172.30.0.2', externalIPs: ['192.168.99.1'] });
    const r = compileNFTables(snapshot({ services: [b, a], endpointSlices: [] }));
    const out = renderDump(r.ruleset).split('\n');
    expect(out.filter((l) => l.includes('{ 192.168.99.1 '))).toEqual(['add element ip kube-proxy no-endpoint-services { 192.168.99.1 . tcp . 80 comment "ns1/a:p80" : goto reject-chain }']);
    expect(r.diagnostics).toEqual([]);
    // Both with endpoints: the same service-ips key with two values; kube-proxy replaces the element.
    const both = [slice('ns1', 'a', { endpoints: [ep('10.180.0.1')] }), slice('ns1', 'b', { endpoints: [ep('10.180.0.2')] })];
    const rb = compileNFTables(snapshot({ services: [b, a], endpointSlices: both }));
    expect(rb.diagnostics.map((d) => [d.code, d.object])).toEqual([['nft-element-conflict', 'Service ns1/b']]);
    expect(renderDump(rb.ruleset).split('\n').filter((l) => l.includes('{ 192.168.99.1 '))).toEqual([
      'add element ip kube-proxy service-ips { 192.168.99.1 . tcp . 80 : goto external-C5H7KDIK-ns1/b/tcp/p80 }',
    ]);
  });

  test('a Service the loader would refuse (built by code) is left out with an error, never written', () => {
    const bad = service('ns1', 'x ; flush ruleset', { clusterIP: '172.30.0.9' });
    const slices = [slice('ns1', 'x ; flush ruleset', { endpoints: [ep('10.180.0.9')] })];
    const r = compileNFTables(snapshot({ services: [service('ns1', 'svc1'), bad], endpointSlices: slices }));
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.object])).toEqual([['nft-unsafe', 'error', 'Service ns1/x ; flush ruleset']]);
    const text = renderDump(r.ruleset);
    expect(text).not.toContain('flush');
    expect(text).not.toContain('172.30.0.9');
    expect(r.stats.servicePorts).toBe(1);
  });

  test('a rule word the loader would refuse (a source range built by code) leaves the Service out with an error, never written', () => {
    // The range reaches only the firewall rule's words, not a chain name: the compiler's rule check must catch it.
    const bad = service('ns1', 'fw', { clusterIP: '172.30.0.9', type: 'LoadBalancer', loadBalancerIngress: [{ ip: '1.2.3.9' }], loadBalancerSourceRanges: ['203.0.113.0/25;flush'] });
    const slices = [slice('ns1', 'fw', { endpoints: [ep('10.180.0.9')] })];
    const r = compileNFTables(snapshot({ services: [service('ns1', 'svc1'), bad], endpointSlices: slices }));
    expect(r.diagnostics.map((d) => [d.code, d.severity, d.object])).toEqual([['nft-unsafe', 'error', 'Service ns1/fw']]);
    const text = renderDump(r.ruleset);
    expect(text).not.toContain('flush');
    expect(text).not.toContain('172.30.0.9');
  });

  test('existing service chains nothing uses stay, empty (flushed now, deleted one sync later); others are ignored', () => {
    const r = compileNFTables(snapshot(), { existingChains: ['service-AAAAAAAA-ns9/gone/tcp/p80', 'filter-input', 'my-own-chain', 'service-ULMVA6XW-ns1/svc1/tcp/p80'] });
    const chains = r.ruleset.chains.map((c) => c.name);
    expect(chains).toContain('service-AAAAAAAA-ns9/gone/tcp/p80');
    expect(chains).not.toContain('my-own-chain');
    expect(r.ruleset.rules.filter((x) => x.chain === 'service-AAAAAAAA-ns9/gone/tcp/p80')).toEqual([]);
    expect(chains.filter((c) => c === 'service-ULMVA6XW-ns1/svc1/tcp/p80')).toHaveLength(1);
  });

  test('localhost in nodePortAddresses: not in nodeport-ips, with a warning', () => {
    const r = compileNFTables(snapshot({ config: { ...config, nodePortAddresses: ['127.0.0.0/8', '192.168.0.0/16'] } }));
    expect(r.diagnostics.map((d) => d.code)).toEqual(['nft-localhost-nodeports']);
    expect(r.ruleset.elements.filter((e) => e.container === 'nodeport-ips').map((e) => e.key)).toEqual([['192.168.0.2']]);
  });

  test('IPv6: ip6 table, ip6 matches, ::1, bracketed DNAT target, dots in the endpoint chain name', () => {
    const v6 = service('ns1', 'svc1', { clusterIP: 'fd00:172:30::41' });
    const s = snapshot({
      services: [v6],
      endpointSlices: [slice('ns1', 'svc1', { addressType: 'IPv6', endpoints: [ep('fd00:10:180::1')] })],
      nodes: [],
      config: { ...config, clusterCIDRs: ['fd00:10::/64'] },
    });
    const out = lines(s, { family: 'IPv6' });
    expect(out).toContain('add rule ip6 kube-proxy endpoint-ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80 meta l4proto tcp dnat to [fd00:10:180::1]:80');
    expect(out).toContain('add rule ip6 kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip6 daddr fd00:172:30::41 ip6 saddr != fd00:10::/64 jump mark-for-masquerade');
    expect(out).toContain('add rule ip6 kube-proxy nodeport-endpoints-check ip6 daddr != ::1 meta l4proto . th dport vmap @no-endpoint-nodeports');
  });
});
