/**
 * The nftables tracer on small rulesets written as `nft list ruleset` text: hook order across
 * tables, accept vs drop, nat chains after a NAT, numgen fractions, affinity sets, fib, ct state,
 * marks, reject kinds, interface and unmodelled forks, UNKNOWN for what it does not model, and the
 * node's addresses and routes deciding what would fork.
 */
import { formatExact, parseIpAddress, parseIpRoute } from '@svcrules/iptables';
import { parseListText, tracePacketNft, type NftTraceOptions, type NftTracePacket, type NftTraceResult } from '../src/index.js';

const LOCAL = ['192.168.0.2'];

function trace(text: string, packet: Partial<NftTracePacket> & { dst: string }, options: Partial<NftTraceOptions> = {}): NftTraceResult {
  const { rulesets } = parseListText(text);
  return tracePacketNft(rulesets, { src: '203.0.113.2', protocol: 'tcp', dport: 80, ...packet }, { from: 'external', localAddresses: LOCAL, ...options });
}

/** One line per outcome: probability, verdict, destination, delivery, masquerade, assumptions. */
function summary(r: NftTraceResult): string[] {
  return r.outcomes.map((o) =>
    [formatExact(o.probability), o.verdict, o.destination, o.delivery ?? '-', o.masquerade ? 'masq' : 'nomasq', ...o.given.map((g) => `${g.holds ? '+' : '-'}${g.key}`)].join(' '),
  );
}

const NAT_DNAT = `
table ip a {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 10.96.0.1 tcp dport 80 dnat to 10.0.0.1:8080
	}
}
table ip b {
	chain pre {
		type nat hook prerouting priority dstnat + 5; policy accept;
		ip daddr 10.96.0.1 dnat to 10.0.0.9
		ip daddr 10.0.0.1 dnat to 10.0.0.7
	}
	chain fwd {
		type filter hook forward priority filter; policy drop;
		ip daddr 10.0.0.1 tcp dport 8080 accept
	}
}
`;

describe('hooks and priorities', () => {
  test('the first nat chain that maps wins; the later nat chain of the hook is skipped; a filter chain with policy drop decides', () => {
    const r = trace(NAT_DNAT, { dst: '10.96.0.1' });
    expect(summary(r)).toEqual(['1 ACCEPT 10.0.0.1:8080 forward nomasq']);
    expect(r.outcomes[0]!.events.map((e) => `${e.hook} ${e.table} ${e.chain} ${e.effect}`)).toEqual(['prerouting ip a pre dnat', 'forward ip b fwd accept']);
    expect(r.baseChains.map((b) => `${b.hook} ${b.table}/${b.chain} ${b.priority} ${b.policy}`)).toEqual([
      'prerouting ip a/pre -100 accept',
      'prerouting ip b/pre -95 accept',
      'forward ip b/fwd 0 drop',
    ]);
  });

  test('a packet no chain accepts meets the policy drop, named as the deciding policy', () => {
    const r = trace(NAT_DNAT, { dst: '10.1.2.3' });
    expect(summary(r)).toEqual(['1 DROP 10.1.2.3:80 - nomasq']);
    expect(r.outcomes[0]!.decidedBy).toEqual({ policy: { table: 'ip b', chain: 'fwd', policy: 'drop' } });
  });

  test('accept ends only its base chain: a later base chain of the same hook still drops', () => {
    const text = `
table inet first {
	chain in {
		type filter hook input priority -10; policy accept;
		tcp dport 80 accept
	}
}
table ip second {
	chain in {
		type filter hook input priority 10; policy accept;
		tcp dport 80 drop
	}
}`;
    expect(summary(trace(text, { dst: '192.168.0.2' }))).toEqual(['1 DROP 192.168.0.2:80 - nomasq']);
    // An ip6 packet sees only the inet table.
    expect(summary(trace(text, { src: '2001:db8::9', dst: '2001:db8::2' }, { localAddresses: ['2001:db8::2'] }))).toEqual(['1 ACCEPT [2001:db8::2]:80 local nomasq']);
  });

  test("a node's packet to itself goes output, postrouting, then input of lo with NAT settled", () => {
    const text = `
table ip t {
	chain out {
		type nat hook output priority -100; policy accept;
		ip daddr 10.96.0.1 dnat to 192.168.0.2:9000
	}
	chain in {
		type filter hook input priority 0; policy accept;
		iifname "lo" tcp dport 9000 reject with tcp reset
	}
}`;
    const r = trace(text, { src: '192.168.0.2', dst: '10.96.0.1' }, { from: 'node' });
    expect(summary(r)).toEqual(['1 REJECT 192.168.0.2:9000 - nomasq']);
    expect(r.outcomes[0]!.reject?.with).toBe('tcp-reset');
    expect(r.outcomes[0]!.events.map((e) => e.hook)).toEqual(['output', 'input']);
  });
});

describe('numgen, affinity, maps and sets', () => {
  test('numgen random mod 3 gives each endpoint exactly 1/3; a value outside the vmap falls through', () => {
    const text = `
table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		numgen random mod 4 vmap { 0 : goto e1, 1-2 : goto e2 }
		dnat to 10.0.0.99:80
	}
	chain e1 {
		dnat to 10.0.0.1:80
	}
	chain e2 {
		dnat to 10.0.0.2:80
	}
}`;
    const r = trace(text, { dst: '10.96.0.1' });
    expect(summary(r)).toEqual(['1/4 ACCEPT 10.0.0.1:80 forward nomasq', '1/2 ACCEPT 10.0.0.2:80 forward nomasq', '1/4 ACCEPT 10.0.0.99:80 forward nomasq']);
    expect(r.assumptions.map((a) => a.code)).toContain('numgen-uniform');
  });

  test('numgen with an offset, and numgen as a plain match', () => {
    const text = `
table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		numgen random mod 3 offset 5 == 6 dnat to 10.0.0.6:80
		numgen random mod 3 offset 5 vmap { 5 : goto e1, 7 : goto e2 }
	}
	chain e1 {
		dnat to 10.0.0.1:80
	}
	chain e2 {
		dnat to 10.0.0.2:80
	}
}`;
    // 6 with 1/3; otherwise a second, independent draw (as in the kernel): 5, 7 or 6 again (no match), 2/9 each.
    expect(summary(trace(text, { dst: '10.96.0.1' }))).toEqual([
      '1/3 ACCEPT 10.0.0.6:80 forward nomasq',
      '2/9 ACCEPT 10.0.0.1:80 forward nomasq',
      '2/9 ACCEPT 10.0.0.2:80 forward nomasq',
      '2/9 ACCEPT 10.96.0.1:80 forward nomasq',
    ]);
  });

  test('an affinity set forks into "entry for this source" and "no entry", each summing to 1', () => {
    const text = `
table ip t {
	set aff {
		type ipv4_addr
		size 65535
		flags dynamic,timeout
		timeout 3h
	}
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip saddr @aff goto e2
		numgen random mod 2 vmap { 0 : goto e1, 1 : goto e2 }
	}
	chain e1 {
		update @aff { ip saddr }
		dnat to 10.0.0.1:80
	}
	chain e2 {
		update @aff { ip saddr }
		dnat to 10.0.0.2:80
	}
}`;
    const r = trace(text, { dst: '10.96.0.1' });
    expect(summary(r)).toEqual([
      '1 ACCEPT 10.0.0.2:80 forward nomasq +set:aff:ip saddr',
      '1/2 ACCEPT 10.0.0.1:80 forward nomasq -set:aff:ip saddr',
      '1/2 ACCEPT 10.0.0.2:80 forward nomasq -set:aff:ip saddr',
    ]);
    expect(r.outcomes[0]!.given[0]!.code).toBe('dynamic-set');
    expect(r.outcomes[0]!.affinity.map((a) => `${a.op} ${a.name} ${a.key} ${a.matched} ${a.seconds}`)).toEqual(['lookup aff ip saddr true 10800', 'update aff ip saddr false 10800']);
    expect(r.outcomes[1]!.affinity.map((a) => `${a.op} ${a.name} ${a.key} ${a.matched} ${a.seconds}`)).toEqual(['lookup aff ip saddr false 10800', 'update aff ip saddr false 10800']);
  });

  test('concatenated vmap keys, interval sets and anonymous sets', () => {
    const text = `
table ip t {
	set nets {
		type ipv4_addr
		flags interval
		elements = { 10.0.0.0/8, 192.0.2.10-192.0.2.20 }
	}
	map svc {
		type ipv4_addr . inet_proto . inet_service : verdict
		elements = { 10.96.0.1 . tcp . 80 : goto s1, 10.96.0.1 . udp . 53 : drop }
	}
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		ip saddr @nets accept
		ip daddr . meta l4proto . th dport vmap @svc
		ip saddr != { 203.0.113.0/25, 198.51.100.1 } drop
	}
	chain s1 {
		reject with icmp type admin-prohibited
	}
}`;
    expect(summary(trace(text, { dst: '10.96.0.1' }))).toEqual(['1 REJECT 10.96.0.1:80 - nomasq']);
    expect(trace(text, { dst: '10.96.0.1' }).outcomes[0]!.reject).toMatchObject({ with: 'icmp-admin-prohibited', tcp: 'EHOSTUNREACH' });
    expect(summary(trace(text, { dst: '10.96.0.1', protocol: 'udp', dport: 53 }))).toEqual(['1 DROP 10.96.0.1:53 - nomasq']);
    expect(summary(trace(text, { src: '192.0.2.15', dst: '10.96.0.1' }))).toEqual(['1 ACCEPT 10.96.0.1:80 forward nomasq']);
    expect(summary(trace(text, { src: '203.0.113.200', dst: '10.96.0.2' }))).toEqual(['1 DROP 10.96.0.2:80 - nomasq']);
    expect(summary(trace(text, { src: '198.51.100.1', dst: '10.96.0.2' }))).toEqual(['1 ACCEPT 10.96.0.2:80 forward nomasq']);
  });

  test("an anonymous set written as one word, `{ a,b }` (kube-proxy's service CIDRs)", () => {
    const text = `
table ip t {
	chain pre {
		type filter hook prerouting priority 0; policy accept;
		ip daddr { 10.96.0.0/12,172.30.0.0/16 } drop
	}
}`;
    expect(summary(trace(text, { dst: '10.96.0.9' }))).toEqual(['1 DROP 10.96.0.9:80 - nomasq']);
    expect(summary(trace(text, { dst: '172.30.0.9' }))).toEqual(['1 DROP 172.30.0.9:80 - nomasq']);
    expect(summary(trace(text, { dst: '192.0.2.9' }))).toEqual(['1 ACCEPT 192.0.2.9:80 forward nomasq']);
  });
});

describe('fib, ct state, marks and masquerade', () => {
  const text = `
table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport 30080 meta mark set meta mark | 0x00004000 dnat to 10.0.0.1:80
	}
	chain filt {
		type filter hook forward priority 0; policy accept;
		ct state established,related accept
		ct state new ct status dnat meta mark & 0x00004000 == 0x00004000 counter packets 3 bytes 180 accept
		drop
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		meta mark & 0x00004000 == 0x00000000 return
		meta mark set meta mark ^ 0x00004000
		masquerade fully-random
	}
}`;
  test('a node port: fib daddr type local, mark, dnat, ct status dnat, masquerade', () => {
    const r = trace(text, { dst: '192.168.0.2', dport: 30080 });
    expect(summary(r)).toEqual(['1 ACCEPT 10.0.0.1:80 forward masq']);
    const o = r.outcomes[0]!;
    expect(o.mark).toBe(0);
    expect(o.events.filter((e) => e.effect === 'mark').map((e) => e.detail)).toEqual(['mark 0x0 -> 0x4000', 'mark 0x4000 -> 0x0']);
    expect(o.dnat?.to).toBe('10.0.0.1:80');
    expect(o.masquerade?.rule.text).toBe('masquerade fully-random');
  });

  test('not a local address: no DNAT, no mark, the filter drops', () => {
    expect(summary(trace(text, { dst: '192.168.0.3', dport: 30080 }))).toEqual(['1 DROP 192.168.0.3:30080 - nomasq']);
  });

  test('an established packet skips nat and is accepted by ct state', () => {
    const r = trace(text, { dst: '192.168.0.2', dport: 30080, ctState: 'established' });
    expect(summary(r)).toEqual(['1 ACCEPT 192.168.0.2:30080 local nomasq']);
    expect(r.assumptions.map((a) => a.code)).toEqual(['ct-state']);
  });
});

describe('what the packet does not say, and what the tracer does not model', () => {
  const text = `
table inet f {
	chain in {
		type filter hook input priority 0; policy drop;
		iifname { "eth0", "eth1" } tcp dport 22 accept
		iifname "eth0" drop
		meta skuid 0 accept
		tcp dport 80 queue num 3
	}
}`;
  test('an unknown arrival interface forks by the interfaces the rules name, consistently', () => {
    const r = trace(text, { dst: '192.168.0.2', dport: 22 });
    expect(summary(r)).toEqual([
      '1 ACCEPT 192.168.0.2:22 local nomasq +in=eth0',
      '1 ACCEPT 192.168.0.2:22 local nomasq +in=eth1',
      '1 ACCEPT 192.168.0.2:22 local nomasq -in=eth0 -in=eth1 +match:meta skuid 0',
      '1 DROP 192.168.0.2:22 - nomasq -in=eth0 -in=eth1 -match:meta skuid 0',
    ]);
    expect(r.outcomes[2]!.given.map((g) => g.text)).toEqual(['the packet does not arrive on eth0', 'the packet does not arrive on eth1', '`meta skuid 0` holds (not modelled)']);
  });

  test('a given interface decides directly', () => {
    expect(summary(trace(text, { dst: '192.168.0.2', dport: 22, inInterface: 'eth1' }))).toEqual(['1 ACCEPT 192.168.0.2:22 local nomasq']);
  });

  test('an unmodelled match forks into both answers, labelled; an unmodelled statement ends as UNKNOWN naming the rule', () => {
    const r = trace(text, { dst: '192.168.0.2', dport: 80, inInterface: 'eth1' });
    expect(summary(r)).toEqual(['1 ACCEPT 192.168.0.2:80 local nomasq +match:meta skuid 0', '1 UNKNOWN 192.168.0.2:80 - nomasq -match:meta skuid 0']);
    const u = r.outcomes[1]!;
    expect(u.stoppedAt?.rule).toMatchObject({ table: 'inet f', chain: 'in', index: 4, text: 'tcp dport 80 queue num 3' });
    expect(u.stoppedAt?.why).toMatch(/not a statement or match the tracer reads: queue num 3/);
  });

  test('a jump to a chain the table lacks is UNKNOWN, not an error', () => {
    const r = tracePacketNft(
      [{ table: { family: 'ip', name: 't' }, chains: [{ name: 'c', base: { type: 'filter', hook: 'input', priority: 0 } }], sets: [], maps: [], rules: [{ chain: 'c', words: ['jump', 'nowhere'] }], elements: [] }],
      { src: '203.0.113.2', dst: '192.168.0.2', protocol: 'tcp', dport: 80 },
      { from: 'external', localAddresses: LOCAL },
    );
    expect(r.outcomes.map((o) => [o.verdict, o.stoppedAt?.why])).toEqual([['UNKNOWN', 'jump to chain nowhere, which ip t does not hold']]);
  });

  test('bad packets are refused with a reason', () => {
    expect(() => trace(text, { dst: 'nope' })).toThrow('destination "nope" is not an IP address');
    expect(() => trace(text, { dst: '2001:db8::1' })).toThrow('different IP families');
    expect(() => trace(text, { dst: '192.168.0.2', dport: 0 })).toThrow('not in 1-65535');
  });
});

describe("the node's addresses and routes", () => {
  const node = {
    interfaces: parseIpAddress(
      [
        [
          { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
          { ifname: 'eth0', addr_info: [{ family: 'inet', local: '192.168.0.2', prefixlen: 24 }] },
          { ifname: 'cni0', addr_info: [{ family: 'inet', local: '10.244.0.1', prefixlen: 24 }] },
        ],
      ],
      'ip-address.json',
    ),
    routes: parseIpRoute(
      [
        [
          { dst: 'default', gateway: '192.168.0.1', dev: 'eth0' },
          { dst: '192.168.0.0/24', dev: 'eth0' },
          { dst: '10.244.0.0/24', dev: 'cni0' },
          { dst: '127.0.0.0/8', table: 'local', type: 'local', dev: 'lo' },
        ],
      ],
      'ip-route.json',
    ),
  };
  const text = `
table ip t {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport 30080 dnat to 10.244.0.7:80
	}
	chain fwd {
		type filter hook forward priority 0; policy drop;
		iifname "eth0" oifname "cni0" accept
	}
}`;
  test('local addresses come from the node; interfaces from its routes, so nothing forks', () => {
    const r = tracePacketNft(parseListText(text).rulesets, { src: '203.0.113.2', dst: '192.168.0.2', dport: 30080, protocol: 'tcp' }, { from: 'external', localAddresses: [], node });
    expect(summary(r)).toEqual(['1 ACCEPT 10.244.0.7:80 forward nomasq']);
    expect([r.outcomes[0]!.inInterface, r.outcomes[0]!.outInterface]).toEqual(['eth0', 'cni0']);
    expect(r.assumptions.map((a) => a.code)).toContain('routes');
  });

  test('without the node state, the same packet forks on both interfaces', () => {
    const r = tracePacketNft(parseListText(text).rulesets, { src: '203.0.113.2', dst: '192.168.0.2', dport: 30080, protocol: 'tcp' }, { from: 'external', localAddresses: ['192.168.0.2'] });
    expect(summary(r)).toEqual(['1 ACCEPT 10.244.0.7:80 forward nomasq +in=eth0 +out=cni0', '1 DROP 10.244.0.7:80 - nomasq +in=eth0 -out=cni0', '1 DROP 10.244.0.7:80 - nomasq -in=eth0']);
  });
});
