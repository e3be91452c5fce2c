import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { prefixedHash16, prefixedHashes16, sha256Base32Prefix16 } from '../src/sha256.js';

/** The reference: node:crypto's sha256 of the UTF-8 bytes, first 10 bytes in base32. */
function reference(s: string): string {
  const bytes = createHash('sha256').update(s).digest();
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (let i = 0; i < 10; i++) bits += bytes[i]!.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < 80; i += 5) out += A[parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

describe('sha256Base32Prefix16', () => {
  it('equals node:crypto at every length across the padding and block boundaries', () => {
    for (let n = 0; n <= 300; n++) {
      const s = Array.from({ length: n }, (_, i) => String.fromCharCode(33 + ((i * 7 + n) % 90))).join('');
      expect(sha256Base32Prefix16(s)).toBe(reference(s));
    }
  });

  it('encodes UTF-8 as Buffer does: 2-, 3- and 4-byte characters, lone surrogates as U+FFFD', () => {
    for (const s of ['ü', 'ns/ü:€', '😀', 'a\ud800b', '\udc00', 'x'.repeat(54) + 'ü', 'x'.repeat(60) + '😀', '\ud83d']) {
      expect(sha256Base32Prefix16(s)).toBe(reference(s));
    }
  });

  it('equals node:crypto on random strings', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 80 })), (s) => sha256Base32Prefix16(s) === reference(s)));
  });
});

describe('sha256Base32Prefix16 in parts', () => {
  it('hashes the concatenation of its parts', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 90 }), fc.string({ maxLength: 90 }), fc.string({ unit: 'binary', maxLength: 90 }), (a, b, c) => {
        const whole = reference(a + b + c);
        return sha256Base32Prefix16(a, b, c) === whole && sha256Base32Prefix16(a + b, c) === whole;
      }),
    );
  });
});

describe('prefixed hashes', () => {
  it('are the prefix followed by the hash, as flat strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), fc.string({ maxLength: 60 }), fc.constantFrom('', 'KUBE-SEP-', 'KUBE-FW-', 'x'), (a, b, prefix) => {
        const h = reference(a + b);
        return prefixedHash16(prefix, a, b) === prefix + h && prefixedHashes16([prefix, 'P-', ''], a, b).join('|') === `${prefix}${h}|P-${h}|${h}`;
      }),
    );
  });
});
