/**
 * What may become an iptables-restore word, and how it is written. This is the injection boundary:
 * a word that passes `isSafeWord` is read back by iptables-restore as exactly one argument, whatever
 * it contains, because it can hold no quote, backslash, tab, newline or other control character.
 */
import { BUILTIN_TARGETS } from './targets.js';

/** iptables-restore's parameter buffer is 1024 bytes with its NUL: "Parameter too long!" from 1024 on. */
export const MAX_WORD_LENGTH = 1023;
/** XT_MAX_COMMENT_LEN is 256 with the NUL; iptables 1.8.9 silently truncates longer comments (both backends). */
export const MAX_COMMENT_LENGTH = 255;
/** XT_EXTENSION_MAXNAMELEN is 29 with the NUL. */
export const MAX_CHAIN_NAME_LENGTH = 28;
/**
 * iptables-restore's argv holds 254 entries: the program name, `-t`, the table, and (with
 * `--counters` and a `[p:b]` prefix) three more, so 248 words per line including `-A CHAIN`.
 */
export const MAX_LINE_WORDS = 248;

// Printable ASCII and space, without `"` (0x22), `'` (0x27) and `\` (0x5c).
const SAFE_WORD = /^[\x20\x21\x23-\x26\x28-\x5b\x5d-\x7e]+$/;
// The same without space.
const SAFE_NAME = /^[\x21\x23-\x26\x28-\x5b\x5d-\x7e]+$/;

/** Why `word` cannot be written, or undefined when it can. */
export function wordProblem(word: string, isComment = false): string | undefined {
  if (typeof word !== 'string') return 'not a string';
  if (word.length === 0) return 'empty word';
  if (word.length > MAX_WORD_LENGTH) return `longer than ${MAX_WORD_LENGTH} bytes`;
  if (isComment && word.length > MAX_COMMENT_LENGTH) return `comment longer than ${MAX_COMMENT_LENGTH} bytes`;
  if (!SAFE_WORD.test(word)) return 'contains a quote, backslash, control or non-ASCII character';
  return undefined;
}

export function isSafeWord(word: string, isComment = false): boolean {
  return wordProblem(word, isComment) === undefined;
}

/** Throws (an internal error: callers validate user input long before) when `word` is unsafe. */
export function assertSafeWord(word: string, isComment = false): void {
  const problem = wordProblem(word, isComment);
  if (problem !== undefined) throw new Error(`unsafe iptables word ${JSON.stringify(word)}: ${problem}`);
}

/**
 * A word as rule text, readable back by iptables-restore's tokenizer: bare, or in double quotes when
 * it is empty or holds white space, a quote or a backslash, with `"` and `\` escaped. A safe word
 * (which holds no quote or backslash) is thus quoted exactly when it holds a space, as kube-proxy
 * writes its comments.
 */
export function quoteWord(word: string): string {
  // kube-proxy's comments (what render quotes) first, then a scan.
  if (word.includes(' ') && !word.includes('"') && !word.includes('\\')) return `"${word}"`;
  let quote = word === '';
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) return `"${word.replace(/["\\]/g, '\\$&')}"`;
    if (c === 0x20 || c === 0x27) quote = true;
    else if (c < 0x20 || c >= 0x7f) quote ||= /\s/.test(word);
  }
  return quote ? `"${word}"` : word;
}

/** `-A CHAIN args` with each word quoted by quoteWord: a rule as people read it and iptables-restore reads it back. */
export function ruleText(chain: string, args: readonly string[]): string {
  return ['-A', chain, ...args].map(quoteWord).join(' ');
}

/** Why `name` cannot be a chain name, or undefined when it can. */
export function chainNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'empty chain name';
  if (name.length > MAX_CHAIN_NAME_LENGTH) return `chain name longer than ${MAX_CHAIN_NAME_LENGTH} characters`;
  if (!SAFE_NAME.test(name)) return 'chain name contains a space, quote, backslash, control or non-ASCII character';
  if (name[0] === '-' || name[0] === '!') return 'chain name starts with - or !';
  if (BUILTIN_TARGETS.has(name)) return 'chain name is a target name';
  return undefined;
}

/** ≤ 28 characters, printable without quotes or backslash, no leading `-`/`!`, not a target name. */
export function isValidChainName(name: string): boolean {
  return chainNameProblem(name) === undefined;
}
