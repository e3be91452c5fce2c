import fc from 'fast-check';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { scaledRuns } from '@svcrules/testkit';
import { parseRuleset, render } from '@svcrules/iptables';
import { goSliceStable } from '../../src/kube-proxy/go-sort.js';
import { sortLikeKubeProxyTests } from '../../src/kube-proxy/iptables-test-order.js';

const normalise = (text: string): string => render(sortLikeKubeProxyTests(parseRuleset(text)));

// Zero services, kube-proxy's emission order with the test fake's parameters (docs/kube-proxy-rules.md
// 5.4 and 10.1; the normalised form is what proxier_test.go's sortIPTablesRules prints).
const zeroServicesRaw = `*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
:KUBE-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
`;

const zeroServicesNormalised = `*filter
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-POSTROUTING - [0:0]
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
COMMIT
`;

describe('sortLikeKubeProxyTests', () => {
  it('normalises the zero-services payload as sortIPTablesRules does', () => {
    expect(normalise(zeroServicesRaw)).toBe(zeroServicesNormalised);
  });

  it('orders tables, then chains: NODEPORTS, SERVICES, other KUBE-* bytewise, the rest bytewise', () => {
    const out = normalise(`*nat
:ZED - [0:0]
:KUBE-SVC-B - [0:0]
:KUBE-SERVICES - [0:0]
:AARDVARK - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-A - [0:0]
:KUBE-SVC-A - [0:0]
COMMIT
*filter
COMMIT
*mangle
:KUBE-X - [0:0]
COMMIT
`);
    expect(out).toBe(`*filter
COMMIT
*mangle
:KUBE-X - [0:0]
COMMIT
*nat
:KUBE-NODEPORTS - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-A - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SVC-B - [0:0]
:AARDVARK - [0:0]
:ZED - [0:0]
COMMIT
`);
  });

  it('stable-sorts SERVICES and NODEPORTS by the service in the comment; only nat keeps "must be the last rule" last', () => {
    const chains = ':KUBE-NODEPORTS - [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-EXT-Z - [0:0]\n';
    const rules = [
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
      '-A KUBE-SERVICES -m comment --comment "zns/b:p cluster IP" -j ACCEPT',
      '-A KUBE-SERVICES -m comment --comment zns/b -j DROP',
      '-A KUBE-SERVICES -m comment --comment "ans/a external IP" -j ACCEPT',
      '-A KUBE-EXT-Z -m comment --comment "zz first" -j ACCEPT',
      '-A KUBE-EXT-Z -m comment --comment "aa second" -j ACCEPT',
      '-A KUBE-NODEPORTS -m comment --comment zns/b:p -j ACCEPT',
      '-A KUBE-SERVICES -m comment --comment "zns/b health check" -j REJECT',
      '-A KUBE-NODEPORTS -m comment --comment "ans/a:p health check node port" -j ACCEPT',
    ].join('\n');
    const sorted = (table: string) => normalise(`*${table}\n${chains}${rules}\nCOMMIT\n`).split('\n').filter((l) => l.startsWith('-A'));
    expect(sorted('nat')).toEqual([
      '-A KUBE-NODEPORTS -m comment --comment "ans/a:p health check node port" -j ACCEPT',
      '-A KUBE-NODEPORTS -m comment --comment zns/b:p -j ACCEPT',
      '-A KUBE-SERVICES -m comment --comment "ans/a external IP" -j ACCEPT',
      '-A KUBE-SERVICES -m comment --comment "zns/b:p cluster IP" -j ACCEPT',
      '-A KUBE-SERVICES -m comment --comment zns/b -j DROP',
      '-A KUBE-SERVICES -m comment --comment "zns/b health check" -j REJECT',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
      '-A KUBE-EXT-Z -m comment --comment "zz first" -j ACCEPT',
      '-A KUBE-EXT-Z -m comment --comment "aa second" -j ACCEPT',
    ]);
    // In filter the tail comment is just another key: "kubernetes" sorts between "ans/a" and "zns/b".
    expect(sorted('filter').slice(2, 5)).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ans/a external IP" -j ACCEPT',
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS',
      '-A KUBE-SERVICES -m comment --comment "zns/b:p cluster IP" -j ACCEPT',
    ]);
    // mangle is left alone.
    expect(sorted('mangle')[0]).toBe('-A KUBE-NODEPORTS -m comment --comment zns/b:p -j ACCEPT');
  });

  it('prints rules grouped by chain, then -X lines in chain order; counters as plain numbers', () => {
    expect(
      normalise(`*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-OLD - [0:0]
:KUBE-SEP-OLD - [007:00]
-X KUBE-SVC-OLD
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -j KUBE-SVC-X
-X KUBE-SEP-OLD
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
COMMIT
`),
    ).toBe(`*nat
:KUBE-SERVICES - [0:0]
:KUBE-SEP-OLD - [7:0]
:KUBE-SVC-OLD - [0:0]
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -j KUBE-SVC-X
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS
-X KUBE-SEP-OLD
-X KUBE-SVC-OLD
COMMIT
`);
  });

  it('keeps Go’s order when a rule without comment makes the comparison inconsistent', () => {
    // Insertion sort never moves a rule past one without comment: [ns2, none, ns1] stays as is.
    const out = normalise(`*nat
:KUBE-SERVICES - [0:0]
-A KUBE-SERVICES -m comment --comment ns2/b -j ACCEPT
-A KUBE-SERVICES -j DROP
-A KUBE-SERVICES -m comment --comment ns1/a -j ACCEPT
COMMIT
`);
    expect(out.split('\n').filter((l) => l.startsWith('-A'))).toEqual([
      '-A KUBE-SERVICES -m comment --comment ns2/b -j ACCEPT',
      '-A KUBE-SERVICES -j DROP',
      '-A KUBE-SERVICES -m comment --comment ns1/a -j ACCEPT',
    ]);
  });

  it.each([
    ['a rule for an undeclared chain', '*nat\n-A KUBE-SERVICES -j ACCEPT\nCOMMIT\n', /no such chain "KUBE-SERVICES"/],
    ['-X after rules', '*nat\n:A - [0:0]\n-A A -j ACCEPT\n-X A\nCOMMIT\n', /cannot delete chain "A" after adding rules/],
    ['a rule after -X', '*nat\n:A - [0:0]\n-X A\n-A A -j ACCEPT\nCOMMIT\n', /cannot add rules to deleted chain "A"/],
    ['a built-in chain line', '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', /only reads "- \[p:b\]" chain lines/],
    ['a rule without arguments', '*nat\n:A - [0:0]\n-A A\nCOMMIT\n', /no match rules/],
    ['a negated comment', '*nat\n:A - [0:0]\n-A A -m comment ! --comment x\nCOMMIT\n', /cannot negate parameter "--comment"/],
    ['a parameter without value', '*nat\n:A - [0:0]\n-A A -j ACCEPT -s\nCOMMIT\n', /"-s" requires an argument/],
    ['rule counters', '*nat\n:A - [0:0]\n[1:2] -A A -j ACCEPT\nCOMMIT\n', /rule counters/],
  ])('fails like ParseIPTablesDump on %s', (_what, text, message) => {
    expect(() => sortLikeKubeProxyTests(parseRuleset(text))).toThrow(message);
  });
});

describe('goSliceStable', () => {
  it('is a stable sort for a consistent comparator (any length, merges included)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.nat()), { maxLength: 200 }), (items) => {
        const ours = items.slice();
        goSliceStable(ours, (a, b) => a[0] < b[0]);
        const reference = items.slice().sort((a, b) => a[0] - b[0]);
        expect(ours).toEqual(reference);
      }),
    );
  });
});

describe('sortLikeKubeProxyTests on the upstream goldens (fixtures/compile/upstream, Go-normalised)', () => {
  const root = join(__dirname, '../../../../fixtures/compile/upstream');
  const cases = existsSync(root)
    ? readdirSync(root).filter((c) => readFileSync(join(root, c, 'cmd'), 'utf8').includes('--sort')).map((c) => [c, readFileSync(join(root, c, 'expected.out'), 'utf8')] as const)
    : [];

  it('finds the goldens', () => {
    expect(cases.length).toBeGreaterThanOrEqual(3);
  });

  it.each(cases)('%s is a fixed point', (_name, golden) => {
    expect(normalise(golden)).toBe(golden);
  });

  it.each(cases)('%s comes back from any emission order kube-proxy could produce', (_name, golden) => {
    const parsed = parseRuleset(golden);
    fc.assert(
      fc.property(fc.infiniteStream(fc.nat()), (rand) => {
        const next = (n: number): number => (n <= 1 ? 0 : rand.next().value % n);
        const shuffle = <T>(xs: T[]): T[] => {
          const a = xs.slice();
          for (let i = a.length - 1; i > 0; i--) {
            const j = next(i + 1);
            [a[i], a[j]] = [a[j]!, a[i]!];
          }
          return a;
        };
        const tables = shuffle([...parsed.tables]).map((t) => {
          // Per-chain queues; the sorted chains' rules are further split per service, in a random service order.
          const queues: (typeof t.commands)[number][][] = [];
          const byChain = new Map<string, (typeof t.commands)[number][]>();
          for (const c of t.commands) {
            const key = c.kind === 'delete' ? `-X ${c.chain}` : c.chain;
            if (!byChain.has(key)) byChain.set(key, []);
            byChain.get(key)!.push(c);
          }
          for (const [key, cmds] of byChain) {
            if ((key === 'KUBE-SERVICES' || key === 'KUBE-NODEPORTS') && (t.name === 'nat' || t.name === 'filter')) {
              const groups = new Map<string, typeof cmds>();
              for (const c of cmds) {
                const args = c.kind === 'append' ? c.args : [];
                const comment = args[args.indexOf('--comment') + 1] ?? '';
                const service = comment.includes('must be the last rule') && t.name === 'nat' ? `~last~${comment}` : comment.split(/[ :]/)[0]!;
                if (!groups.has(service)) groups.set(service, []);
                groups.get(service)!.push(c);
              }
              const order = [...groups.keys()];
              const last = order.filter((k) => k.startsWith('~last~'));
              const shuffled = [...shuffle(order.filter((k) => !k.startsWith('~last~'))), ...last];
              queues.push(shuffled.flatMap((k) => groups.get(k)!));
            } else queues.push(cmds);
          }
          // A random interleaving that keeps each queue's order.
          const commands: (typeof t.commands)[number][] = [];
          const live = queues.filter((q) => q.length > 0).map((q) => q.slice());
          while (live.length > 0) {
            const i = next(live.length);
            commands.push(live[i]!.shift()!);
            if (live[i]!.length === 0) live.splice(i, 1);
          }
          return { name: t.name, chains: shuffle([...t.chains]), commands };
        });
        expect(render(sortLikeKubeProxyTests({ tables }))).toBe(golden);
      }),
      { numRuns: scaledRuns(25, 5) },
    );
  });
});
