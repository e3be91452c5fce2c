/**
 * Static closure checks on a restore payload (knftables' Fake, statically): every jump names a
 * target extension or a chain of the same table, rules go only to chains that exist, and `-X`
 * deletes only a user chain this payload leaves empty and unreferenced. The lesson of
 * KUBE-MARK-DROP (#96468): a jump to a chain nobody declares fails the whole restore.
 */
import type { Ruleset, TableName } from './ir.js';
import { isBuiltinChain } from './ir.js';
import { BUILTIN_TARGETS, findJump } from './targets.js';
import { chainNameProblem } from './words.js';

export type ProblemCode =
  | 'bad-chain-name'
  | 'duplicate-chain'
  | 'policy-on-user-chain'
  | 'append-to-undeclared-chain'
  | 'append-to-deleted-chain'
  | 'unknown-target'
  | 'delete-builtin-chain'
  | 'delete-undeclared-chain'
  | 'delete-nonempty-chain'
  | 'delete-referenced-chain';

export interface Problem {
  readonly code: ProblemCode;
  readonly table: TableName;
  readonly chain: string;
  /** Index into the table's `commands`, when a command is at fault. */
  readonly command?: number;
  readonly message: string;
}

export interface CheckOptions {
  /**
   * Chains that already exist on the host and that the payload may use without declaring them (a
   * partial sync jumps to unchanged services' chains). Default: none.
   */
  readonly existingChains?: (table: TableName, chain: string) => boolean;
}

export function checkRuleset(ruleset: Ruleset, options: CheckOptions = {}): Problem[] {
  const existing = options.existingChains ?? (() => false);
  const problems: Problem[] = [];
  for (const table of ruleset.tables) {
    const t = table.name;
    const add = (code: ProblemCode, chain: string, message: string, command?: number): void => {
      problems.push(command === undefined ? { code, table: t, chain, message } : { code, table: t, chain, command, message });
    };
    const declared = new Set<string>();
    for (const c of table.chains) {
      const builtin = isBuiltinChain(t, c.name);
      const bad = builtin ? undefined : chainNameProblem(c.name);
      if (bad !== undefined) add('bad-chain-name', c.name, `${t}: ${bad}: ${JSON.stringify(c.name)}`);
      if (declared.has(c.name)) add('duplicate-chain', c.name, `${t}: chain ${c.name} is declared twice`);
      if (!builtin && c.policy !== '-') {
        add('policy-on-user-chain', c.name, `${t}: user chain ${c.name} has policy ${c.policy} (only built-in chains have one)`);
      }
      declared.add(c.name);
    }
    const known = (chain: string): boolean => declared.has(chain) || isBuiltinChain(t, chain) || existing(t, chain);

    // Where each chain gets rules and is referenced, and which chains the payload deletes.
    const appendedTo = new Map<string, number>();
    const referencedBy = new Map<string, number>();
    const deletedAt = new Map<string, number>();
    table.commands.forEach((cmd, i) => {
      if (cmd.kind === 'delete') {
        if (!deletedAt.has(cmd.chain)) deletedAt.set(cmd.chain, i);
        return;
      }
      if (!appendedTo.has(cmd.chain)) appendedTo.set(cmd.chain, i);
      const jump = findJump(cmd.args);
      if (jump !== undefined && !BUILTIN_TARGETS.has(jump.target) && !referencedBy.has(jump.target)) {
        referencedBy.set(jump.target, i);
      }
    });

    table.commands.forEach((cmd, i) => {
      if (cmd.kind === 'append') {
        if (!known(cmd.chain)) {
          add('append-to-undeclared-chain', cmd.chain, `${t}: rule appended to undeclared chain ${cmd.chain}`, i);
        } else if ((deletedAt.get(cmd.chain) ?? Infinity) < i) {
          add('append-to-deleted-chain', cmd.chain, `${t}: rule appended to chain ${cmd.chain} after its -X`, i);
        }
        const jump = findJump(cmd.args);
        if (jump !== undefined && !BUILTIN_TARGETS.has(jump.target) && !known(jump.target)) {
          const opt = jump.kind === 'goto' ? '-g' : '-j';
          add('unknown-target', jump.target, `${t}: ${cmd.chain} rule ${opt} ${jump.target}: neither a target nor a chain of table ${t}`, i);
        }
        return;
      }
      if (isBuiltinChain(t, cmd.chain)) {
        add('delete-builtin-chain', cmd.chain, `${t}: -X of built-in chain ${cmd.chain}`, i);
        return;
      }
      if (!declared.has(cmd.chain)) {
        add('delete-undeclared-chain', cmd.chain, `${t}: -X ${cmd.chain} without declaring (flushing) it first`, i);
      }
      const ruleAt = appendedTo.get(cmd.chain);
      if (ruleAt !== undefined && ruleAt < i) add('delete-nonempty-chain', cmd.chain, `${t}: -X ${cmd.chain}, which gets rules (command ${ruleAt})`, i);
      const refAt = referencedBy.get(cmd.chain);
      if (refAt !== undefined) add('delete-referenced-chain', cmd.chain, `${t}: -X ${cmd.chain}, which a rule jumps to (command ${refAt})`, i);
    });
  }
  return problems;
}
