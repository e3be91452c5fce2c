/**
 * The typed ruleset: plain, readonly data for iptables-restore input and iptables-save output.
 * Only `render.ts` knows the text syntax; everything else (compiler, planner, tracer) works here.
 */
import { MAX_LINE_WORDS, wordProblem } from './words.js';

export type TableName = 'filter' | 'nat' | 'mangle' | 'raw' | 'security';

/** `:NAME POLICY [packets:bytes]`. In restore input, declaring a chain flushes it (even with --noflush). */
export interface ChainDecl {
  readonly name: string;
  /** `-` for user-defined chains, `ACCEPT`/`DROP` for built-in chains. */
  readonly policy: string;
  /** The bracketed counters without brackets, e.g. `0:0`. */
  readonly counters: string;
}

/** `-A CHAIN word...`: the words are as iptables sees them after unquoting (a comment with spaces is one word). */
export interface AppendCommand {
  readonly kind: 'append';
  readonly chain: string;
  readonly args: readonly string[];
  /** Counters printed by `iptables-save -c` as `[p:b] -A ...`; absent otherwise. */
  readonly counters?: string;
}

/** `-X CHAIN`: delete a (flushed, unreferenced) user chain. */
export interface DeleteChainCommand {
  readonly kind: 'delete';
  readonly chain: string;
}

export type Command = AppendCommand | DeleteChainCommand;

/** One `*table` ... `COMMIT` block; chain lines come first, then commands in order. */
export interface Table {
  readonly name: TableName;
  readonly chains: readonly ChainDecl[];
  readonly commands: readonly Command[];
}

export interface Ruleset {
  readonly tables: readonly Table[];
}

export const BUILTIN_CHAINS: Readonly<Record<TableName, readonly string[]>> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

export function chainDecl(name: string): ChainDecl {
  return { name, policy: '-', counters: '0:0' };
}

export function append(chain: string, args: readonly string[]): AppendCommand {
  return { kind: 'append', chain, args };
}

/**
 * A rule whose builder has already checked every word once, where the words came from (words.ts'
 * rules: `wordProblem`, comments included, and `chainNameProblem`), so the renderer does not check
 * them again. Only builders that validate at the IR boundary use it (core's service rules); parsed
 * input and every other rule go through `append` and are checked word by word before rendering.
 */
class VettedAppend implements AppendCommand {
  readonly kind = 'append' as const;
  constructor(
    readonly chain: string,
    readonly args: readonly string[],
  ) {}
}

/** `append` for a rule whose words the caller has checked (see VettedAppend): the renderer trusts them. */
export function vettedAppend(chain: string, args: readonly string[]): AppendCommand {
  return new VettedAppend(chain, args);
}

/** A user chain's declaration whose name its builder has checked (see VettedAppend): just the name. */
class VettedChainDecl implements ChainDecl {
  constructor(readonly name: string) {}
  get policy(): string {
    return '-';
  }
  get counters(): string {
    return '0:0';
  }
  toJSON(): ChainDecl {
    return { name: this.name, policy: '-', counters: '0:0' };
  }
}

/** `chainDecl` for a name the caller has checked with `chainNameProblem`: the renderer trusts it. */
export function vettedChainDecl(name: string): ChainDecl {
  return new VettedChainDecl(name);
}

/**
 * One word of a rule template: a constant, the rule's value number `i` (0 to 3), or constants
 * and values joined into one word (`[0, ' -> ', 1]`: a comment built from two values).
 */
export type TemplateWord = string | number | readonly (string | number)[];

/**
 * The shape of many rules that differ in a few words (a SEP chain's DNAT rule, one step of a
 * probability ladder): made once, its constant words checked once here. A rule of it
 * (`templateRule`) holds only its chain and values, not a word array; `args` is built on demand
 * for the planner, tracer and tests, and the renderer writes the words straight from the template.
 */
export class RuleTemplate {
  /** The renderer's prepared text of this template, made on first use (see render.ts). */
  rendered: unknown = undefined;
  /** A frozen copy: the words checked here are the words later rendered. */
  readonly words: readonly TemplateWord[];
  constructor(template: readonly TemplateWord[]) {
    const words = (this.words = Object.freeze(template.map((w) => (typeof w === 'object' ? Object.freeze([...w]) : w))));
    if (words.length + 2 > MAX_LINE_WORDS) throw new Error(`rule template has more than ${MAX_LINE_WORDS - 2} words`);
    words.forEach((w, i) => {
      const isComment = i > 0 && words[i - 1] === '--comment';
      for (const part of typeof w === 'object' ? w : [w]) {
        if (typeof part === 'number') {
          if (!(Number.isInteger(part) && part >= 0 && part < TEMPLATE_VALUES)) throw new Error(`rule template value ${part} is not 0 to ${TEMPLATE_VALUES - 1}`);
          continue;
        }
        const problem = wordProblem(part, isComment);
        if (problem !== undefined) throw new Error(`unsafe rule template word ${JSON.stringify(part)}: ${problem}`);
      }
    });
  }
}

/** Values per templated rule. */
export const TEMPLATE_VALUES = 4;

/**
 * A rule held as a template and its values (see RuleTemplate); vetted like VettedAppend. Kept to
 * the chain, template and values (no `kind` of its own, the words only once asked for) because a
 * large cluster holds hundreds of thousands of them at once.
 */
export class TemplateRule implements AppendCommand {
  /** The words, once a planner, tracer or test asked for them (a field: a WeakMap would cost the GC more). */
  private words: readonly string[] | undefined = undefined;
  constructor(
    readonly chain: string,
    readonly template: RuleTemplate,
    readonly v0: string,
    readonly v1: string,
    readonly v2: string,
    readonly v3: string,
  ) {}

  get kind(): 'append' {
    return 'append';
  }

  /** Value number `i` of the template's words. */
  value(i: number): string {
    return i === 0 ? this.v0 : i === 1 ? this.v1 : i === 2 ? this.v2 : this.v3;
  }

  /** Word `i` of the rule, built on its own (no word array made or kept). */
  word(i: number): string {
    const w = this.template.words[i]!;
    if (typeof w === 'string') return w;
    if (typeof w === 'number') return this.value(w);
    let s = '';
    for (const part of w) s += typeof part === 'string' ? part : this.value(part);
    return s;
  }

  /** The words, as `append` would hold them. */
  get args(): readonly string[] {
    return (this.words ??= this.template.words.map((_, i) => this.word(i)));
  }

  /** As JSON, the plain AppendCommand it stands for. */
  toJSON(): AppendCommand {
    return { kind: 'append', chain: this.chain, args: this.args };
  }
}

/**
 * A rule of `template` with its values, for a caller that has checked every value as VettedAppend's
 * words are checked (`wordProblem`; a word joined from values and constants within
 * MAX_WORD_LENGTH, or MAX_COMMENT_LENGTH for a comment) and the chain with `chainNameProblem`: the
 * renderer trusts them. Unused values are ''.
 */
export function templateRule(chain: string, template: RuleTemplate, v0: string, v1 = '', v2 = '', v3 = ''): TemplateRule {
  return new TemplateRule(chain, template, v0, v1, v2, v3);
}

/** True for a rule made by `vettedAppend` or `templateRule` or a declaration made by `vettedChainDecl`. */
export function isVetted(x: Command | ChainDecl): boolean {
  return x instanceof VettedAppend || x instanceof TemplateRule || x instanceof VettedChainDecl;
}

/** True for the five tables iptables knows. */
export function isTableName(name: string): name is TableName {
  return Object.prototype.hasOwnProperty.call(BUILTIN_CHAINS, name);
}

/** True when `chain` is a built-in chain of `table`. */
export function isBuiltinChain(table: TableName, chain: string): boolean {
  return BUILTIN_CHAINS[table].includes(chain);
}
