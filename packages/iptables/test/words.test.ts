import fc from 'fast-check';
import { tokenize } from '../src/tokenize.js';
import { scaledRuns } from '@svcrules/testkit';
import { MAX_COMMENT_LENGTH, MAX_WORD_LENGTH, assertSafeWord, isSafeWord, isValidChainName, quoteWord, wordProblem } from '../src/words.js';
import { HOSTILE_WORDS, TRICKY_SAFE_WORDS, hostileWord } from './arb.js';

describe('quoteWord', () => {
  it('quotes exactly the words holding a space, as kube-proxy writes comments', () => {
    expect(quoteWord('ns1/svc1:p80')).toBe('ns1/svc1:p80');
    expect(quoteWord('ns1/svc1:p80 cluster IP')).toBe('"ns1/svc1:p80 cluster IP"');
    expect(quoteWord('kubernetes service nodeports; NOTE: this must be the last rule in this chain')).toBe(
      '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"',
    );
    expect(quoteWord(' ')).toBe('" "');
  });

  it('escapes what iptables-restore would read otherwise (rule text shown to people, or iptables-save-like lines)', () => {
    expect(quoteWord('a "b" c')).toBe('"a \\"b\\" c"');
    expect(quoteWord('back\\slash')).toBe('"back\\\\slash"');
    expect(quoteWord("it's")).toBe('"it\'s"');
    expect(quoteWord('')).toBe('""');
  });

  it('any word without a newline reads back as itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }).filter((w) => !w.includes('\n')), (w) => {
        expect(tokenize(quoteWord(w))).toEqual([w]);
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });
});

describe('safe words', () => {
  it.each(TRICKY_SAFE_WORDS)('accepts restore-looking but harmless %j', (w) => {
    expect(isSafeWord(w)).toBe(true);
    expect(() => assertSafeWord(w)).not.toThrow();
  });

  it.each(HOSTILE_WORDS.map((w) => [w]))('rejects %j', (w) => {
    expect(isSafeWord(w)).toBe(false);
    expect(() => assertSafeWord(w)).toThrow(/unsafe iptables word/);
  });

  it('limits a word to 1023 bytes (iptables-restore: Parameter too long! at 1024)', () => {
    expect(isSafeWord('a'.repeat(MAX_WORD_LENGTH))).toBe(true);
    expect(wordProblem('a'.repeat(MAX_WORD_LENGTH + 1))).toMatch(/longer than 1023/);
  });

  it('limits a comment to 255 bytes (XT_MAX_COMMENT_LEN 256)', () => {
    expect(isSafeWord('c'.repeat(MAX_COMMENT_LENGTH), true)).toBe(true);
    expect(wordProblem('c'.repeat(MAX_COMMENT_LENGTH + 1), true)).toMatch(/comment longer than 255/);
    expect(isSafeWord('c'.repeat(MAX_COMMENT_LENGTH + 1))).toBe(true);
  });

  it('accepts exactly printable ASCII without quotes and backslash, for every UTF-16 code unit', () => {
    // The rule stated here, independently of the validator: 0x20..0x7e except " ' and \\.
    const wrong: string[] = [];
    for (let c = 0; c <= 0xffff; c++) {
      const expected = c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x27 && c !== 0x5c;
      if (isSafeWord(`a${String.fromCharCode(c)}b`) !== expected) wrong.push(`U+${c.toString(16).padStart(4, '0')}`);
    }
    expect(wrong).toEqual([]);
  });

  it('rejects every generated hostile word (unsafe by construction)', () => {
    fc.assert(fc.property(hostileWord, (w) => expect(isSafeWord(w)).toBe(false)));
  });

  it('rejects every control character and every non-ASCII code unit', () => {
    for (let c = 0; c < 0x20; c++) expect(isSafeWord(`a${String.fromCharCode(c)}b`)).toBe(false);
    expect(isSafeWord('a\x7fb')).toBe(false);
    for (const c of [0x80, 0xa0, 0xff, 0x100, 0x2028, 0xfeff]) expect(isSafeWord(`a${String.fromCharCode(c)}b`)).toBe(false);
  });
});

describe('chain names', () => {
  it.each(['KUBE-SVC-XPGD46QRK7WJZT7O', 'KUBE-MARK-MASQ', 'INPUT', 'a', 'x.y:z+1', 'A'.repeat(28)])('accepts %s', (n) => {
    expect(isValidChainName(n)).toBe(true);
  });
  it.each(['', 'A'.repeat(29), '-X', '!x', 'a b', 'a"b', "a'b", 'a\\b', 'a\nb', 'ACCEPT', 'DROP', 'RETURN', 'DNAT', 'MARK', 'caf\u00e9'])(
    'rejects %j',
    (n) => {
      expect(isValidChainName(n)).toBe(false);
    },
  );
});
