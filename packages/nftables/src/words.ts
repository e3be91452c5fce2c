/**
 * What may become part of an `nft -f` line, and how it is written. This is the injection boundary:
 * `nft -f` reads `;` and a newline as the end of a command, `#` as the start of a comment, `$` as a
 * variable and `"` as a string delimiter (with no escape it accepts: `"a\"b"` is a syntax error), so
 * none of these can reach a bare word, and comments can hold neither `"` nor `\`. The renderer and
 * the parser both check every piece with these functions, so whatever renders parses back the same.
 */

/** nft refuses a table/chain/set/map name of 256 bytes or more ("Numerical result out of range"). */
export const MAX_NAME_LENGTH = 255;
/** knftables' CommentLengthMax; nft itself: "comment too long, 128 characters maximum allowed". */
export const MAX_COMMENT_LENGTH = 128;

// nft's scanner reads a bare name as a string when it starts with a letter or `_` and goes on with
// letters, digits and `/ . _ -` (kube-proxy's chain names: `endpoint-…-ns/svc/tcp/p80__fd00..1/80`).
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_/.-]*$/;
// A bare word of a rule: printable ASCII without space, quotes, backslash, `;`, `#` and `$`.
const RULE_WORD_CHARS = '[\\x21\\x25-\\x26\\x28-\\x3a\\x3c-\\x5b\\x5d-\\x7e]';
const RULE_WORD = new RegExp(`^${RULE_WORD_CHARS}+$`);
/** Rule words joined by single spaces, each one a rule word (one test instead of one a word). */
export const RULE_WORDS_TEXT = new RegExp(`^${RULE_WORD_CHARS}+(?: ${RULE_WORD_CHARS}+)*$`);
// A word of an element key or value: a rule word without the set/map punctuation `{ } ,`.
const ELEMENT_WORD = /^[\x21\x25-\x26\x28-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7a\x7c\x7e]+$/;
// Printable ASCII without `"` and `\`: written inside double quotes with no escape needed.
const COMMENT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Why `name` cannot be a table, chain, set or map name, or undefined when it can. */
export function identifierProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'empty name';
  if (name.length > MAX_NAME_LENGTH) return `name longer than ${MAX_NAME_LENGTH} characters`;
  if (!IDENTIFIER.test(name)) return 'name must start with a letter or _ and hold only letters, digits and / . _ -';
  return undefined;
}

/** Why `comment` cannot be written as `comment "…"`, or undefined when it can. */
export function commentProblem(comment: string): string | undefined {
  if (typeof comment !== 'string') return 'not a string';
  if (comment.length > MAX_COMMENT_LENGTH) return `comment longer than ${MAX_COMMENT_LENGTH} characters`;
  if (!COMMENT.test(comment)) return 'comment holds a quote, backslash, control or non-ASCII character';
  return undefined;
}

/** Why `word` cannot be one word of a rule, or undefined when it can. */
export function ruleWordProblem(word: string): string | undefined {
  if (typeof word !== 'string' || word.length === 0) return 'empty word';
  if (!RULE_WORD.test(word)) return 'word holds a space, quote, backslash, ; # $, control or non-ASCII character';
  return undefined;
}

/**
 * Why `part` cannot be one part of an element key or value (`172.30.0.41`, `tcp`, `goto service-…`),
 * or undefined when it can. A part is words joined by single spaces; `.` and `:` alone are refused
 * because knftables splits keys and values on ` . ` and the value off at ` : `.
 */
export function elementPartProblem(part: string): string | undefined {
  if (typeof part !== 'string' || part.length === 0) return 'empty element part';
  // One word (an address, a protocol, a port) is the common case: no split.
  if (!part.includes(' ')) return part === '.' || part === ':' ? `element part holds the separator ${JSON.stringify(part)}` : ELEMENT_WORD.test(part) ? undefined : ELEMENT_WORD_PROBLEM;
  for (const w of part.split(' ')) {
    if (w === '') return 'element part with a leading, trailing or double space';
    if (w === '.' || w === ':') return `element part holds the separator ${JSON.stringify(w)}`;
    if (!ELEMENT_WORD.test(w)) return ELEMENT_WORD_PROBLEM;
  }
  return undefined;
}

const ELEMENT_WORD_PROBLEM = 'element part holds a quote, backslash, { } , ; # $, control or non-ASCII character';

/** Go's `%q` for the comments `commentProblem` accepts (they need no escape). */
export function quoteComment(comment: string): string {
  return `"${comment}"`;
}

/** Throws an internal error naming what is unsafe (callers validate user input long before). */
export function assertNft(problem: string | undefined, what: string, value: unknown): void {
  if (problem !== undefined) throw new Error(`unsafe nft ${what} ${JSON.stringify(value)}: ${problem}`);
}
