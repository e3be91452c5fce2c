/**
 * SHA-256 of a string's UTF-8 bytes (FIPS 180-4), returning only what chain names need: the first
 * 80 bits as 16 base32 (StdEncoding) characters. Written out in JS because the chain names of a
 * large cluster are ~10^5 hashes of ~40-byte strings, where `node:crypto`'s per-call cost (a Hash
 * object, a Buffer) is twice the hashing itself; this allocates nothing but the result. Checked
 * against node:crypto in packages/core/test/sha256.test.ts.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
  0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const W = new Int32Array(64);
let block = new Uint8Array(256);

const BASE32_CODES = Uint8Array.from('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', (ch) => ch.charCodeAt(0));

/** UTF-8 bytes of `s` into `block` from `n` (lone surrogates as U+FFFD, as Buffer does); returns the new length. */
function encode(s: string, start: number): number {
  if (block.length < start + s.length * 3 + 72) {
    const bigger = new Uint8Array(2 * (start + s.length * 3 + 72));
    bigger.set(block.subarray(0, start));
    block = bigger;
  }
  const b = block;
  let n = start;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      b[n++] = c;
      continue;
    }
    if (c < 0x800) {
      b[n++] = 0xc0 | (c >> 6);
      b[n++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        b[n++] = 0xf0 | (c >> 18);
        b[n++] = 0x80 | ((c >> 12) & 63);
        b[n++] = 0x80 | ((c >> 6) & 63);
        b[n++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd;
    }
    b[n++] = 0xe0 | (c >> 12);
    b[n++] = 0x80 | ((c >> 6) & 63);
    b[n++] = 0x80 | (c & 63);
  }
  return n;
}

/** The 16 base32 character codes of the last digest. */
const H = new Uint8Array(16);

/** Computes base32(sha256(utf8(a + b + c)))[0:16] into H. */
function digest(a: string, b2: string, c2: string): void {
  let n = encode(a, 0);
  if (b2 !== '') n = encode(b2, n);
  if (c2 !== '') n = encode(c2, n);
  const b = block;
  const total = ((n + 9 + 63) >> 6) << 6;
  b[n] = 0x80;
  b.fill(0, n + 1, total - 4);
  // The bit length in the last 8 bytes, big-endian (strings here are far below 2^29 bytes).
  const bits = n * 8;
  b[total - 4] = bits >>> 24;
  b[total - 3] = (bits >>> 16) & 255;
  b[total - 2] = (bits >>> 8) & 255;
  b[total - 1] = bits & 255;

  let h0 = 0x6a09e667 | 0;
  let h1 = 0xbb67ae85 | 0;
  let h2 = 0x3c6ef372 | 0;
  let h3 = 0xa54ff53a | 0;
  let h4 = 0x510e527f | 0;
  let h5 = 0x9b05688c | 0;
  let h6 = 0x1f83d9ab | 0;
  let h7 = 0x5be0cd19 | 0;
  for (let off = 0; off < total; off += 64) {
    for (let i = 0; i < 16; i++) {
      const j = off + i * 4;
      W[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]!;
      const w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    let a = h0;
    let bb = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let f = h5;
    let g = h6;
    let h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = bb;
      bb = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + bb) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  // 80 bits = h0 (32) + h1 (32) + the top 16 of h2, 5 bits per character.
  const C = BASE32_CODES;
  H[0] = C[(h0 >>> 27) & 31]!;
  H[1] = C[(h0 >>> 22) & 31]!;
  H[2] = C[(h0 >>> 17) & 31]!;
  H[3] = C[(h0 >>> 12) & 31]!;
  H[4] = C[(h0 >>> 7) & 31]!;
  H[5] = C[(h0 >>> 2) & 31]!;
  H[6] = C[((h0 & 3) << 3) | (h1 >>> 29)]!;
  H[7] = C[(h1 >>> 24) & 31]!;
  H[8] = C[(h1 >>> 19) & 31]!;
  H[9] = C[(h1 >>> 14) & 31]!;
  H[10] = C[(h1 >>> 9) & 31]!;
  H[11] = C[(h1 >>> 4) & 31]!;
  H[12] = C[((h1 & 15) << 1) | (h2 >>> 31)]!;
  H[13] = C[(h2 >>> 26) & 31]!;
  H[14] = C[(h2 >>> 21) & 31]!;
  H[15] = C[(h2 >>> 16) & 31]!;
}

/** Reused argument arrays for String.fromCharCode, by length (kept packed). */
const codeArrays = new Map<number, number[]>();

/** `prefix` + the last digest, built as one flat string (a concatenation would be a rope). */
function named(prefix: string): string {
  const n = prefix.length + 16;
  let codes = codeArrays.get(n);
  if (codes === undefined) codeArrays.set(n, (codes = new Array<number>(n).fill(0)));
  for (let i = 0; i < prefix.length; i++) codes[i] = prefix.charCodeAt(i);
  for (let i = 0; i < 16; i++) codes[prefix.length + i] = H[i]!;
  return String.fromCharCode.apply(null, codes);
}

/**
 * base32(sha256(utf8(a + b + c)))[0:16]. Taking the input in parts spares the caller a
 * concatenated (cons) string that would be flattened here.
 */
export function sha256Base32Prefix16(a: string, b = '', c = ''): string {
  digest(a, b, c);
  return named('');
}

/** `prefix` + sha256Base32Prefix16(a, b, c), as one flat string. */
export function prefixedHash16(prefix: string, a: string, b = '', c = ''): string {
  digest(a, b, c);
  return named(prefix);
}

/** The same hash behind each of `prefixes` (one digest). */
export function prefixedHashes16(prefixes: readonly string[], a: string, b = ''): string[] {
  digest(a, b, '');
  return prefixes.map(named);
}
