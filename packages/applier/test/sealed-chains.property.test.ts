/**
 * A state file's chain digests read and edited as text (sealed-chains.ts) against plain maps: every
 * lookup (present or absent) and every edit gives what the map gives.
 */
import fc from 'fast-check';
import type { TableName } from '@svcrules/iptables';
import { scaledRuns } from '@svcrules/testkit';
import { chainSection, ChainSectionError, SealedChains } from '../src/sealed-chains.js';

const name = fc.stringMatching(/^KUBE-(SVC|SEP|EXT)-[A-Z0-9]{1,4}$/);
const digest = fc.stringMatching(/^[0-9a-f]{16}$/);
const table = fc.dictionary(name, digest, { maxKeys: 30 });
const chainsArb = fc.record({ filter: table, nat: table }, { requiredKeys: [] });

const toMap = (o: Partial<Record<TableName, Record<string, string>>>) => new Map(Object.entries(o).map(([t, m]) => [t as TableName, new Map(Object.entries(m!))]));

describe('SealedChains', () => {
  test('lookups and edits as text equal those of the maps', () => {
    fc.assert(
      fc.property(chainsArb, fc.array(name, { maxLength: 6 }), fc.dictionary(name, digest, { maxKeys: 6 }), fc.array(name, { maxLength: 6 }), (chains, removed, added, probes) => {
        const map = toMap(chains);
        const sealed = new SealedChains(chainSection(map));
        expect(new Map(sealed)).toEqual(map);
        expect(sealed.lines).toBe([...map.values()].reduce((n, m) => n + m.size, 0));
        for (const t of ['filter', 'nat'] as const) {
          for (const c of [...(map.get(t)?.keys() ?? []), ...probes]) expect(new SealedChains(sealed.text).digest(t, c)).toBe(map.get(t)?.get(c));
        }
        const edits = new Map<TableName, string[]>([['nat', removed]]);
        const adds = new Map<TableName, Map<string, string>>([['nat', new Map(Object.entries(added))]]);
        const expected = toMap(chains);
        const nat = expected.get('nat') ?? new Map<string, string>();
        for (const c of removed) nat.delete(c);
        for (const [c, d] of Object.entries(added)) nat.set(c, d);
        expected.set('nat', nat);
        const edited = sealed.edited(edits, adds);
        expect(new Map(edited)).toEqual(expected);
        // The edited text is the section the maps would write.
        expect(edited.text).toBe(chainSection(expected));
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });

  test('a damaged section is refused', () => {
    for (const bad of ['KUBE-SVC-A 0123456789abcdef\n', '*filter\nKUBE-SVC-A 0123\n', '*nosuch\n', '*nat\n*nat\n', '*nat\nKUBE-SVC-A 0123456789abcdef']) {
      expect(() => new SealedChains(bad)).toThrow(ChainSectionError);
    }
  });
});
