/**
 * Exact probabilities: the shortcut for power-of-two denominators (every statistic ladder's) gives
 * the same reduced fraction as Euclid's gcd, so traces are unchanged by it.
 */
import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import { add, complement, mul, statisticProbability, type Probability } from '../src/trace/probability.js';

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** The reference: reduce by the gcd. */
function reduced(p: Probability): Probability {
  const g = gcd(p.num, p.den);
  return g === 0n ? { num: 0n, den: 1n } : { num: p.num / g, den: p.den / g };
}

const statistic = fc.integer({ min: 0, max: 0x80000000 }).map((k) => statisticProbability(String(k / 0x80000000))!);

test('a ladder of statistic rules: every branch is the gcd-reduced fraction, and they sum to 1', () => {
  fc.assert(
    fc.property(fc.array(statistic, { minLength: 1, maxLength: 40 }), (ps) => {
      let rest: Probability = { num: 1n, den: 1n };
      let sum: Probability = { num: 0n, den: 1n };
      for (const p of ps) {
        const taken = mul(rest, p);
        expect(taken).toEqual(reduced({ num: rest.num * p.num, den: rest.den * p.den }));
        const next = complement(p);
        expect(next).toEqual(reduced({ num: p.den - p.num, den: p.den }));
        rest = mul(rest, next);
        sum = add(sum, taken);
      }
      expect(add(sum, rest)).toEqual({ num: 1n, den: 1n });
    }),
    { numRuns: scaledRuns(100, 20) },
  );
});

test('fractions over other denominators still reduce by the gcd', () => {
  expect(add({ num: 1n, den: 3n }, { num: 1n, den: 6n })).toEqual({ num: 1n, den: 2n });
  expect(mul({ num: 2n, den: 3n }, { num: 3n, den: 4n })).toEqual({ num: 1n, den: 2n });
});
