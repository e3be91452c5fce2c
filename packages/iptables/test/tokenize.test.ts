import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import { TokenizeError, tokenize } from '../src/tokenize.js';

describe('tokenize (iptables-restore add_param_to_argv)', () => {
  it('splits on spaces, tabs and newlines, collapsing runs', () => {
    expect(tokenize('-A  X\t-j ACCEPT')).toEqual(['-A', 'X', '-j', 'ACCEPT']);
    expect(tokenize('  -A X  ')).toEqual(['-A', 'X']);
    expect(tokenize('a\nb')).toEqual(['a', 'b']);
    expect(tokenize('')).toEqual([]);
  });

  it('keeps a quoted word whole, spaces included', () => {
    expect(tokenize('--comment "ns1/svc1:p80 cluster IP" -j X')).toEqual(['--comment', 'ns1/svc1:p80 cluster IP', '-j', 'X']);
    expect(tokenize('"  two  spaces  "')).toEqual(['  two  spaces  ']);
  });

  it('reads backslash escapes only inside quotes', () => {
    expect(tokenize('"a\\"b" "c\\\\d" "e\\\'f"')).toEqual(['a"b', 'c\\d', "e'f"]);
    expect(tokenize('a\\b c')).toEqual(['a\\b', 'c']);
  });

  it('ends the word at the closing quote, and joins a bare prefix to a quoted part', () => {
    expect(tokenize('"a"b')).toEqual(['a', 'b']);
    expect(tokenize('x"y z"')).toEqual(['xy z']);
    expect(tokenize('""')).toEqual(['']);
    expect(tokenize('a "" b')).toEqual(['a', '', 'b']);
  });

  it('refuses an unterminated quote, with its column', () => {
    expect(() => tokenize('-m comment --comment "abc')).toThrow(TokenizeError);
    try {
      tokenize('-j "x');
    } catch (e) {
      expect((e as TokenizeError).column).toBe(4);
    }
  });

  it('refuses a word of 1024 bytes (Parameter too long!) but takes 1023', () => {
    expect(tokenize(`a ${'b'.repeat(1023)}`)).toHaveLength(2);
    expect(() => tokenize(`a ${'b'.repeat(1024)}`)).toThrow(/Parameter too long/);
    expect(() => tokenize(`a "${'b'.repeat(1024)}"`)).toThrow(/Parameter too long/);
  });
});

/** add_param_to_argv transcribed character by character (plus our refusal of an open quote at the end). */
function reference(line: string): string[] | 'error' {
  const out: string[] = [];
  let param = '';
  let quoteOpen = false;
  let escaped = false;
  for (const c of line + '\n') {
    if (quoteOpen) {
      if (escaped) {
        param += c;
        escaped = false;
        continue;
      } else if (c === '\\') {
        escaped = true;
        continue;
      } else if (c === '"') {
        quoteOpen = false;
      } else {
        param += c;
        continue;
      }
    } else if (c === '"') {
      quoteOpen = true;
      continue;
    }
    if (c === '"') {
      // closing quote: fall through to "add the parameter"
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (param.length === 0) continue;
    } else {
      param += c;
      if (param.length >= 1024) return 'error';
      continue;
    }
    if (param.length >= 1024) return 'error';
    out.push(param);
    param = '';
  }
  return quoteOpen ? 'error' : out;
}

describe('tokenize equals a character-by-character transcription of add_param_to_argv', () => {
  it('on lines made of quotes, backslashes, separators and letters', () => {
    const unit = fc.constantFrom('"', '\\', ' ', '\t', 'a', 'b', '-', "'");
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (line) => {
        let ours: string[] | 'error';
        try {
          ours = tokenize(line);
        } catch {
          ours = 'error';
        }
        expect(ours).toEqual(reference(line));
      }),
      { numRuns: scaledRuns(2000, 200) },
    );
  });
});
