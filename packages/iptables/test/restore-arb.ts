/** Generated iptables-restore runs over a small universe of chains, for the restore model (test helper). */
import fc from 'fast-check';
import type { ChainDecl, Command, Ruleset, Table, TableName } from '../src/ir.js';
import { BUILTIN_CHAINS } from '../src/ir.js';

export const USER_CHAINS = ['A', 'B', 'C', 'KUBE-SVC-X'];

export interface RestoreStep {
  readonly payload: Ruleset;
  readonly noflush: boolean;
}

/** Rule bodies the real iptables accepts in filter and nat alike, already in a form toSaveForm understands. */
function ruleArgs(targets: readonly string[]): fc.Arbitrary<readonly string[]> {
  return fc.oneof<fc.Arbitrary<readonly string[]>[]>(
    fc.constant([]),
    fc.constantFrom(...targets).map((t) => ['-j', t]),
    fc.constantFrom(...targets).map((t) => ['-g', t]),
    fc.constantFrom(['-j', 'ACCEPT'], ['-j', 'RETURN'], ['-m', 'comment', '--comment', 'x y', '-j', 'ACCEPT'], ['-s', '10.0.0.1', '-j', 'RETURN']),
  );
}

function table(name: TableName): fc.Arbitrary<Table> {
  const chains = [...BUILTIN_CHAINS[name], ...USER_CHAINS];
  const decl: fc.Arbitrary<ChainDecl> = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...USER_CHAINS).map((n) => ({ name: n, policy: '-', counters: '0:0' })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...BUILTIN_CHAINS[name]), fc.constantFrom('ACCEPT', 'DROP', '-')).map(([n, p]) => ({ name: n, policy: p, counters: '0:0' })) },
  );
  const command: fc.Arbitrary<Command> = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...chains), ruleArgs([...USER_CHAINS, 'NOPE'])).map(([chain, args]) => ({ kind: 'append' as const, chain, args })) },
    { weight: 1, arbitrary: fc.constantFrom(...USER_CHAINS, 'NOPE').map((chain) => ({ kind: 'delete' as const, chain })) },
  );
  return fc.record({ name: fc.constant(name), chains: fc.array(decl, { maxLength: 4 }), commands: fc.array(command, { maxLength: 6 }) });
}

export function restoreSequence(maxSteps = 6): fc.Arbitrary<RestoreStep[]> {
  const payload = fc.oneof(
    fc.tuple(table('filter')).map((tables) => ({ tables })),
    fc.tuple(table('nat')).map((tables) => ({ tables })),
    fc.tuple(table('filter'), table('nat')).map((tables) => ({ tables })),
    fc.tuple(table('raw')).map((tables) => ({ tables })),
  );
  return fc.array(fc.record({ payload, noflush: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }), { minLength: 1, maxLength: maxSteps });
}
