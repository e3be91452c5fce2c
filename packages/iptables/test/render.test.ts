import fc from 'fast-check';
import type { Ruleset } from '../src/ir.js';
import { append, chainDecl } from '../src/ir.js';
import { parseRuleset } from '../src/parse.js';
import { render, renderChunks, renderTable } from '../src/render.js';
import { tokenize } from '../src/tokenize.js';
import { hostileWord, rulesetArb, safeWord } from './arb.js';

const sample: Ruleset = {
  tables: [
    {
      name: 'filter',
      chains: [chainDecl('KUBE-SERVICES'), { name: 'INPUT', policy: 'ACCEPT', counters: '12:3456' }],
      commands: [
        append('KUBE-SERVICES', ['-m', 'comment', '--comment', 'ns6/svc6:p80 has no endpoints', '-m', 'tcp', '-p', 'tcp', '-d', '172.30.0.46', '--dport', '80', '-j', 'REJECT']),
      ],
    },
    {
      name: 'nat',
      chains: [chainDecl('KUBE-SEP-SXIVWICOYRO3J4NJ'), chainDecl('KUBE-SVC-OLD')],
      commands: [
        append('KUBE-SEP-SXIVWICOYRO3J4NJ', ['-m', 'comment', '--comment', 'ns1/svc1:p80', '-s', '10.180.0.1', '-j', 'KUBE-MARK-MASQ']),
        { kind: 'append', chain: 'KUBE-SEP-SXIVWICOYRO3J4NJ', args: ['-j', 'ACCEPT'], counters: '5:300' },
        { kind: 'append', chain: 'KUBE-SEP-SXIVWICOYRO3J4NJ', args: [] },
        { kind: 'delete', chain: 'KUBE-SVC-OLD' },
      ],
    },
  ],
};

const sampleText = `*filter
:KUBE-SERVICES - [0:0]
:INPUT ACCEPT [12:3456]
-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT
COMMIT
*nat
:KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
:KUBE-SVC-OLD - [0:0]
-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
[5:300] -A KUBE-SEP-SXIVWICOYRO3J4NJ -j ACCEPT
-A KUBE-SEP-SXIVWICOYRO3J4NJ
-X KUBE-SVC-OLD
COMMIT
`;

describe('render', () => {
  it('writes iptables-restore text byte for byte', () => {
    expect(render(sample)).toBe(sampleText);
    expect(renderTable(sample.tables[1]!)).toBe(sampleText.slice(sampleText.indexOf('*nat')));
    expect(render({ tables: [] })).toBe('');
  });

  it('streams the same bytes in pieces of about 64 KiB', () => {
    const chains = Array.from({ length: 3000 }, (_, i) => chainDecl(`KUBE-SEP-${String(i).padStart(16, '0')}`));
    const commands = chains.map((c) => append(c.name, ['-m', 'comment', '--comment', 'ns1/svc1:p80 -> 10.180.0.1:80', '-j', 'KUBE-MARK-MASQ']));
    const big: Ruleset = { tables: [{ name: 'nat', chains, commands }, ...sample.tables] };
    const pieces = [...renderChunks(big)];
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces) expect(p.length).toBeLessThan(64 * 1024 + 200);
    expect(pieces.join('')).toBe(render(big));
  });

  it('throws before streaming anything when a word is unsafe', () => {
    const bad: Ruleset = { tables: [sample.tables[0]!, { name: 'nat', chains: [], commands: [append('X', ['--comment', 'a"b'])] }] };
    const it = renderChunks(bad)[Symbol.iterator]();
    expect(() => it.next()).toThrow(/unsafe|quote/);
  });

  it.each([
    ['a chain name with a space', { name: 'filter', chains: [chainDecl('A B')], commands: [] }],
    ['a chain name too long', { name: 'filter', chains: [chainDecl('A'.repeat(29))], commands: [] }],
    ['a rule for a chain named like a target', { name: 'filter', chains: [], commands: [append('ACCEPT', [])] }],
    ['a bad policy', { name: 'filter', chains: [{ name: 'INPUT', policy: 'ACCEPT [0:0]\n-A X', counters: '0:0' }], commands: [] }],
    ['bad counters', { name: 'filter', chains: [{ name: 'INPUT', policy: 'ACCEPT', counters: '0:0]\n-A X -j ACCEPT\n#[' }], commands: [] }],
    ['bad rule counters', { name: 'filter', chains: [], commands: [{ kind: 'append', chain: 'X', args: [], counters: 'x' }] }],
    ['an unknown table', { name: 'broute', chains: [], commands: [] }],
    ['an over-long comment', { name: 'filter', chains: [], commands: [append('X', ['-m', 'comment', '--comment', 'c'.repeat(256)])] }],
    ['too many words', { name: 'filter', chains: [], commands: [append('X', Array.from({ length: 247 }, () => 'w'))] }],
    ['an unknown command', { name: 'filter', chains: [], commands: [{ kind: 'insert', chain: 'X' }] }],
  ])('throws for %s', (_what, table) => {
    expect(() => render({ tables: [table as never] })).toThrow(/cannot render/);
  });

  it('accepts the longest rule iptables-restore takes with counters (248 words with -A CHAIN)', () => {
    expect(() => render({ tables: [{ name: 'filter', chains: [], commands: [append('X', Array.from({ length: 246 }, () => 'w'))] }] })).not.toThrow();
  });
});

describe('render properties', () => {
  it('parseRuleset(render(ir)) equals ir', () => {
    fc.assert(
      fc.property(rulesetArb(), (ir) => {
        expect(parseRuleset(render(ir))).toEqual(ir);
      }),
    );
  });

  it('iptables-restore reads exactly one line per command, with exactly the IR words, even for tricky words', () => {
    fc.assert(
      fc.property(rulesetArb(), (ir) => {
        const lines = render(ir).split('\n');
        expect(lines.pop()).toBe('');
        const structural = lines.filter((l) => l.startsWith('*') || l === 'COMMIT' || l.startsWith(':'));
        const commandLines = lines.filter((l) => !(l.startsWith('*') || l === 'COMMIT' || l.startsWith(':')));
        const tables = ir.tables;
        expect(structural.length).toBe(tables.reduce((n, t) => n + 2 + t.chains.length, 0));
        const commands = tables.flatMap((t) => t.commands);
        expect(commandLines.length).toBe(commands.length);
        commandLines.forEach((line, i) => {
          const cmd = commands[i]!;
          const words = tokenize(line.replace(/^\[\d+:\d+\] /, ''));
          expect(words).toEqual(cmd.kind === 'append' ? ['-A', cmd.chain, ...cmd.args] : ['-X', cmd.chain]);
        });
      }),
    );
  });

  it('throws for any unsafe word, wherever it sits', () => {
    fc.assert(
      fc.property(fc.array(safeWord, { maxLength: 5 }), hostileWord, fc.array(safeWord, { maxLength: 5 }), (before, bad, after) => {
        const ir: Ruleset = { tables: [{ name: 'nat', chains: [chainDecl('KUBE-SERVICES')], commands: [append('KUBE-SERVICES', [...before, bad, ...after])] }] };
        expect(() => render(ir)).toThrow(/cannot render/);
      }),
    );
  });
});
