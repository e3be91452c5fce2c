import fc from 'fast-check';
import { probability } from '../src/probability.js';

describe('probability (Go %0.10f of 1/k)', () => {
  test.each([
    [1, '1.0000000000'],
    [2, '0.5000000000'],
    [3, '0.3333333333'],
    [4, '0.2500000000'],
    [5, '0.2000000000'],
    [6, '0.1666666667'],
    [7, '0.1428571429'],
    [10, '0.1000000000'],
    [1000, '0.0010000000'],
    [2048, '0.0004882812'],
    [100000, '0.0000100000'],
    [100001, '0.0000099999'],
  ])('k=%i -> %s', (k, s) => expect(probability(k)).toBe(s));

  test('agrees with toFixed except on exact binary ties, where it rounds half to even', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (k) => {
        const ours = probability(k);
        const js = (1 / k).toFixed(10);
        if (ours !== js) {
          // The only legitimate difference: the double is exactly halfway, which needs k a power of two.
          expect(k & (k - 1)).toBe(0);
        }
      }),
    );
  });

  test('the rule sequence of n endpoints gives each exactly 1/n', () => {
    for (const n of [2, 3, 7, 10, 64]) {
      let remaining = 1;
      const shares: number[] = [];
      for (let i = 0; i < n - 1; i++) {
        const p = Number(probability(n - i));
        shares.push(remaining * p);
        remaining *= 1 - p;
      }
      shares.push(remaining);
      for (const s of shares) expect(s).toBeCloseTo(1 / n, 9);
    }
  });
});
