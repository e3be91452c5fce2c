/**
 * Whole-object checks over words.ts: what the renderer refuses and the parser rejects, so that a
 * rendered object always parses back to itself.
 */
import { BASE_CHAIN_HOOKS, BASE_CHAIN_TYPES, FAMILIES } from './ir.js';
import type { Chain, Element, NftMap, NftSet, Rule, Table, TableRef } from './ir.js';
import type { Text } from './text.js';
import { RULE_WORDS_TEXT, assertNft, commentProblem, elementPartProblem, identifierProblem, quoteComment, ruleWordProblem } from './words.js';

const DATA_TYPE = /^[a-z][a-z0-9_]*$/;
const FLAG = /^[a-z][a-z-]*$/;
/** First rule words nft reads as a placement, not as the rule (`add rule t c index 3 …`). */
const PLACEMENT_WORDS = new Set(['index', 'handle', 'position']);
/** nft priorities are 32-bit signed. */
const PRIORITY_LIMIT = 2 ** 31;

const field = (name: string, problem: string | undefined): string | undefined => (problem === undefined ? undefined : `${name}: ${problem}`);

function firstProblem(...problems: (string | undefined)[]): string | undefined {
  return problems.find((p) => p !== undefined);
}

function optionalComment(comment: string | undefined): string | undefined {
  return comment === undefined ? undefined : field('comment', commentProblem(comment));
}

export function tableRefProblem(t: TableRef): string | undefined {
  if (!FAMILIES.includes(t.family)) return `family: expected one of ${FAMILIES.join(', ')}, got ${JSON.stringify(t.family)}`;
  return field('table name', identifierProblem(t.name));
}

export function tableProblem(t: Table): string | undefined {
  return firstProblem(tableRefProblem(t), optionalComment(t.comment));
}

export function chainProblem(c: Chain): string | undefined {
  const base = c.base;
  let baseProblem: string | undefined;
  if (base !== undefined) {
    if (!BASE_CHAIN_TYPES.includes(base.type)) baseProblem = `type: expected one of ${BASE_CHAIN_TYPES.join(', ')}`;
    else if (!BASE_CHAIN_HOOKS.includes(base.hook)) baseProblem = `hook: expected one of ${BASE_CHAIN_HOOKS.join(', ')}`;
    else if (!Number.isInteger(base.priority) || Math.abs(base.priority) >= PRIORITY_LIMIT) baseProblem = 'priority: expected a 32-bit integer';
  }
  return firstProblem(field('chain name', identifierProblem(c.name)), baseProblem, optionalComment(c.comment));
}

function typeProblem(what: string, types: readonly string[]): string | undefined {
  if (types.length === 0) return `${what}: no data type`;
  const bad = types.find((t) => typeof t !== 'string' || !DATA_TYPE.test(t));
  return bad === undefined ? undefined : `${what}: bad data type ${JSON.stringify(bad)}`;
}

function setPropsProblem(s: NftSet | NftMap): string | undefined {
  const badFlag = s.flags?.find((f) => typeof f !== 'string' || !FLAG.test(f));
  return firstProblem(
    field('name', identifierProblem(s.name)),
    typeProblem('type', s.type),
    s.flags !== undefined && s.flags.length === 0 ? 'flags: empty list (omit it)' : undefined,
    badFlag === undefined ? undefined : `flags: bad flag ${JSON.stringify(badFlag)}`,
    s.timeout === undefined || (Number.isSafeInteger(s.timeout) && s.timeout >= 0) ? undefined : 'timeout: expected whole seconds',
    optionalComment(s.comment),
  );
}

export function setProblem(s: NftSet): string | undefined {
  return setPropsProblem(s);
}

export function mapProblem(m: NftMap): string | undefined {
  return firstProblem(setPropsProblem(m), typeProblem('value type', m.valueType));
}

/** The first problem `check` finds in `xs` (a loop: this runs for every rule and element of a large table). */
function firstOf(xs: readonly string[], check: (x: string) => string | undefined): string | undefined {
  for (const x of xs) {
    const p = check(x);
    if (p !== undefined) return p;
  }
  return undefined;
}

export function ruleProblem(r: Rule): string | undefined {
  // A copy of a TemplateRule (`{ ...r }`) has none of its words: nothing to write.
  if (!Array.isArray(r.words) || r.words.length === 0) return 'rule: no words';
  if (PLACEMENT_WORDS.has(r.words[0]!)) return `rule: cannot start with ${JSON.stringify(r.words[0])}`;
  const bad = firstOf(r.words, ruleWordProblem);
  return firstProblem(field('chain', identifierProblem(r.chain)), field('rule', bad), optionalComment(r.comment));
}

/**
 * A rule's words joined by spaces, checked as `ruleProblem` checks them except for the chain name:
 * the renderers check each chain once where it is declared, and write only rules of declared chains.
 * Joining first lets one regex test every word (a large table has a million rules). Throws like assertNft.
 */
export function declaredRuleText(r: Rule): string {
  if (!Array.isArray(r.words)) assertNft(ruleProblem(r), 'rule', r);
  const text = r.words.join(' ');
  if (joinedWordsOk(r.words, r.comment, text)) return text;
  assertNft(ruleProblem(r) ?? 'rule: its words are not single rule words', 'rule', r);
  return text;
}

/** Whether `text`, the rule's words joined by spaces, is safe to write (one regex for all words). */
function joinedWordsOk(words: readonly string[], comment: string | undefined, text: string): boolean {
  // The regex proves the text is rule words between single spaces; as many spaces as joins proves
  // no word held a space of its own.
  let spaces = 0;
  for (let i = text.indexOf(' '); i >= 0; i = text.indexOf(' ', i + 1)) spaces++;
  return spaces === words.length - 1 && RULE_WORDS_TEXT.test(text) && !PLACEMENT_WORDS.has(words[0]!) && (comment === undefined || commentProblem(comment) === undefined);
}

/**
 * A rule whose words and comment were checked when it was made (`checkedRule`), with its words
 * joined. The text sits in a private field, so only this module can make one: a copy (`{ ...r }`)
 * or a rule built elsewhere is a plain object, and the renderers check it in full.
 */
/** Words that begin a chain property, not a rule, inside `chain NAME { … }` (nft's chain_block). */
const CHAIN_PROPERTY_WORDS = new Set(['type', 'hook', 'priority', 'policy', 'comment', 'flags', 'devices', 'device']);

/** Why `r` cannot be a line of a chain block (beyond `ruleProblem`), or undefined when it can. */
export function nativeRuleProblem(r: Rule): string | undefined {
  if (CHAIN_PROPERTY_WORDS.has(r.words[0]!)) return `rule: cannot start with ${JSON.stringify(r.words[0])} inside a chain block`;
  let depth = 0;
  for (const w of r.words) {
    // Most words hold no brace: one scan each.
    if (!w.includes('{') && !w.includes('}')) continue;
    for (let i = 0; i < w.length; i++) {
      const c = w.charCodeAt(i);
      if (c === 0x7b) depth++;
      else if (c === 0x7d && --depth < 0) return 'rule: a } closes more than the rule opened';
    }
  }
  return depth === 0 ? undefined : 'rule: a { is not closed';
}

class CheckedRule implements Rule {
  declare readonly comment?: string;
  readonly #text: string;
  /** Whether `nativeRuleProblem` finds nothing: the rule can be a line of a chain block. */
  readonly #native: boolean;
  constructor(
    readonly chain: string,
    readonly words: readonly string[],
    comment: string | undefined,
    text: string,
    native: boolean,
  ) {
    if (comment !== undefined) this.comment = comment;
    this.#text = text;
    this.#native = native;
  }
  static textOf(r: Rule): string | undefined {
    return #text in r ? (r as CheckedRule).#text : undefined;
  }
  static nativeOf(r: Rule): boolean {
    return #native in r && (r as CheckedRule).#native;
  }
}

/**
 * The rule `chain words… [comment]` with its words and comment checked once, here, as
 * `declaredRuleText` checks them (the chain name is checked where the chain is declared), or the
 * problem. The renderers write a checked rule's words without checking them again.
 */
export function checkedRule(chain: string, words: readonly string[], comment?: string): Rule | string {
  const plain = (): Rule => (comment === undefined ? { chain, words } : { chain, words, comment });
  const text = words.join(' ');
  if (!joinedWordsOk(words, comment, text)) return ruleProblem(plain()) ?? 'rule: its words are not single rule words';
  // Without a brace in its words, only the first word can make it a chain property.
  const native = !text.includes('{') && !text.includes('}') ? !CHAIN_PROPERTY_WORDS.has(words[0]!) : nativeRuleProblem(plain()) === undefined;
  return new CheckedRule(chain, words, comment, text, native);
}

/** A value filling a hole of a RuleTemplate: one rule word without `{` or `}`, so it cannot unbalance a block. */
const HOLE_WORD = /^[\x21\x25-\x26\x28-\x3a\x3c-\x5b\x5d-\x7a\x7c\x7e]+$/;

/**
 * How a renderer writes a rule's words: `lead` before them (` ` after the chain name in a Dump
 * line, two tabs in a chain block), then the words, then the comment, then `\n`.
 */
export type RuleForm = 0 | 1;
export const DUMP_FORM: RuleForm = 0;
export const NATIVE_FORM: RuleForm = 1;
const FORM_LEAD = [' ', '\t\t'];

/**
 * A rule shape whose fixed words (and comment) were checked once: `null` words are holes for the
 * values that vary from rule to rule (addresses, ports, chain and set names). `fill` checks only
 * the values, one short regex each, instead of the whole text of every rule: a table of 10^5
 * endpoints makes two rules each from the same two shapes. A filled rule (TemplateRule) holds only
 * its chain, template and values: no word array (made when asked for) and no text (the renderers
 * write the template's prepared pieces and the values). A filled rule is native-safe exactly
 * when the template is, since a value it accepts holds no brace. What the fast path does not
 * take (a brace in a value, a hole first, more than two holes, a template `checkedRule` refuses)
 * goes to `checkedRule` whole, so `fill` returns what `checkedRule` returns for the filled words.
 */
export class RuleTemplate {
  readonly #words: readonly (string | null)[];
  readonly #comment: string | undefined;
  readonly #holes: number = 0;
  /** Whether the fixed words passed `checkedRule` (with a safe word in each hole), the first word is fixed and there are at most two holes. */
  readonly #checked: boolean;
  readonly #native: boolean = false;
  /** Per RuleForm, the text around the holes: lead and words up to the first hole, …, words after the last hole, comment and `\n`. */
  readonly #pieces: readonly (readonly string[])[] = [];

  constructor(words: readonly (string | null)[], comment?: string) {
    this.#words = [...words];
    this.#comment = comment;
    const sample = words.length > 0 && words[0] !== null ? checkedRule('c', words.map((w) => w ?? 'x'), comment) : 'hole first';
    const holes = words.filter((w) => w === null).length;
    this.#checked = typeof sample !== 'string' && holes <= 2;
    if (!this.#checked) return;
    this.#native = CheckedRule.nativeOf(sample as Rule);
    this.#holes = holes;
    // Checked words hold no NUL, so it can stand for the holes while the text is cut around them.
    const between = words.map((w) => w ?? '\0').join(' ').split('\0');
    const tail = comment === undefined ? '\n' : ` comment ${quoteComment(comment)}\n`;
    this.#pieces = FORM_LEAD.map((lead) => between.map((p, i) => (i === 0 ? lead : '') + p + (i === between.length - 1 ? tail : '')));
  }

  /** `checkedRule(chain, words with values in the holes, comment)`. */
  fill(chain: string, values: readonly string[]): Rule | string {
    if (!this.#checked || values.length !== this.#holes) return this.#slow(chain, values);
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (typeof v !== 'string' || !HOLE_WORD.test(v)) return this.#slow(chain, values);
    }
    return new TemplateRule(chain, this, values.length > 0 ? values[0]! : '', values.length > 1 ? values[1]! : '');
  }

  /** The words of a rule filled with `v0`, `v1`. */
  wordsWith(v0: string, v1: string): string[] {
    let v = 0;
    return this.#words.map((w) => w ?? (v++ === 0 ? v0 : v1));
  }

  get comment(): string | undefined {
    return this.#comment;
  }

  static nativeOf(t: RuleTemplate): boolean {
    return t.#native;
  }

  static piecesOf(t: RuleTemplate, form: RuleForm): readonly string[] {
    return t.#pieces[form]!;
  }

  #slow(chain: string, values: readonly string[]): Rule | string {
    let v = 0;
    const words = this.#words.map((w) => w ?? values[v++]!);
    if (v !== values.length) throw new Error(`rule template: ${v} values expected, got ${values.length}`);
    return checkedRule(chain, words, this.#comment);
  }
}

/**
 * A rule `RuleTemplate.fill` made: its chain, template and up to two values, all in private fields
 * (the mark, as for CheckedRule: a copy is a plain object, checked in full, and what was checked
 * is what is written). `words` is built when first asked for (the applier, tracer, tests).
 */
class TemplateRule implements Rule {
  declare readonly comment?: string;
  readonly #chain: string;
  readonly #template: RuleTemplate;
  readonly #v0: string;
  readonly #v1: string;
  #words: readonly string[] | undefined = undefined;
  constructor(chain: string, template: RuleTemplate, v0: string, v1: string) {
    this.#chain = chain;
    this.#template = template;
    this.#v0 = v0;
    this.#v1 = v1;
    const comment = template.comment;
    if (comment !== undefined) this.comment = comment;
  }
  get chain(): string {
    return this.#chain;
  }
  get words(): readonly string[] {
    return (this.#words ??= this.#template.wordsWith(this.#v0, this.#v1));
  }
  /** As JSON, the plain rule it stands for. */
  toJSON(): Rule {
    const comment = this.comment;
    return comment === undefined ? { chain: this.chain, words: this.words } : { chain: this.chain, words: this.words, comment };
  }
  static is(r: Rule): r is TemplateRule {
    return #template in r;
  }
  /** The rule's words, comment and `\n` in `form`, as pieces (no string made). */
  static write(r: TemplateRule, form: RuleForm, out: Text): void {
    const p = RuleTemplate.piecesOf(r.#template, form);
    out.push(p[0]!);
    if (p.length > 1) {
      out.push(r.#v0);
      out.push(p[1]!);
      if (p.length > 2) {
        out.push(r.#v1);
        out.push(p[2]!);
      }
    }
  }
  static native(r: TemplateRule): boolean {
    return RuleTemplate.nativeOf(r.#template);
  }
}

/**
 * A rule's words, comment and `\n` as `form` writes them, after its chain: a rule this module
 * checked as made, any other checked now (throws like assertNft; the chain name is the caller's
 * to check, where the chain is declared). In the native form a rule that could not stand as a
 * line of a chain block (`nativeRuleProblem`) is refused too.
 */
export function writeRuleWords(r: Rule, form: RuleForm, out: Text): void {
  if (TemplateRule.is(r)) {
    if (form === DUMP_FORM || TemplateRule.native(r)) {
      TemplateRule.write(r, form, out);
      return;
    }
  } else if (NumgenRule.is(r)) {
    NumgenRule.write(r, form, out);
    return;
  }
  // Checked as a rule first (a copy may lack its words), then, for a chain block, as one of its lines.
  const text = CheckedRule.textOf(r) ?? declaredRuleText(r);
  if (form === NATIVE_FORM && !CheckedRule.nativeOf(r)) assertNft(nativeRuleProblem(r), 'rule', r);
  out.push(FORM_LEAD[form]!);
  out.push(text);
  out.push(r.comment === undefined ? '\n' : ` comment ${quoteComment(r.comment)}\n`);
}

/** A plain chain (no base, no comment) whose name `checkedChain` checked; the private field marks it, as for CheckedRule. */
class CheckedChain implements Chain {
  constructor(readonly name: string) {}
  // A private method marks the class's objects without a field in each (10^5 endpoint chains).
  #checked(): void {}
  static is(c: Chain): boolean {
    return #checked in c;
  }
}

/** `, i : goto ` for each target after the first (`0 : goto ` for it), made once per index. */
const VMAP_SEPARATORS: string[] = ['0 : goto '];
function vmapSeparator(i: number): string {
  while (VMAP_SEPARATORS.length <= i) VMAP_SEPARATORS.push(` , ${VMAP_SEPARATORS.length} : goto `);
  return VMAP_SEPARATORS[i]!;
}

/**
 * The numgen dispatch `checkedNumgenRule` made of checked chains: its chain and the targets'
 * names in private fields (the mark, as for TemplateRule). It holds no words and no text (a large
 * table's dispatch rules name every endpoint chain once more): the renderers write the pieces, and
 * `words` is built when first asked for.
 */
class NumgenRule implements Rule {
  readonly #chain: string;
  readonly #targets: readonly string[];
  #words: readonly string[] | undefined = undefined;
  constructor(chain: string, targets: readonly string[]) {
    this.#chain = chain;
    this.#targets = targets;
  }
  get chain(): string {
    return this.#chain;
  }
  get words(): readonly string[] {
    if (this.#words !== undefined) return this.#words;
    const t = this.#targets;
    const words = ['numgen', 'random', 'mod', String(t.length), 'vmap', '{'];
    for (let i = 0; i < t.length; i++) {
      if (i > 0) words.push(',');
      words.push(String(i), ':', 'goto', t[i]!);
    }
    words.push('}');
    return (this.#words = words);
  }
  toJSON(): Rule {
    return { chain: this.chain, words: this.words };
  }
  static is(r: Rule): r is NumgenRule {
    return #targets in r;
  }
  static write(r: NumgenRule, form: RuleForm, out: Text): void {
    const t = r.#targets;
    out.push(`${FORM_LEAD[form]!}numgen random mod ${t.length} vmap { `);
    for (let i = 0; i < t.length; i++) {
      out.push(vmapSeparator(i));
      out.push(t[i]!);
    }
    out.push(' }\n');
  }
}

/**
 * kube-proxy's endpoint dispatch `numgen random mod N vmap { 0 : goto T0 , 1 : goto T1 … }` in
 * `chain`, as `checkedRule` makes it, checking only what varies: each target's name, which a chain
 * `checkedChain` made needs no check of (a rule word, no brace). Any other target, or none, takes
 * `checkedRule` whole.
 */
export function checkedNumgenRule(chain: string, targets: readonly Chain[]): Rule | string {
  const names = new Array<string>(targets.length);
  let checked = targets.length > 0;
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    names[i] = t.name;
    if (!CheckedChain.is(t)) checked = false;
  }
  if (checked) return new NumgenRule(chain, names);
  const words = ['numgen', 'random', 'mod', String(targets.length), 'vmap', '{'];
  for (let i = 0; i < names.length; i++) {
    if (i > 0) words.push(',');
    words.push(String(i), ':', 'goto', names[i]!);
  }
  words.push('}');
  return checkedRule(chain, words);
}

/** The plain chain `name`, checked once, here (the renderers do not check it again), or the problem. */
export function checkedChain(name: string): Chain | string {
  const p = identifierProblem(name);
  return p === undefined ? new CheckedChain(name) : `chain name: ${p}`;
}

/** `chainProblem`, skipped for a chain `checkedChain` made. */
export function uncheckedChainProblem(c: Chain): string | undefined {
  return CheckedChain.is(c) ? undefined : chainProblem(c);
}

/** Whether `checkedRule` made `r` and found it fit to be a line of a chain block. */
export function nativeRuleChecked(r: Rule): boolean {
  return TemplateRule.is(r) ? TemplateRule.native(r) : NumgenRule.is(r) || CheckedRule.nativeOf(r);
}

/** The rule's words joined by spaces: a checked rule's as made, any other rule's checked now (throws like assertNft). */
export function ruleWordsText(r: Rule): string {
  return TemplateRule.is(r) || NumgenRule.is(r) ? r.words.join(' ') : (CheckedRule.textOf(r) ?? declaredRuleText(r));
}

function keyPartsProblem(key: readonly string[]): string | undefined {
  return key.length === 0 ? 'element: empty key' : field('key', firstOf(key, elementPartProblem));
}

export function elementKeyProblem(container: string, key: readonly string[]): string | undefined {
  if (key.length === 0) return 'element: empty key';
  return firstProblem(field('set or map', identifierProblem(container)), keyPartsProblem(key));
}

function valueCommentProblem(e: Element): string | undefined {
  const value = e.value;
  let valueProblem: string | undefined;
  if (value !== undefined) {
    valueProblem = value.length === 0 ? 'value: empty (omit it for a set element)' : field('value', firstOf(value, elementPartProblem));
  }
  return firstProblem(valueProblem, optionalComment(e.comment));
}

export function elementProblem(e: Element): string | undefined {
  return firstProblem(elementKeyProblem(e.container, e.key), valueCommentProblem(e));
}

/** `elementProblem` except for the set or map name, which the renderers check once where it is declared. */
export function declaredElementProblem(e: Element): string | undefined {
  return firstProblem(keyPartsProblem(e.key), valueCommentProblem(e));
}

/** An element's key and value joined by ` . ` (value undefined for a set element) and its comment, as written. */
export interface ElementParts {
  readonly key: string;
  readonly value: string | undefined;
  readonly comment: string | undefined;
}

/**
 * An element `checkedElement` checked, with its parts joined then: like CheckedRule, the private
 * field marks it, and the renderers write the parts as checked (a copy is a plain object, checked
 * in full; a later change to its arrays is not written).
 */
class CheckedElement implements Element {
  declare readonly comment?: string;
  declare readonly value?: readonly string[];
  readonly #parts: ElementParts;
  constructor(
    readonly container: string,
    readonly key: readonly string[],
    value: readonly string[] | undefined,
    comment: string | undefined,
  ) {
    if (comment !== undefined) this.comment = comment;
    if (value !== undefined) this.value = value;
    this.#parts = { key: key.length === 1 ? key[0]! : key.join(' . '), value: value === undefined ? undefined : value.length === 1 ? value[0]! : value.join(' . '), comment };
  }
  static partsOf(e: Element): ElementParts | undefined {
    return #parts in e ? (e as CheckedElement).#parts : undefined;
  }
}

/** The element, checked once, here, as `elementProblem` checks it (the renderers do not check it again), or the problem. */
export function checkedElement(container: string, key: readonly string[], value?: readonly string[], comment?: string): Element | string {
  const e = new CheckedElement(container, key, value, comment);
  return elementProblem(e) ?? e;
}

/** The parts of an element of a declared set or map: a checkedElement's as checked, any other's checked now (throws like assertNft). */
export function declaredElementParts(e: Element): ElementParts {
  const checked = CheckedElement.partsOf(e);
  if (checked !== undefined) return checked;
  assertNft(declaredElementProblem(e), 'element', e);
  return { key: e.key.join(' . '), value: e.value?.join(' . '), comment: e.comment };
}

/** The key joined by ` . ` (unchecked): what identifies an element in its set or map. */
export function elementKeyText(e: Element): string {
  return CheckedElement.partsOf(e)?.key ?? e.key.join(' . ');
}
