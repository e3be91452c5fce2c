import fc from 'fast-check';
import { parseRuleset } from '../src/parse.js';
import { tracePacket, type TraceOptions, type TracePacket, type TraceResult } from '../src/trace/trace.js';
import { add, formatExact, ONE, statisticProbability, toNumber, ZERO } from '../src/trace/probability.js';
import { withHookRules } from '../src/trace/hooks.js';
import { KUBE_PROXY_HOOKS, KUBE_PROXY_HOOK_RULES } from '@svcrules/core';

const NODE = '192.168.0.2';
// kube-proxy's hook rules unless a test says otherwise: most rulesets here are kube-proxy-shaped restore text.
const opts = (from: TraceOptions['from'] = 'pod', extra: Partial<TraceOptions> = {}): TraceOptions => ({ from, localAddresses: [NODE], hooks: KUBE_PROXY_HOOKS, ...extra });
const pkt = (src: string, dst: string, dport: number, extra: Partial<TracePacket> = {}): TracePacket => ({ src, dst, protocol: 'tcp', dport, ...extra });

function rules(text: string) {
  return parseRuleset(text.replace(/^\s+/gm, ''));
}

/** `destination verdict [masq]` per outcome, with percentages, for compact assertions. */
function summary(r: TraceResult): string[] {
  return r.outcomes.map(
    (o) => `${o.verdict}${o.delivery ? `/${o.delivery}` : ''} ${o.destination}${o.masquerade ? ' masq' : ''} ${(toNumber(o.probability) * 100).toFixed(2)}`,
  );
}

// A kube-proxy-shaped nat + filter ruleset (restore form: no built-in chains, no hooks).
const KP = `
*filter
:KUBE-SERVICES - [0:0]
:KUBE-EXTERNAL-SERVICES - [0:0]
:KUBE-FORWARD - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-PROXY-FIREWALL - [0:0]
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns2/svc2:p80 has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3001 -j DROP
-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
COMMIT
*nat
:KUBE-SERVICES - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-1 - [0:0]
:KUBE-SEP-2 - [0:0]
:KUBE-SEP-3 - [0:0]
:KUBE-EXT-A - [0:0]
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-A
-A KUBE-NODEPORTS -m comment --comment ns1/svc1:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-A
-A KUBE-EXT-A -m comment --comment "masquerade traffic for ns1/svc1:p80 external destinations" -j KUBE-MARK-MASQ
-A KUBE-EXT-A -j KUBE-SVC-A
-A KUBE-SVC-A -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
-A KUBE-SVC-A -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-1
-A KUBE-SVC-A -m comment --comment "ns1/svc1:p80 -> 10.180.0.2:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-2
-A KUBE-SVC-A -m comment --comment "ns1/svc1:p80 -> 10.180.0.3:8080" -j KUBE-SEP-3
-A KUBE-SEP-1 -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-1 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SEP-2 -m comment --comment ns1/svc1:p80 -s 10.180.0.2 -j KUBE-MARK-MASQ
-A KUBE-SEP-2 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
-A KUBE-SEP-3 -m comment --comment ns1/svc1:p80 -s 10.180.0.3 -j KUBE-MARK-MASQ
-A KUBE-SEP-3 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:8080
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
COMMIT
`;

describe('probabilities', () => {
  test('the restore text and the iptables-save print of a probability give the same kernel value', () => {
    const a = statisticProbability('0.3333333333')!;
    const b = statisticProbability('0.33333333349')!;
    expect(formatExact(a)).toBe('715827883/2147483648');
    expect(formatExact(b)).toBe(formatExact(a));
    expect(formatExact(statisticProbability('0.5000000000')!)).toBe('1/2');
    expect(statisticProbability('1.5')).toBeNull();
    expect(statisticProbability('abc')).toBeNull();
  });

  test('a Service chain with n endpoints splits into n outcomes that sum to exactly 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
        const lines = ['*nat', ':KUBE-SERVICES - [0:0]', ':KUBE-SVC-X - [0:0]'];
        for (let i = 0; i < n; i++) lines.push(`:KUBE-SEP-${i} - [0:0]`);
        lines.push('-A KUBE-SERVICES -d 172.30.0.1/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X');
        for (let i = 0; i < n; i++) {
          const p = i < n - 1 ? ` -m statistic --mode random --probability ${(1 / (n - i)).toFixed(10)}` : '';
          lines.push(`-A KUBE-SVC-X${p} -j KUBE-SEP-${i}`);
          lines.push(`-A KUBE-SEP-${i} -p tcp -j DNAT --to-destination 10.1.${i >> 8}.${i & 255}:80`);
        }
        lines.push('COMMIT', '');
        const r = tracePacket(parseRuleset(lines.join('\n')), pkt('10.0.0.9', '172.30.0.1', 80), opts());
        expect(r.outcomes).toHaveLength(n);
        const total = r.outcomes.reduce((s, o) => add(s, o.probability), ZERO);
        expect(total).toEqual(ONE);
        r.outcomes.forEach((o, i) => {
          expect(o.destination).toBe(`10.1.${i >> 8}.${i & 255}:80`);
          expect(Math.abs(toNumber(o.probability) - 1 / n)).toBeLessThan(1e-8);
        });
      }),
    );
  });
});

describe('kube-proxy-shaped rules (restore form, hooks added)', () => {
  const rs = rules(KP);

  test('pod to a cluster IP: three endpoints, rule order, no SNAT, DNAT before filter', () => {
    const r = tracePacket(rs, pkt('10.0.0.2', '172.30.0.41', 80), opts());
    expect(summary(r)).toEqual(['ACCEPT/forward 10.180.0.1:80 33.33', 'ACCEPT/forward 10.180.0.2:80 33.33', 'ACCEPT/forward 10.180.0.3:8080 33.33']);
    expect(r.addedHooks.map((h) => `${h.table} ${h.chain} -> ${h.target}`)).toContain('nat PREROUTING -> KUBE-SERVICES');
    const first = r.outcomes[0]!;
    expect(first.dnat?.rule.text).toBe('-A KUBE-SEP-1 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80');
    expect(first.events.map((e) => `${e.table} ${e.chain} ${e.effect}`)).toEqual([
      'nat PREROUTING jump',
      'nat KUBE-SERVICES jump',
      'nat KUBE-SVC-A jump',
      'nat KUBE-SEP-1 dnat',
      'filter FORWARD jump', // KUBE-PROXY-FIREWALL (NEW)
      'filter FORWARD jump', // KUBE-FORWARD
      'filter FORWARD jump', // KUBE-SERVICES (NEW)
      'filter FORWARD jump', // KUBE-EXTERNAL-SERVICES (NEW)
      'filter FORWARD policy',
      'nat POSTROUTING jump',
      'nat KUBE-POSTROUTING return',
      'nat POSTROUTING policy',
    ]);
    expect(first.events[2]!.probability).toEqual(statisticProbability('0.3333333333'));
    // The third endpoint passed both statistic rules without taking them.
    const third = r.outcomes[2]!.events.filter((e) => e.chain === 'KUBE-SVC-A').map((e) => `${e.rule?.index} ${e.effect} ${e.probability ? formatExact(e.probability) : ''}`);
    expect(third).toEqual(['2 not-taken 1431655765/2147483648', '3 not-taken 1/2', '4 jump ']);
    expect(r.assumptions.map((a) => a.code)).toEqual(['new-connection', 'statistic-kernel', 'hooks-added']);
  });

  test('outside the pod CIDR: masqueraded by KUBE-POSTROUTING because the mark was set', () => {
    const r = tracePacket(rs, pkt('203.0.113.2', '172.30.0.41', 80), opts('external'));
    expect(r.outcomes).toHaveLength(3);
    for (const o of r.outcomes) {
      expect(o.masquerade?.rule.text).toBe('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE');
      // KUBE-POSTROUTING clears the bit before masquerading.
      expect(o.mark).toBe(0);
      // The marked packet is accepted by KUBE-FORWARD's mark rule.
      expect(o.decidedBy).toEqual({ rule: expect.objectContaining({ chain: 'KUBE-FORWARD', index: 2 }) });
    }
  });

  test('hairpin: an endpoint reaching its own service is masqueraded only on that branch', () => {
    const r = tracePacket(rs, pkt('10.180.0.2', '172.30.0.41', 80), opts());
    expect(summary(r)).toEqual(['ACCEPT/forward 10.180.0.1:80 33.33', 'ACCEPT/forward 10.180.0.2:80 masq 33.33', 'ACCEPT/forward 10.180.0.3:8080 33.33']);
  });

  test('no endpoints: filter REJECT sees the cluster IP', () => {
    const r = tracePacket(rs, pkt('10.0.0.2', '172.30.0.46', 80), opts());
    expect(summary(r)).toEqual(['REJECT 172.30.0.46:80 100.00']);
    expect(r.outcomes[0]!.decidedBy).toEqual({ rule: expect.objectContaining({ table: 'filter', chain: 'KUBE-SERVICES', index: 1 }) });
  });

  test('node ports need a local destination (addrtype LOCAL) and the port', () => {
    const ok = tracePacket(rs, pkt('203.0.113.2', NODE, 3001), opts('external'));
    expect(summary(ok)).toEqual(['ACCEPT/forward 10.180.0.1:80 masq 33.33', 'ACCEPT/forward 10.180.0.2:80 masq 33.33', 'ACCEPT/forward 10.180.0.3:8080 masq 33.33']);
    // 192.168.0.3 is not local: the tail rule does not match, the packet is forwarded untouched.
    const notLocal = tracePacket(rs, pkt('203.0.113.2', '192.168.0.3', 3001), opts('external'));
    expect(summary(notLocal)).toEqual(['ACCEPT/forward 192.168.0.3:3001 100.00']);
    // A local destination without a node port: delivered locally.
    const other = tracePacket(rs, pkt('203.0.113.2', NODE, 22), opts('external'));
    expect(summary(other)).toEqual(['ACCEPT/local 192.168.0.2:22 100.00']);
  });

  test('from the node: nat OUTPUT, then filter OUTPUT, and a local destination goes through filter INPUT', () => {
    const r = tracePacket(rs, pkt(NODE, '172.30.0.41', 80), opts('node'));
    expect(r.outcomes.map((o) => o.delivery)).toEqual(['output', 'output', 'output']);
    expect(r.outcomes[0]!.events[0]).toMatchObject({ hook: 'OUTPUT', table: 'nat', chain: 'OUTPUT', effect: 'jump' });
    expect(r.outcomes[0]!.masquerade).not.toBeNull(); // 192.168.0.2 is outside 10.0.0.0/8
    const local = tracePacket(rs, pkt(NODE, NODE, 22), opts('node'));
    expect(summary(local)).toEqual(['ACCEPT/local 192.168.0.2:22 100.00']);
    expect(local.outcomes[0]!.events.filter((e) => e.effect === 'policy').map((e) => `${e.table} ${e.chain}`)).toEqual([
      'nat OUTPUT',
      'filter OUTPUT',
      'nat POSTROUTING',
      'filter INPUT',
    ]);
  });

  test('the hooks are not added twice', () => {
    const once = withHookRules(rs, KUBE_PROXY_HOOK_RULES);
    expect(once.added.length).toBeGreaterThan(0);
    expect(withHookRules(once.ruleset, KUBE_PROXY_HOOK_RULES).added).toEqual([]);
    const r = tracePacket(once.ruleset, pkt('10.0.0.2', '172.30.0.41', 80), opts());
    expect(r.addedHooks).toEqual([]);
    expect(summary(r)).toHaveLength(3);
  });

  test('hook rules are an input: none unless given, and any tool may give its own', () => {
    const bare = tracePacket(rs, pkt('10.0.0.2', '172.30.0.41', 80), { from: 'pod', localAddresses: [NODE] });
    expect(bare.addedHooks).toEqual([]);
    expect(bare.outcomes.some((o) => o.dnat)).toBe(false);
    expect(bare.assumptions.map((a) => a.code)).not.toContain('hooks-added');
    const mine = { installer: 'my-proxy', rules: [{ table: 'nat' as const, chain: 'PREROUTING', target: 'KUBE-SERVICES', comment: '', extraArgs: [] }] };
    const r = tracePacket(rs, pkt('10.0.0.2', '172.30.0.41', 80), opts('pod', { hooks: mine }));
    expect(r.addedHooks).toEqual(mine.rules);
    expect(summary(r)).toHaveLength(3);
    expect(r.assumptions.find((a) => a.code === 'hooks-added')?.text).toBe(
      "my-proxy's jump rules from the built-in chains were missing and were added as my-proxy installs them (1 rules)",
    );
  });
});

describe('netfilter semantics', () => {
  test('goto: RETURN from a goto target resumes after the jump into the calling chain', () => {
    const rs = rules(`
      *filter
      :INPUT ACCEPT [0:0]
      :FORWARD DROP [0:0]
      :OUTPUT ACCEPT [0:0]
      :A - [0:0]
      :B - [0:0]
      :C - [0:0]
      -A FORWARD -j A
      -A FORWARD -j ACCEPT
      -A A -g B
      -A A -j REJECT
      -A B -j C
      -A B -j RETURN
      -A C -j RETURN
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(summary(r)).toEqual(['ACCEPT/forward 10.0.0.2:80 100.00']);
    expect(r.outcomes[0]!.decidedBy).toEqual({ rule: expect.objectContaining({ chain: 'FORWARD', index: 2 }) });
  });

  test('a DROP policy decides when no rule does', () => {
    const rs = rules('*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(summary(r)).toEqual(['DROP 10.0.0.2:80 100.00']);
    expect(r.outcomes[0]!.decidedBy).toEqual({ policy: { table: 'filter', chain: 'FORWARD', policy: 'DROP' } });
  });

  test('iptables-save forms: /32 masks, --set-xmark, 11-digit probabilities, -m tcp after -p', () => {
    const save = rules(`
      *nat
      :PREROUTING ACCEPT [0:0]
      :POSTROUTING ACCEPT [0:0]
      :KUBE-MARK-MASQ - [0:0]
      :S - [0:0]
      -A PREROUTING -d 172.30.0.41/32 -p tcp -m tcp --dport 80 -j S
      -A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE --random-fully
      -A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
      -A S ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
      -A S -m statistic --mode random --probability 0.33333333349 -j DNAT --to-destination 10.180.0.1:80
      -A S -j DNAT --to-destination 10.180.0.2:80
      COMMIT
    `);
    const r = tracePacket(save, pkt('203.0.113.9', '172.30.0.41', 80), opts());
    expect(r.outcomes.map((o) => [o.destination, formatExact(o.probability), o.masquerade?.rule.index])).toEqual([
      ['10.180.0.1:80', '715827883/2147483648', 1],
      ['10.180.0.2:80', '1431655765/2147483648', 1],
    ]);
    expect(r.outcomes[0]!.mark).toBe(0x4000);
  });

  test('marks: --set-xmark value/mask, --and-mark, and mask matching', () => {
    const rs = rules(`
      *mangle
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -j MARK --set-xmark 0xff/0xffffffff
      -A PREROUTING -j MARK --and-mark 0x0f
      -A PREROUTING -j MARK --set-mark 0x100/0x100
      COMMIT
      *filter
      :FORWARD ACCEPT [0:0]
      -A FORWARD -m mark --mark 0x10f/0x1ff -j REJECT
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(summary(r)).toEqual(['REJECT 10.0.0.2:80 100.00']);
    expect(r.outcomes[0]!.events.filter((e) => e.effect === 'mark').map((e) => e.detail)).toEqual([
      'mark 0x0 -> 0xff',
      'mark 0xff -> 0xf',
      'mark 0xf -> 0x10f',
    ]);
  });

  test('the mangle table runs before nat in PREROUTING', () => {
    const rs = rules(`
      *mangle
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -j MARK --set-mark 0x1
      COMMIT
      *nat
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -m mark --mark 0x1 -j DNAT --to-destination 10.9.9.9
      COMMIT
    `);
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts()))).toEqual(['ACCEPT/forward 10.9.9.9:80 100.00']);
  });

  test('conntrack: the first packet is NEW, and DNAT once translated (KUBE-FIREWALL localnet rule)', () => {
    const rs = rules(`
      *filter
      :INPUT ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :KUBE-FIREWALL - [0:0]
      -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
      COMMIT
    `);
    // The hooks put KUBE-FIREWALL first in INPUT and OUTPUT.
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '127.0.0.1', 80), opts()))).toEqual(['DROP 127.0.0.1:80 100.00']);
    expect(summary(tracePacket(rs, pkt('127.0.0.1', '127.0.0.1', 80), opts('node')))).toEqual(['ACCEPT/local 127.0.0.1:80 100.00']);
  });

  test('recent: no entry on a first packet; --set is recorded as affinity', () => {
    const rs = rules(`
      *nat
      :PREROUTING ACCEPT [0:0]
      :SVC - [0:0]
      :SEP - [0:0]
      -A PREROUTING -d 172.30.0.45 -j SVC
      -A SVC -m recent --name SEP --rcheck --seconds 10800 --reap -j SEP
      -A SVC -j SEP
      -A SEP -m recent --name SEP --set -p tcp -m tcp -j DNAT --to-destination 10.180.0.3:80
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.2', '172.30.0.45', 80), opts());
    expect(summary(r)).toEqual(['ACCEPT/forward 10.180.0.3:80 100.00']);
    expect(r.outcomes[0]!.events.map((e) => `${e.chain} ${e.rule?.index} ${e.effect}`)).toEqual(['PREROUTING 1 jump', 'SVC 2 jump', 'SEP 1 dnat']);
    expect(r.outcomes[0]!.affinity.map((a) => [a.name, a.op, a.seconds, a.matched, a.rule.chain])).toEqual([
      ['SEP', 'rcheck', 10800, false, 'SVC'],
      ['SEP', 'set', null, true, 'SEP'],
    ]);
    expect(r.assumptions.map((a) => a.code)).toContain('recent-empty');
    // iptables-save prints the same rules with the defaults spelled out; the trace is the same.
    const saved = rules(`
      *nat
      :PREROUTING ACCEPT [0:0]
      :SVC - [0:0]
      :SEP - [0:0]
      -A PREROUTING -d 172.30.0.45/32 -j SVC
      -A SVC -m recent --rcheck --seconds 10800 --reap --name SEP --mask 255.255.255.255 --rsource -j SEP
      -A SVC -j SEP
      -A SEP -p tcp -m recent --set --name SEP --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.3:80
      COMMIT
    `);
    const s = tracePacket(saved, pkt('10.0.0.2', '172.30.0.45', 80), opts());
    expect(summary(s)).toEqual(summary(r));
    expect(s.outcomes[0]!.affinity.map((a) => [a.op, a.seconds, a.key, a.mask, a.matched])).toEqual([
      ['rcheck', 10800, 'source', null, false],
      ['set', null, 'source', null, true],
    ]);
    const masked = rules('*nat\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -m recent --rcheck --name X --mask 255.255.255.0 --rdest -j DNAT --to-destination 10.9.9.9\nCOMMIT\n');
    expect(tracePacket(masked, pkt('10.0.0.2', '172.30.0.45', 80), opts()).outcomes[0]!.affinity.map((a) => [a.key, a.mask])).toEqual([['destination', '255.255.255.0']]);
  });

  test('interfaces: a branch per answer when unknown, matched with wildcards when given, empty in OUTPUT', () => {
    const rs = rules(`
      *nat
      :PREROUTING ACCEPT [0:0]
      :OUTPUT ACCEPT [0:0]
      :X - [0:0]
      -A PREROUTING -j X
      -A OUTPUT -j X
      -A X ! -i cni+ -j DNAT --to-destination 10.1.1.1
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(r.outcomes.map((o) => [summary({ ...r, outcomes: [o] })[0], o.given.map((g) => `${g.holds} ${g.text}`)])).toEqual([
      ['ACCEPT/forward 10.0.0.2:80 100.00', ["true the packet arrives on an interface matching cni+ (unknown: give --in-interface or the node's routes)"]],
      ['ACCEPT/forward 10.1.1.1:80 100.00', ["false the packet does not arrive on an interface matching cni+ (unknown: give --in-interface or the node's routes)"]],
    ]);
    expect(r.outcomes[0]!.given[0]!.rule.text).toBe('-A X ! -i cni+ -j DNAT --to-destination 10.1.1.1');
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80, { inInterface: 'cni0' }), opts()))).toEqual(['ACCEPT/forward 10.0.0.2:80 100.00']);
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80, { inInterface: 'eth0' }), opts()))).toEqual(['ACCEPT/forward 10.1.1.1:80 100.00']);
    expect(summary(tracePacket(rs, pkt(NODE, '10.0.0.2', 80), opts('node')))).toEqual(['ACCEPT/output 10.1.1.1:80 100.00']);
  });

  test('an assumed interface answers later tests consistently', () => {
    const rs = rules(`
      *filter
      :FORWARD DROP [0:0]
      :DOCKER - [0:0]
      -A FORWARD -o docker0 -j DOCKER
      -A FORWARD -o docker0 -j ACCEPT
      -A FORWARD -o eth0 -j ACCEPT
      -A FORWARD -o veth+ -j ACCEPT
      -A FORWARD -j REJECT --reject-with icmp-host-prohibited
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(r.outcomes.map((o) => `${o.verdict} ${o.outInterface ?? '?'} | ${o.given.map((g) => `${g.holds ? '' : '!'}${g.key}`).join(' ')}`)).toEqual([
      'ACCEPT docker0 | out=docker0',
      'ACCEPT eth0 | !out=docker0 out=eth0',
      'ACCEPT ? | !out=docker0 !out=eth0 out=veth+',
      'REJECT ? | !out=docker0 !out=eth0 !out=veth+',
    ]);
    expect(r.outcomes[3]!.reject).toEqual({ with: 'icmp-host-prohibited', tcp: 'EHOSTUNREACH', udp: 'EHOSTUNREACH', text: 'no route to host' });
  });

  test('what real node dumps contain: SYN flags, limit, state, policy, pkttype, iprange are decided', () => {
    const rs = rules(`
      *filter
      :INPUT DROP [0:0]
      -A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -m limit --limit 5/sec -j LOG --log-prefix "syn: "
      -A INPUT -p tcp -m tcp ! --tcp-flags SYN,RST,ACK SYN -j DROP
      -A INPUT -p tcp -m tcp --tcp-flags ALL NONE -j DROP
      -A INPUT -p icmp --icmp-type 8 -j DROP
      -A INPUT -m policy --dir in --pol ipsec -j DROP
      -A INPUT -m pkttype --pkt-type multicast -j DROP
      -A INPUT -m iprange --src-range 10.0.0.0-10.0.0.9 -m state --state NEW -m policy --dir in --pol none -j ACCEPT
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.1', NODE, 22), opts('external'));
    expect(summary(r)).toEqual([`ACCEPT/local ${NODE}:22 100.00`]);
    expect(r.outcomes[0]!.given).toEqual([]);
    expect(r.assumptions.map((a) => a.code)).toContain('limit-fresh');
    expect(summary(tracePacket(rs, pkt('10.0.0.10', NODE, 22), opts('external')))).toEqual([`DROP ${NODE}:22 100.00`]);
  });

  test('unmodelled matches branch (labelled) only when the rule could match', () => {
    const rs = rules(`
      *filter
      :FORWARD ACCEPT [0:0]
      -A FORWARD -d 10.9.9.9 -m set --match-set blocked src -j DROP
      -A FORWARD -p udp -m physdev --physdev-in veth0 -j DROP
      -A FORWARD -m u32 --u32 "0>>22&0x3C@12>>26&0x3F=0x10" -j DROP
      COMMIT
    `);
    // -d fails first and -p udp fails: only the u32 rule is unknown.
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(r.outcomes.map((o) => `${o.verdict} ${o.given.map((g) => g.text).join(' ')}`)).toEqual([
      'DROP -m u32 --u32 0>>22&0x3C@12>>26&0x3F=0x10 matches (the match module u32 is not modelled)',
      'ACCEPT -m u32 --u32 0>>22&0x3C@12>>26&0x3F=0x10 does not match (the match module u32 is not modelled)',
    ]);
    const s = tracePacket(rs, pkt('10.0.0.1', '10.9.9.9', 80), opts());
    expect(s.outcomes[0]!.given.map((g) => [g.code, g.text])).toEqual([['ipset', 'the packet is in ipset blocked (src); give --ipsets']]);
  });

  test('unmodelled targets end the branch as UNKNOWN, naming the rule', () => {
    const rs = rules(`
      *mangle
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -d 10.0.0.2 -p tcp -j TPROXY --on-port 8080 --tproxy-mark 0x1/0x1
      COMMIT
    `);
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.3', 80), opts()))).toEqual(['ACCEPT/forward 10.0.0.3:80 100.00']);
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(r.outcomes.map((o) => [o.verdict, o.stoppedAt?.rule.index, o.stoppedAt?.why])).toEqual([
      ['UNKNOWN', 1, 'TPROXY --on-port 8080 --tproxy-mark 0x1/0x1: the target TPROXY is not modelled (and it is not a chain of this table)'],
    ]);
  });

  test('REDIRECT delivers locally; NOTRACK skips nat; CONNMARK save/restore and -m connmark', () => {
    const rs = rules(`
      *raw
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -p udp --dport 53 -j NOTRACK
      -A PREROUTING -p tcp --dport 8443 -j CT --notrack
      COMMIT
      *mangle
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
      -A PREROUTING -p tcp --dport 80 -j MARK --set-xmark 0x7/0xff
      -A PREROUTING -j CONNMARK --save-mark --nfmask 0xff --ctmask 0xff
      COMMIT
      *nat
      :PREROUTING ACCEPT [0:0]
      -A PREROUTING -p tcp --dport 80 -m connmark --mark 0x7/0xff -j REDIRECT --to-ports 3128
      -A PREROUTING -p tcp --dport 8443 -j DNAT --to-destination 10.5.5.5
      -A PREROUTING -p udp --dport 53 -j DNAT --to-destination 10.5.5.5
      COMMIT
      *filter
      :INPUT ACCEPT [0:0]
      -A INPUT -m conntrack --ctstate UNTRACKED -j DROP
      COMMIT
    `);
    const r = tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts());
    expect(summary(r)).toEqual(['ACCEPT/local 10.0.0.2:3128 100.00']);
    expect(r.outcomes[0]!.events.filter((e) => e.effect === 'connmark' || e.effect === 'redirect').map((e) => e.detail)).toEqual([
      'mark 0x0 -> 0x0 (restored from ctmark 0x0)',
      'ctmark 0x0 -> 0x7',
      'destination 10.0.0.2:80 -> 10.0.0.2:3128 (the node)',
    ]);
    // Untracked: nat never sees the packet (no DNAT); forwarded as addressed.
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 8443), opts()))).toEqual(['ACCEPT/forward 10.0.0.2:8443 100.00']);
    expect(summary(tracePacket(rs, { ...pkt('10.0.0.1', NODE, 53), protocol: 'udp' }, opts()))).toEqual([`DROP ${NODE}:53 100.00`]);
  });

  test('IPv6: CIDRs and bracketed DNAT destinations', () => {
    const rs = rules(`
      *nat
      :PREROUTING ACCEPT [0:0]
      :POSTROUTING ACCEPT [0:0]
      -A PREROUTING -d fd00:172:30::41/128 -p tcp -m tcp --dport 80 ! -s fd00:10::/64 -j MARK --set-xmark 0x4000/0x4000
      -A PREROUTING -d fd00:172:30::41 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00:10:180::1]:8080
      -A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
      COMMIT
    `);
    expect(summary(tracePacket(rs, pkt('fd00:10::5', 'fd00:172:30::41', 80), opts()))).toEqual(['ACCEPT/forward [fd00:10:180::1]:8080 100.00']);
    expect(summary(tracePacket(rs, pkt('2001:db8::9', 'fd00:172:30::41', 80), opts()))).toEqual(['ACCEPT/forward [fd00:10:180::1]:8080 masq 100.00']);
  });

  test('multiport and source ports', () => {
    const rs = rules(`
      *filter
      :FORWARD ACCEPT [0:0]
      -A FORWARD -p tcp -m multiport --dports 22,8000:8100 -j REJECT
      -A FORWARD -p tcp --sport 1024:65535 -j DROP
      COMMIT
    `);
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 8080), opts()))).toEqual(['REJECT 10.0.0.2:8080 100.00']);
    expect(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80), opts()).outcomes.map((o) => `${o.verdict} ${o.given[0]!.text}`)).toEqual([
      'DROP the source port is in 1024:65535 (--sport; give --sport)',
      'ACCEPT the source port is not in 1024:65535 (--sport; give --sport)',
    ]);
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80, { sport: 40000 }), opts()))).toEqual(['DROP 10.0.0.2:80 100.00']);
    expect(summary(tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 80, { sport: 80 }), opts()))).toEqual(['ACCEPT/forward 10.0.0.2:80 100.00']);
  });

  test('bad packets are refused with a reason', () => {
    const rs = rules('*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n');
    expect(() => tracePacket(rs, pkt('10.0.0.1', 'fd00::1', 80), opts())).toThrow('cannot trace: source 10.0.0.1 and destination fd00::1 are of different IP families');
    expect(() => tracePacket(rs, pkt('10.0.0.x', '10.0.0.1', 80), opts())).toThrow('cannot trace: source "10.0.0.x" is not an IP address');
    expect(() => tracePacket(rs, pkt('10.0.0.1', '10.0.0.2', 0), opts())).toThrow('cannot trace: destination port 0 is not in 1-65535');
  });
});
