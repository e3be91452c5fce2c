import fc from 'fast-check';
import type { NftRuleset, Operation } from '../src/ir.js';
import { NftParseError, parseTransaction } from '../src/parse.js';
import { dumpOperations, renderDump, renderOperation, renderTransaction } from '../src/render.js';
import { operation, ruleset } from './arb.js';

const T = { family: 'ip', name: 'kube-proxy' } as const;
const line = (op: Operation): string => renderOperation(op);

describe('renderOperation writes what knftables writes (objects.go writeOperation)', () => {
  test.each<[Operation, string]>([
    [{ verb: 'add', kind: 'table', table: { ...T, comment: 'rules for kube-proxy' } }, 'add table ip kube-proxy { comment "rules for kube-proxy" ; }'],
    [{ verb: 'add', kind: 'table', table: { family: 'ip6', name: 'kube-proxy' } }, 'add table ip6 kube-proxy'],
    [{ verb: 'delete', kind: 'table', table: T }, 'delete table ip kube-proxy'],
    [{ verb: 'add', kind: 'chain', table: T, chain: { name: 'services' } }, 'add chain ip kube-proxy services'],
    [
      { verb: 'add', kind: 'chain', table: T, chain: { name: 'filter-prerouting-pre-dnat', base: { type: 'filter', hook: 'prerouting', priority: -110 } } },
      'add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }',
    ],
    [
      { verb: 'add', kind: 'chain', table: T, chain: { name: 'reject-chain', comment: 'helper for @no-endpoint-services / @no-endpoint-nodeports' } },
      'add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }',
    ],
    [
      { verb: 'add', kind: 'chain', table: T, chain: { name: 'x', base: { type: 'nat', hook: 'postrouting', priority: 100 }, comment: 'c' } },
      'add chain ip kube-proxy x { type nat hook postrouting priority 100 ; comment "c" ; }',
    ],
    [{ verb: 'flush', kind: 'chain', table: T, name: 'service-ULMVA6XW-ns1/svc1/tcp/p80' }, 'flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80'],
    [{ verb: 'delete', kind: 'set', table: T, name: 'nodeport-ips' }, 'delete set ip kube-proxy nodeport-ips'],
    [
      { verb: 'add', kind: 'set', table: T, set: { name: 'cluster-ips', type: ['ipv4_addr'], comment: 'Active ClusterIPs' } },
      'add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }',
    ],
    [
      { verb: 'add', kind: 'set', table: T, set: { name: 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80', type: ['ipv4_addr'], flags: ['dynamic', 'timeout'], timeout: 10800 } },
      'add set ip kube-proxy affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80 { type ipv4_addr ; flags dynamic,timeout ; timeout 10800s ; }',
    ],
    [
      { verb: 'add', kind: 'map', table: T, map: { name: 'service-nodeports', type: ['inet_proto', 'inet_service'], valueType: ['verdict'], comment: 'NodePort traffic' } },
      'add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }',
    ],
    [
      { verb: 'add', kind: 'rule', table: T, rule: { chain: 'cluster-ips-check', words: ['ip', 'daddr', '@cluster-ips', 'reject'], comment: 'Reject traffic to invalid ports of ClusterIPs' } },
      'add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
    ],
    [
      { verb: 'add', kind: 'element', table: T, element: { container: 'no-endpoint-services', key: ['172.30.0.46', 'tcp', '80'], value: ['goto reject-chain'], comment: 'ns6/svc6:p80' } },
      'add element ip kube-proxy no-endpoint-services { 172.30.0.46 . tcp . 80 comment "ns6/svc6:p80" : goto reject-chain }',
    ],
    [{ verb: 'add', kind: 'element', table: T, element: { container: 'cluster-ips', key: ['172.30.0.41'] } }, 'add element ip kube-proxy cluster-ips { 172.30.0.41 }'],
    [{ verb: 'delete', kind: 'element', table: T, container: 'service-ips', key: ['172.30.0.42', 'tcp', '8080'] }, 'delete element ip kube-proxy service-ips { 172.30.0.42 . tcp . 8080 }'],
  ])('%#: %s', (op, text) => {
    expect(line(op)).toBe(text);
    expect(parseTransaction(`${text}\n`).operations).toEqual([op]);
  });

  test('a transaction is its lines in order, each ending in a newline', () => {
    const ops: Operation[] = [
      { verb: 'add', kind: 'chain', table: T, chain: { name: 'a' } },
      { verb: 'flush', kind: 'chain', table: T, name: 'a' },
    ];
    expect(renderTransaction({ operations: ops })).toBe('add chain ip kube-proxy a\nflush chain ip kube-proxy a\n');
    expect(renderTransaction({ operations: [] })).toBe('');
  });
});

describe('Dump() order', () => {
  const rs: NftRuleset = {
    table: { ...T, comment: 'rules for kube-proxy' },
    chains: [{ name: 'services' }, { name: 'endpoint-B' }, { name: 'filter-input', base: { type: 'filter', hook: 'input', priority: 0 } }],
    sets: [{ name: 'nodeport-ips', type: ['ipv4_addr'] }, { name: 'cluster-ips', type: ['ipv4_addr'] }],
    maps: [{ name: 'service-ips', type: ['ipv4_addr', 'inet_proto', 'inet_service'], valueType: ['verdict'] }],
    rules: [
      { chain: 'services', words: ['ip', 'daddr', '.', 'meta', 'l4proto', '.', 'th', 'dport', 'vmap', '@service-ips'] },
      { chain: 'filter-input', words: ['ct', 'state', 'new', 'jump', 'services'] },
      { chain: 'services', words: ['jump', 'endpoint-B'] },
    ],
    elements: [
      { container: 'service-ips', key: ['172.30.0.41', 'tcp', '80'], value: ['goto endpoint-B'] },
      { container: 'cluster-ips', key: ['172.30.0.42'] },
      { container: 'cluster-ips', key: ['172.30.0.41'] },
      { container: 'nodeport-ips', key: ['192.168.0.2'] },
    ],
  };

  test('table; chains, sets, maps by name; rules chain by chain; elements set by set, then map by map, each in stored order', () => {
    expect(renderDump(rs)).toBe(
      [
        'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
        'add chain ip kube-proxy endpoint-B',
        'add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }',
        'add chain ip kube-proxy services',
        'add set ip kube-proxy cluster-ips { type ipv4_addr ; }',
        'add set ip kube-proxy nodeport-ips { type ipv4_addr ; }',
        'add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }',
        'add rule ip kube-proxy filter-input ct state new jump services',
        'add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips',
        'add rule ip kube-proxy services jump endpoint-B',
        'add element ip kube-proxy cluster-ips { 172.30.0.42 }',
        'add element ip kube-proxy cluster-ips { 172.30.0.41 }',
        'add element ip kube-proxy nodeport-ips { 192.168.0.2 }',
        'add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto endpoint-B }',
        '',
      ].join('\n'),
    );
  });

  test('a large table (written a few thousand lines at a time) is the text of its dump operations', () => {
    const rules = Array.from({ length: 9000 }, (_, i) => ({ chain: 'services', words: ['ip', 'daddr', `10.0.${i >> 8}.${i & 255}`, 'jump', 'endpoint-B'] }));
    const elements = Array.from({ length: 5000 }, (_, i) => ({ container: 'cluster-ips', key: [`172.30.${i >> 8}.${i & 255}`] }));
    const big = { ...rs, rules: [...rs.rules, ...rules], elements: [...rs.elements, ...elements] };
    const text = renderDump(big);
    expect(text.split('\n')).toHaveLength(rs.chains.length + rs.sets.length + rs.maps.length + big.rules.length + big.elements.length + 2);
    expect(text).toBe(renderTransaction({ operations: dumpOperations(big) }));
  });

  test('a rule or element of an undeclared chain, set or map is refused', () => {
    expect(() => renderDump({ ...rs, rules: [{ chain: 'nope', words: ['accept'] }] })).toThrow(/chain "nope"/);
    expect(() => renderDump({ ...rs, elements: [{ container: 'nope', key: ['1'] }] })).toThrow(/"nope"/);
  });
});

describe('round trip', () => {
  test('parse(render(operation)) is the operation, on one line', () => {
    fc.assert(
      fc.property(operation, (op) => {
        const text = renderOperation(op);
        expect(text).not.toMatch(/[\n\r\0]/);
        expect(parseTransaction(`${text}\n`).operations).toEqual([op]);
      }),
    );
  });

  test('a ruleset dump parses back to the same operations', () => {
    fc.assert(
      fc.property(ruleset, (rs) => {
        expect(parseTransaction(renderDump(rs)).operations).toEqual(dumpOperations(rs));
      }),
    );
  });
});

describe('the parser is strict and says where', () => {
  test.each([
    ['add chain ip kube-proxy  a', 1, 25, /one space/],
    ['add chain ip kube-proxy a ', 1, 26, /trailing space/],
    ['add chain ip kube-proxy a { comment "x ; }', 1, 37, /unterminated string/],
    ['add rule ip kube-proxy a accept comment "a\\"b"', 1, 43, /backslash/],
    ['add chain ip kube-proxy 9a', 1, 25, /start with a letter/],
    ['add gadget ip kube-proxy a', 1, 5, /unknown object type "gadget"/],
    ['insert rule ip kube-proxy a accept', 1, 1, /unknown verb/],
    ['add set ip kube-proxy s { type ipv4_addr ; timeout 5m ; }', 1, 52, /whole seconds/],
    ['add element ip kube-proxy s { a . }', 1, 35, /empty part/],
    ['add rule ip kube-proxy a accept; flush ruleset', 1, 24, /rule:/],
    ['add table ip kube-proxy\tx', 1, 24, /control character/],
    ['add rule ip kube-proxy a index 3 accept', 1, 24, /cannot start with "index"/],
    ['add chain ip kube-proxy a extra', 1, 27, /expected "{"/],
    ['add table ip kube-proxy { comment "x" ; } extra', 1, 43, /unexpected text/],
  ])('%j', (text, lineNo, col, reason) => {
    let err: unknown;
    try {
      parseTransaction(`# header\n\n${text}\n`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NftParseError);
    expect(err).toMatchObject({ line: lineNo + 2, column: col });
    expect((err as Error).message).toMatch(reason);
  });
});
