/**
 * iptables-restore's word splitting (`add_param_to_argv` in iptables 1.8 xshared.c): words split on
 * space, tab and newline; `"` opens a quoted word and the next `"` ends it (and the word: `"a"b` is
 * two words); inside quotes `\` takes the next character literally; outside quotes nothing escapes.
 * A word reaching 1024 bytes is "Parameter too long!". One deliberate difference: iptables-restore
 * silently keeps a word whose quote never closes; we refuse it.
 */

export class TokenizeError extends Error {
  /** 1-based column in the tokenized text. */
  readonly column: number;
  readonly reason: string;
  constructor(reason: string, column: number) {
    super(`column ${column}: ${reason}`);
    this.name = 'TokenizeError';
    this.reason = reason;
    this.column = column;
  }
}

const LIMIT = 1024;
const SEPARATORS = /[ \t\n]+/;

const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function tooLong(column: number): TokenizeError {
  return new TokenizeError('Parameter too long! (a word reaches 1024 bytes)', column);
}

/** The words iptables-restore makes of one line (without its newline). */
export function tokenize(line: string): string[] {
  if (!line.includes('"')) return splitBare(line);
  // Words are assembled from slices, never character by character.
  const words: string[] = [];
  const n = line.length;
  let i = 0;
  while (i < n) {
    let c = line.charCodeAt(i);
    if (c === SPACE || c === TAB || c === NEWLINE) {
      i++;
      continue;
    }
    let word = '';
    for (;;) {
      if (c === QUOTE) {
        const open = i;
        let seg = ++i;
        for (;;) {
          if (i >= n) throw new TokenizeError('unterminated quote', open + 1);
          c = line.charCodeAt(i);
          if (c === BACKSLASH) {
            if (i + 1 >= n) throw new TokenizeError('unterminated quote', open + 1);
            word += line.slice(seg, i) + line[i + 1];
            i += 2;
            seg = i;
          } else if (c === QUOTE) {
            word += line.slice(seg, i);
            i++;
            break;
          } else i++;
          if (word.length + (i - seg) >= LIMIT) throw tooLong(i);
        }
        break; // the closing quote ends the word
      }
      const seg = i;
      while (i < n) {
        c = line.charCodeAt(i);
        if (c === SPACE || c === TAB || c === NEWLINE || c === QUOTE) break;
        i++;
      }
      word += line.slice(seg, i);
      if (word.length >= LIMIT) throw tooLong(seg + (LIMIT - (word.length - (i - seg))));
      if (i < n && c === QUOTE) continue; // a quote inside a bare word opens a quoted part of it
      break;
    }
    if (word.length > 0 || line.charCodeAt(i - 1) === QUOTE) words.push(word);
  }
  return words;
}

function splitBare(line: string): string[] {
  const words = line.split(SEPARATORS);
  if (words[0] === '') words.shift();
  if (words.length > 0 && words[words.length - 1] === '') words.pop();
  for (const w of words) {
    if (w.length >= LIMIT) throw new TokenizeError('Parameter too long! (a word reaches 1024 bytes)', line.indexOf(w) + LIMIT);
  }
  return words;
}
