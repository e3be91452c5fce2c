/**
 * Exact probabilities. The kernel's `statistic --mode random` compares a 31-bit random number with
 * `lround(0x80000000 * p)` (libxt_statistic.c, xt_statistic.c), so every branch probability is
 * k / 2^31 exactly. Branch products are kept as reduced fractions of bigints, so outcome
 * probabilities sum to exactly 1 and the restore text (`0.3333333333`) and iptables-save's print of
 * the same rule (`0.33333333349`) give identical answers.
 */

export interface Probability {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

/** The exponent of the largest power of two dividing `n` (n > 0). */
function twos(n: bigint): bigint {
  return BigInt((n & -n).toString(2).length - 1);
}

function make(num: bigint, den: bigint): Probability {
  // Statistic probabilities are k / 2^31 and stay over powers of two through mul, add and
  // complement: reducing those by shifting keeps a 2048-rule ladder linear where Euclid's gcd on
  // its 60,000-bit products takes minutes. The reduced fraction is the same either way.
  if (num > 0n && den > 0n && (den & (den - 1n)) === 0n) {
    const shift = twos(num) < twos(den) ? twos(num) : twos(den);
    return { num: num >> shift, den: den >> shift };
  }
  const g = gcd(num, den);
  return g === 0n ? { num: 0n, den: 1n } : { num: num / g, den: den / g };
}

export const ONE: Probability = { num: 1n, den: 1n };
export const ZERO: Probability = { num: 0n, den: 1n };

export function mul(a: Probability, b: Probability): Probability {
  return make(a.num * b.num, a.den * b.den);
}

export function add(a: Probability, b: Probability): Probability {
  return make(a.num * b.den + b.num * a.den, a.den * b.den);
}

export function complement(p: Probability): Probability {
  return make(p.den - p.num, p.den);
}

export function isZero(p: Probability): boolean {
  return p.num === 0n;
}

export function toNumber(p: Probability): number {
  // Scale before dividing so huge denominators keep double precision.
  const shift = p.den > 1n << 60n ? BigInt(p.den.toString(2).length - 60) : 0n;
  return Number(p.num >> shift) / Number(p.den >> shift);
}

export function formatExact(p: Probability): string {
  return p.den === 1n ? String(p.num) : `${p.num}/${p.den}`;
}

/** `12.5%`, one decimal; values that are not exactly 0 or 1 never print as `0.0%` or `100.0%`. */
export function formatPercent(p: Probability): string {
  if (p.num === 0n) return '0%';
  if (p.num === p.den) return '100%';
  const pct = toNumber(p) * 100;
  const s = pct.toFixed(1);
  if (s === '0.0') return '<0.1%';
  if (s === '100.0') return '>99.9%';
  return `${s}%`;
}

/**
 * The probability the kernel uses for `--probability text`: lround(2^31 * p) / 2^31 (computed in
 * double precision, as iptables does). Null when the text is not a number in [0, 1].
 */
export function statisticProbability(text: string): Probability | null {
  if (!/^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text)) return null;
  const p = Number(text);
  if (!(p >= 0 && p <= 1)) return null;
  const k = Math.round(0x80000000 * p);
  return make(BigInt(k), 0x80000000n);
}
