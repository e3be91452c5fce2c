import { checkRuleset } from '../src/check.js';
import type { Ruleset } from '../src/ir.js';
import { parseRuleset } from '../src/parse.js';

const codes = (text: string, existing?: string[]) =>
  checkRuleset(parseRuleset(text), existing ? { existingChains: (_t, c) => existing.includes(c) } : {}).map((p) => `${p.code}:${p.chain}`);

describe('checkRuleset', () => {
  it('accepts a closed kube-proxy-shaped payload', () => {
    const text = `*nat
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-X - [0:0]
:KUBE-SEP-Y - [0:0]
:KUBE-SEP-OLD - [0:0]
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X
-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-Y
-A KUBE-SEP-Y -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
-A KUBE-SEP-Y -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A PREROUTING -g KUBE-SERVICES
-X KUBE-SEP-OLD
COMMIT
`;
    expect(codes(text)).toEqual([]);
  });

  it('reports jumps to chains nobody declares (KUBE-MARK-DROP, #96468)', () => {
    const problems = checkRuleset(parseRuleset('*nat\n:KUBE-SVL-X - [0:0]\n-A KUBE-SVL-X -m comment --comment "x" -j KUBE-MARK-DROP\nCOMMIT\n'));
    expect(problems).toEqual([
      { code: 'unknown-target', table: 'nat', chain: 'KUBE-MARK-DROP', command: 0, message: 'nat: KUBE-SVL-X rule -j KUBE-MARK-DROP: neither a target nor a chain of table nat' },
    ]);
  });

  it('does not take a comment reading "-j" for a jump', () => {
    expect(codes('*filter\n:A - [0:0]\n-A A -m comment --comment -j -m comment --comment "-j NOWHERE"\nCOMMIT\n')).toEqual([]);
  });

  it('takes chains of the same table only, and chains of the host when told about them', () => {
    const text = '*filter\n:F - [0:0]\nCOMMIT\n*nat\n:N - [0:0]\n-A N -j F\n-A N -j KUBE-SEP-KEPT\n-A N -g GONE\nCOMMIT\n';
    expect(codes(text)).toEqual(['unknown-target:F', 'unknown-target:KUBE-SEP-KEPT', 'unknown-target:GONE']);
    expect(codes(text, ['KUBE-SEP-KEPT'])).toEqual(['unknown-target:F', 'unknown-target:GONE']);
  });

  it('reports rules for undeclared chains, and after -X', () => {
    expect(codes('*nat\n:A - [0:0]\n-A B -j ACCEPT\n-A OUTPUT -j A\n-X A\n-A A -j ACCEPT\nCOMMIT\n')).toEqual([
      'append-to-undeclared-chain:B',
      'delete-referenced-chain:A',
      'append-to-deleted-chain:A',
    ]);
  });

  it('reports -X of built-in, undeclared, non-empty and referenced chains', () => {
    expect(codes('*filter\n:A - [0:0]\n:B - [0:0]\n-A A -j ACCEPT\n-A INPUT -j B\n-X INPUT\n-X C\n-X A\n-X B\nCOMMIT\n')).toEqual([
      'delete-builtin-chain:INPUT',
      'delete-undeclared-chain:C',
      'delete-nonempty-chain:A',
      'delete-referenced-chain:B',
    ]);
  });

  it('reports bad and duplicate declarations, and policies on user chains', () => {
    const ruleset: Ruleset = {
      tables: [
        {
          name: 'nat',
          chains: [
            { name: 'KUBE-SVC-X', policy: '-', counters: '0:0' },
            { name: 'KUBE-SVC-X', policy: '-', counters: '0:0' },
            { name: 'MY-CHAIN', policy: 'DROP', counters: '0:0' },
            { name: 'FORWARD', policy: 'ACCEPT', counters: '0:0' },
            { name: 'DNAT', policy: '-', counters: '0:0' },
            { name: 'POSTROUTING', policy: 'ACCEPT', counters: '0:0' },
          ],
          commands: [],
        },
      ],
    };
    expect(checkRuleset(ruleset).map((p) => `${p.code}:${p.chain}`)).toEqual([
      'duplicate-chain:KUBE-SVC-X',
      'policy-on-user-chain:MY-CHAIN',
      'policy-on-user-chain:FORWARD',
      'bad-chain-name:DNAT',
    ]);
  });
});
