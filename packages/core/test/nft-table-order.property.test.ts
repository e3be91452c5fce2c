/**
 * The nftables TableBuilder's order without its Maps: names sorted by groups and packed code units
 * (`sortedByName`) as `Array.prototype.sort` sorts them, and rules placed by a counting sort as
 * knftables' Fake keeps them (each chain's in the order added, a repeated chain once, rules of an
 * undeclared chain last).
 */
import fc from 'fast-check';
import type { Chain, Rule } from '@svcrules/nftables';
import { scaledRuns } from '@svcrules/testkit';
import { TableBuilder } from '../src/nftables/builder.js';
import { sortedByName } from '../src/nftables/name-order.js';

// Few beginnings and short tails, so names share groups and their first packed units.
const name = fc.oneof(
  fc.tuple(fc.constantFrom('endpoint-', 'service-', 'local-', 'ab', 'a', 'a-', '-', '', 'é-', 'x\u0100'), fc.string({ unit: fc.constantFrom('A', 'B', '2', '-', '/', 'é', '\u00ff', '\u0100'), maxLength: 7 })).map(([a, b]) => a + b),
  fc.string({ maxLength: 6 }),
);

describe('sortedByName', () => {
  test('orders as the default sort does, stably, on the fast path and the plain one', () => {
    fc.assert(
      fc.property(fc.array(name, { maxLength: 300 }), fc.integer({ min: 0, max: 400 }), (names, fastFrom) => {
        const items = names.map((n, i) => ({ n, i }));
        const expected = [...items].sort((a, b) => (a.n < b.n ? -1 : a.n > b.n ? 1 : a.i - b.i));
        expect(sortedByName(items, (x) => x.n, fastFrom)).toEqual(expected);
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });

  test('a large table of kube-proxy-like names takes the fast path and keeps the order', () => {
    const names: string[] = [];
    for (let i = 0; i < 5000; i++) names.push(`${['endpoint', 'service', 'local'][i % 3]}-${((i * 2654435761) % 2 ** 32).toString(32).toUpperCase().padStart(7, 'A')}-ns/s${i}/tcp/p`);
    names.push('services', 'filter-input', 'nat-output', 'endpoint-', 'endpoint');
    expect(sortedByName(names, (n) => n)).toEqual([...names].sort());
  });
});

describe('TableBuilder', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('chain' as const), name: fc.constantFrom('a', 'b', 'c') }),
    fc.record({ kind: fc.constant('rule' as const), chain: fc.constantFrom('a', 'b', 'c', 'd'), word: fc.string({ minLength: 1, maxLength: 3 }) }),
    // A port: its chains, then rules by index into them (-1: by name).
    fc.record({
      kind: fc.constant('port' as const),
      chains: fc.array(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }),
      rules: fc.array(fc.tuple(fc.integer({ min: -1, max: 2 }), fc.constantFrom('a', 'b', 'c', 'd'), fc.string({ minLength: 1, maxLength: 3 })), { maxLength: 4 }),
    }),
  );

  test('chains by name (the first of a name), each chain rules in the order added, rules of undeclared chains last', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 12 }), (ops) => {
        const t = new TableBuilder('ip', 'kube-proxy');
        // The model: knftables' Fake (a chain added twice kept once, rules appended to their chain).
        const declared = new Map<string, Chain>();
        const all: Rule[] = [];
        ops.forEach((o, k) => {
          if (o.kind === 'chain') {
            const c = { name: o.name, comment: `op ${k}` };
            t.chain(c);
            if (!declared.has(c.name)) declared.set(c.name, c);
          } else if (o.kind === 'rule') {
            const r = { chain: o.chain, words: [o.word] };
            t.addRule(r);
            all.push(r);
          } else {
            const chains = o.chains.map((name, i) => ({ name, comment: `op ${k}.${i}` }));
            for (const c of chains) if (!declared.has(c.name)) declared.set(c.name, c);
            const rules: Rule[] = [];
            const at: number[] = [];
            for (const [i, byName, word] of o.rules) {
              const index = i < chains.length ? i : -1;
              rules.push({ chain: index < 0 ? byName : chains[index]!.name, words: [word] });
              at.push(index);
            }
            t.chainsAndRules(chains, rules, at);
            all.push(...rules);
          }
        });
        const rs = t.ruleset('c');
        const chains = [...declared.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
        expect(rs.chains).toEqual(chains);
        const names = chains.map((c) => c.name);
        expect(rs.rules).toEqual([...names.flatMap((n) => all.filter((r) => r.chain === n)), ...all.filter((r) => !declared.has(r.chain))]);
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });
});
