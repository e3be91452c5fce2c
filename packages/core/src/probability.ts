/**
 * kube-proxy's `computeProbability(k) = fmt.Sprintf("%0.10f", 1.0/float64(k))`. Go rounds the exact
 * binary value (ties to even); JS `toFixed` does not (k = 2048 gives ...813 instead of ...812), so the
 * decimal expansion is done exactly with BigInt.
 */
const cache: string[] = [];

function exactFixed10(x: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const exp = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (exp === 0) e = -1074;
  else {
    mantissa |= 1n << 52n;
    e = exp - 1075;
  }
  // x = mantissa * 2^e; scaled = x * 10^10 = num / den exactly.
  let num = mantissa * 10n ** 10n;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  let q = num / den;
  const r2 = (num % den) * 2n;
  if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  const digits = q.toString().padStart(11, '0');
  return `${digits.slice(0, -10)}.${digits.slice(-10)}`;
}

/** The `--probability` text for the i-th of n endpoints, where k = n - i remain. */
export function probability(k: number): string {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`probability: k must be a positive integer, got ${k}`);
  return (cache[k] ??= exactFixed10(1 / k));
}
