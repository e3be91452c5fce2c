/**
 * Properties of the nftables tracer:
 *  - numgen: for any modulus, offset and vmap over it, each endpoint's probability is exactly the
 *    share of values that map to it, the rest falls through, and everything sums to 1;
 *  - kube-proxy's tables are fully modelled: any packet through any upstream dump gives outcomes
 *    that are never UNKNOWN, and within each set of assumptions the probabilities sum to 1.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { addProbability, type Probability } from '@svcrules/iptables';
import { FIXTURES, findCases, scaledRuns } from '@svcrules/testkit';
import { parseDump, parseListText, tracePacketNft, type NftTraceResult } from '../src/index.js';

const sum = (ps: readonly Probability[]): Probability => ps.reduce(addProbability, { num: 0n, den: 1n });
const same = (a: Probability, b: Probability): boolean => a.num * b.den === b.num * a.den;

test('numgen vmaps split exactly by the values that map to each chain', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 16 }), fc.integer({ min: 0, max: 5 }), fc.array(fc.integer({ min: -1, max: 2 }), { minLength: 16, maxLength: 16 }), (mod, offset, pick) => {
      // pick[i]: which endpoint chain value offset+i goes to (-1: no entry).
      const entries = Array.from({ length: mod }, (_, i) => [offset + i, pick[i]!] as const).filter(([, e]) => e >= 0);
      const vmap = entries.length === 0 ? '' : `numgen random mod ${mod} offset ${offset} vmap { ${entries.map(([v, e]) => `${v} : goto e${e}`).join(', ')} }`;
      const text = [
        'table ip t {',
        '\tchain pre {',
        '\t\ttype nat hook prerouting priority dstnat; policy accept;',
        ...(vmap ? [`\t\t${vmap}`] : []),
        '\t}',
        ...[0, 1, 2].flatMap((e) => [`\tchain e${e} {`, `\t\tdnat to 10.0.0.${e + 1}:80`, '\t}']),
        '}',
      ].join('\n');
      const r = tracePacketNft(parseListText(text).rulesets, { src: '203.0.113.2', dst: '10.96.0.1', dport: 80, protocol: 'tcp' }, { from: 'external', localAddresses: [] });
      const share = (dest: string, n: number) => {
        const o = r.outcomes.find((x) => x.destination === dest);
        return n === 0 ? o === undefined : o !== undefined && same(o.probability, { num: BigInt(n), den: BigInt(mod) });
      };
      for (const e of [0, 1, 2]) expect(share(`10.0.0.${e + 1}:80`, entries.filter(([, x]) => x === e).length)).toBe(true);
      expect(share('10.96.0.1:80', mod - entries.length)).toBe(true);
      expect(sum(r.outcomes.map((o) => o.probability))).toEqual({ num: 1n, den: 1n });
    }),
    { numRuns: scaledRuns(100, 50) },
  );
});

const dumps = findCases(join(FIXTURES, 'compile-nft', 'upstream'), 'NOTES').flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.nft'))
    .map((f) => parseDump(readFileSync(join(dir, f), 'utf8'))),
);

/** Probabilities per distinct set of assumptions that every outcome under it shares. */
function scenarioSums(r: NftTraceResult): Probability[] {
  const groups = new Map<string, Probability[]>();
  for (const o of r.outcomes) {
    const k = o.given.map((g) => `${g.key}=${g.holds}`).join('|');
    groups.set(k, [...(groups.get(k) ?? []), o.probability]);
  }
  return [...groups.values()].map(sum);
}

test("any packet through kube-proxy's tables: never UNKNOWN, and each set of assumptions sums to 1", () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const addr = fc.oneof(
    fc.constantFrom('172.30.0.41', '172.30.0.42', '172.30.0.43', '172.30.0.44', '172.30.0.45', '172.30.0.46', '192.168.0.2', '192.168.1.2', '1.2.3.4', '5.6.7.8', '192.168.99.22', '192.168.99.33', '10.180.0.3', '203.0.113.130'),
    fc.tuple(fc.constantFrom(10, 172, 192, 203), octet, octet, octet).map((t) => t.join('.')),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: dumps.length - 1 }),
      addr,
      addr,
      fc.constantFrom('tcp', 'udp', 'sctp') as fc.Arbitrary<'tcp' | 'udp' | 'sctp'>,
      fc.oneof(fc.constantFrom(80, 81, 443, 3001, 3002, 3003, 8080), fc.integer({ min: 1, max: 65535 })),
      fc.constantFrom('pod', 'node', 'external') as fc.Arbitrary<'pod' | 'node' | 'external'>,
      (d, src, dst, protocol, dport, from) => {
        const r = tracePacketNft(dumps[d]!, { src: from === 'node' ? '192.168.0.2' : src, dst, dport, protocol }, { from, localAddresses: ['192.168.0.2', '192.168.1.2', '192.168.99.11'] });
        expect(r.outcomes.filter((o) => o.verdict === 'UNKNOWN')).toEqual([]);
        // kube-proxy's only assumption is an affinity entry; each of its answers is a whole distribution.
        for (const o of r.outcomes) for (const g of o.given) expect(g.code).toBe('affinity');
        for (const s of scenarioSums(r)) expect(s).toEqual({ num: 1n, den: 1n });
      },
    ),
    { numRuns: scaledRuns(300, 100) },
  );
});
