export * from './ir.js';
export * from './words.js';
export * from './check.js';
export * from './render.js';
export * from './render-native.js';
export * from './parse.js';
export * from './apply.js';
export * from './trace/index.js';
export * from './list/index.js';

import { applyTransaction } from './apply.js';
import type { NftRuleset, Operation } from './ir.js';
import { parseTransaction } from './parse.js';

/**
 * The table a `Dump()`-like text describes (knftables' `ParseDump`): only `add` lines, applied as a
 * whole: the table, then every chain, set and map, then rules and elements in text order. So the
 * text may list a rule before the chain it jumps to, as kube-proxy's expected dumps do; a name
 * that nothing declares still fails. Throws NftParseError (line:col) or NftApplyError.
 */
export function parseDump(text: string): NftRuleset {
  const tx = parseTransaction(text);
  const notAdd = tx.operations.findIndex((op) => op.verb !== 'add');
  if (notAdd >= 0) throw new Error(`a dump holds only add operations; operation ${notAdd + 1} is ${tx.operations[notAdd]!.verb}`);
  const stage = (op: Operation): number => (op.kind === 'table' ? 0 : op.kind === 'rule' || op.kind === 'element' ? 2 : 1);
  const operations = [0, 1, 2].flatMap((s) => tx.operations.filter((op) => stage(op) === s));
  const rs = applyTransaction(undefined, { operations });
  if (rs === undefined) throw new Error('a dump without a table');
  return rs;
}
