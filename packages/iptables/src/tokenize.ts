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

/** The words iptables-restore makes of one line (without its newline). */
export function tokenize(line: string): string[] {
  if (!line.includes('"')) return splitBare(line);
  const words: string[] = [];
  let word = '';
  let quoteOpen = false;
  let quoteStart = 0;
  let escaped = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoteOpen) {
      if (escaped) {
        escaped = false;
      } else if (c === '\\') {
        escaped = true;
        continue;
      } else if (c === '"') {
        quoteOpen = false;
        words.push(word);
        word = '';
        continue;
      }
    } else if (c === '"') {
      quoteOpen = true;
      quoteStart = i;
      continue;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (word.length > 0) words.push(word);
      word = '';
      continue;
    }
    word += c;
    if (word.length >= LIMIT) throw new TokenizeError('Parameter too long! (a word reaches 1024 bytes)', i + 1);
  }
  if (quoteOpen) throw new TokenizeError('unterminated quote', quoteStart + 1);
  if (word.length > 0) words.push(word);
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
