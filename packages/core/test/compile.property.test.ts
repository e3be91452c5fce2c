import fc from 'fast-check';
import { checkRuleset, parseRuleset, render, tokenize } from '@svcrules/iptables';
import type { AppendCommand, Ruleset } from '@svcrules/iptables';
import { snapshotArb } from '@svcrules/testkit';
import { compile } from '../src/compile.js';
import type { IPFamily, Snapshot } from '../src/model.js';

const families: IPFamily[] = ['IPv4', 'IPv6'];
const capabilities = fc.record({ randomFully: fc.boolean(), nfacct: fc.boolean(), tcpBeLiberal: fc.boolean() });

/** The same snapshot with every list in another order. */
function shuffled(s: Snapshot, seed: number): Snapshot {
  const perm = <T>(xs: readonly T[]): T[] => {
    const out = [...xs];
    let x = seed || 1;
    for (let i = out.length - 1; i > 0; i--) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      const j = x % (i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  return { ...s, services: perm(s.services), endpointSlices: perm(s.endpointSlices).map((sl) => ({ ...sl, endpoints: perm(sl.endpoints) })) };
}

const appends = (r: Ruleset, table: string) => r.tables.find((t) => t.name === table)!.commands.filter((c): c is AppendCommand => c.kind === 'append');

describe.each(families)('compile properties (%s)', (family) => {
  test('deterministic and independent of the order of objects and endpoints', () => {
    fc.assert(
      fc.property(snapshotArb(family), fc.integer(), capabilities, (s, seed, caps) => {
        const a = render(compile(s, { family, ...caps }).ruleset);
        expect(render(compile(shuffled(s, seed), { family, ...caps }).ruleset)).toBe(a);
        expect(render(compile(s, { family, ...caps }).ruleset)).toBe(a);
      }),
    );
  });

  test('every jump goes to a built-in target or a chain declared in the same output', () => {
    fc.assert(
      fc.property(snapshotArb(family), capabilities, (s, caps) => {
        expect(checkRuleset(compile(s, { family, ...caps }).ruleset)).toEqual([]);
      }),
    );
  });

  test('the output parses back into the same ruleset, one restore command per line', () => {
    fc.assert(
      fc.property(snapshotArb(family), (s) => {
        const { ruleset } = compile(s, { family });
        const text = render(ruleset);
        // As plain data: the compiler's compact rules (TemplateRule) and declarations are classes.
        expect(parseRuleset(text)).toEqual(JSON.parse(JSON.stringify(ruleset)));
        const commands = ruleset.tables.reduce((n, t) => n + t.commands.length, 0);
        const lines = text.split('\n').filter((l) => l.startsWith('-A ') || l.startsWith('-X '));
        expect(lines).toHaveLength(commands);
        for (const l of lines) expect(tokenize(l).length).toBeGreaterThanOrEqual(2);
      }),
    );
  });

  test('the statistic ladder of every policy chain gives each endpoint exactly 1/n', () => {
    fc.assert(
      fc.property(snapshotArb(family), (s) => {
        const { ruleset } = compile(s, { family });
        const byChain = new Map<string, AppendCommand[]>();
        for (const r of appends(ruleset, 'nat')) {
          if (!/^KUBE-SV[CL]-/.test(r.chain)) continue;
          byChain.set(r.chain, [...(byChain.get(r.chain) ?? []), r]);
        }
        for (const rules of byChain.values()) {
          // Affinity (--rcheck) and masquerade rules come first; the jumps to SEP chains are the ladder.
          const ladder = rules.filter((r) => r.args.includes('-j') && r.args[r.args.indexOf('-j') + 1]!.startsWith('KUBE-SEP-') && !r.args.includes('--rcheck'));
          const n = ladder.length;
          let remaining = 1;
          ladder.forEach((r, i) => {
            const at = r.args.indexOf('--probability');
            const p = at >= 0 ? Number(r.args[at + 1]) : 1;
            if (i === n - 1) expect(at).toBe(-1);
            expect(remaining * p).toBeCloseTo(1 / n, 8);
            remaining *= 1 - p;
          });
        }
      }),
    );
  });
});
