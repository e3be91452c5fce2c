import { TemplateRule } from '@svcrules/iptables';
import type { AppendCommand, TemplateWord } from '@svcrules/iptables';

/**
 * Rule equality for the chain diff, by words, without materialising a template rule's `args` (its
 * getter builds and keeps a word array: comparing 100k ladder rules that way would give each one).
 * Two rules of one template are compared by their values first: equal values give equal words.
 */

function sameWords(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const wordCount = (r: AppendCommand) => (r instanceof TemplateRule ? r.template.words.length : r.args.length);

/** Word `i` of a template rule, built on its own (no word array). */
function templateWord(r: TemplateRule, w: TemplateWord): string {
  if (typeof w === 'string') return w;
  if (typeof w === 'number') return r.value(w);
  let s = '';
  for (const part of w) s += typeof part === 'string' ? part : r.value(part);
  return s;
}

const wordAt = (r: AppendCommand, i: number) => (r instanceof TemplateRule ? templateWord(r, r.template.words[i]!) : r.args[i]!);

/** Whether `x` and `y` are the same rule: same chain, same words. */
export function sameRule(x: AppendCommand, y: AppendCommand): boolean {
  if (x === y) return true;
  if (x.chain !== y.chain) return false;
  const tx = x instanceof TemplateRule;
  const ty = y instanceof TemplateRule;
  if (!tx && !ty) return sameWords(x.args, y.args);
  // Same template and values: same words. Otherwise (an unused value, values joined into one word,
  // another template of the same words) the words decide, one at a time.
  if (tx && ty && x.template === y.template && x.v0 === y.v0 && x.v1 === y.v1 && x.v2 === y.v2 && x.v3 === y.v3) return true;
  const n = wordCount(x);
  if (n !== wordCount(y)) return false;
  for (let i = 0; i < n; i++) if (wordAt(x, i) !== wordAt(y, i)) return false;
  return true;
}

/** Whether two rule lists are the same rules in the same order. */
export function sameRules(a: readonly AppendCommand[], b: readonly AppendCommand[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!sameRule(a[i]!, b[i]!)) return false;
  return true;
}
