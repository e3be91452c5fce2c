import { append, chainDecl, type Ruleset, type TableName } from '../src/ir.js';
import { chainsOf, currentFromChains, plan, type PlanPolicy } from '../src/plan.js';

const isService = (c: string) => /^KUBE-(SVC|SEP|EXT|FW|SVL)-/.test(c);
const kubePolicy: PlanPolicy = {
  alwaysWrite: (_t, c) => c.startsWith('KUBE-') && !isService(c),
  deletable: (t, c) => t === 'nat' && isService(c),
};

function ruleset(nat: Record<string, string[][]>, filter?: Record<string, string[][]>): Ruleset {
  const table = (name: TableName, chains: Record<string, string[][]>) => ({
    name,
    chains: Object.keys(chains).map(chainDecl),
    commands: Object.entries(chains).flatMap(([c, rules]) => rules.map((r) => append(c, r))),
  });
  return { tables: [...(filter ? [table('filter', filter)] : []), table('nat', nat)] };
}

const base = {
  'KUBE-SERVICES': [['-d', '172.30.0.1', '-j', 'KUBE-SVC-A']],
  'KUBE-MARK-MASQ': [['-j', 'MARK', '--or-mark', '0x4000']],
  'KUBE-SVC-A': [['-j', 'KUBE-SEP-1']],
  'KUBE-SEP-1': [['-j', 'DNAT', '--to-destination', '10.0.0.1:80']],
};

test('nothing differs: no tables, nothing to restore', () => {
  const desired = ruleset(base);
  const p = plan(currentFromChains(chainsOf(desired)), desired, kubePolicy);
  expect(p.payload.tables).toEqual([]);
  expect(p.written).toEqual([]);
  expect(p.deleted).toEqual([]);
});

test('one service chain differs: it and the top-level chains are written, other service chains are not declared', () => {
  const before = ruleset({ ...base, 'KUBE-SVC-B': [['-j', 'KUBE-SEP-2']], 'KUBE-SEP-2': [['-j', 'DNAT', '--to-destination', '10.0.0.2:80']] });
  const after = ruleset({ ...base, 'KUBE-SVC-B': [['-j', 'KUBE-SEP-2']], 'KUBE-SEP-2': [['-j', 'DNAT', '--to-destination', '10.0.0.9:80']] });
  const p = plan(currentFromChains(chainsOf(before)), after, kubePolicy);
  expect(p.changed).toEqual([{ table: 'nat', chain: 'KUBE-SEP-2' }]);
  expect(p.written.map((w) => w.chain)).toEqual(['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-SEP-2']);
  const nat = p.payload.tables[0]!;
  expect(nat.chains.map((c) => c.name)).toEqual(['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-SEP-2']);
  expect(nat.commands.map((c) => c.chain)).toEqual(['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-SEP-2']);
});

test('stale service chains are flushed and deleted after the rewrite; non-service chains never are', () => {
  const before = ruleset({
    ...base,
    'KUBE-SERVICES': [...base['KUBE-SERVICES'], ['-d', '172.30.0.2', '-j', 'KUBE-SVC-B']],
    'KUBE-SVC-B': [['-j', 'KUBE-SEP-2']],
    'KUBE-SEP-2': [['-j', 'DNAT', '--to-destination', '10.0.0.2:80']],
    'KUBE-OTHER': [['-j', 'RETURN']],
  });
  const after = ruleset(base);
  const p = plan(currentFromChains(chainsOf(before)), after, kubePolicy);
  expect(p.deleted.map((d) => d.chain)).toEqual(['KUBE-SEP-2', 'KUBE-SVC-B']);
  const nat = p.payload.tables[0]!;
  expect(nat.chains.map((c) => c.name)).toEqual(['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-SEP-2', 'KUBE-SVC-B']);
  expect(nat.commands.slice(-2)).toEqual([
    { kind: 'delete', chain: 'KUBE-SEP-2' },
    { kind: 'delete', chain: 'KUBE-SVC-B' },
  ]);
  expect(nat.commands.some((c) => c.chain === 'KUBE-OTHER')).toBe(false);
});

test('a table with no change is left out even when the other table changes', () => {
  const filter = { 'KUBE-FORWARD': [['-j', 'ACCEPT']] };
  const before = ruleset(base, filter);
  const after = ruleset({ ...base, 'KUBE-SEP-1': [['-j', 'DNAT', '--to-destination', '10.0.0.7:80']] }, filter);
  const p = plan(currentFromChains(chainsOf(before)), after, kubePolicy);
  expect(p.payload.tables.map((t) => t.name)).toEqual(['nat']);
});

test('a stale chain referenced from outside the plan is kept, with its referrers named', () => {
  const chains = chainsOf(ruleset({ ...base, 'KUBE-SVC-B': [['-j', 'KUBE-SEP-2']], 'KUBE-SEP-2': [['-j', 'RETURN']], FOREIGN: [['-j', 'KUBE-SVC-B']] }));
  const p = plan(currentFromChains(chains), ruleset(base), kubePolicy);
  expect(p.kept).toEqual([
    { table: 'nat', chain: 'KUBE-SVC-B', referencedBy: ['FOREIGN'] },
    { table: 'nat', chain: 'KUBE-SEP-2', referencedBy: ['KUBE-SVC-B'] },
  ]);
  expect(p.deleted).toEqual([]);
  expect(p.payload.tables).toEqual([]);
});

test('identity fast path: the same rule objects compare equal without looking at words', () => {
  const desired = ruleset(base);
  const current = currentFromChains(chainsOf(desired));
  const nat = chainsOf(desired).get('nat')!;
  expect(current.matches('nat', 'KUBE-SVC-A', nat.get('KUBE-SVC-A')!)).toBe(true);
  expect(current.matches('nat', 'KUBE-SVC-A', [append('KUBE-SVC-A', ['-j', 'KUBE-SEP-1'])])).toBe(true);
  expect(current.matches('nat', 'KUBE-SVC-A', [append('KUBE-SVC-A', ['-j', 'KUBE-SEP-2'])])).toBe(false);
  expect(current.matches('nat', 'KUBE-SVC-A', [])).toBe(false);
});

test('an incomplete desired ruleset (appends to an undeclared chain) is refused', () => {
  const desired: Ruleset = { tables: [{ name: 'nat', chains: [], commands: [append('KUBE-SVC-A', ['-j', 'RETURN'])] }] };
  expect(() => plan(currentFromChains(new Map()), desired, kubePolicy)).toThrow(/appends to chain KUBE-SVC-A, which it does not declare/);
});

test('emptyWhenUndesired: a chain the desired ruleset leaves out is flushed (not deleted) when it holds rules', () => {
  const policy: PlanPolicy = { ...kubePolicy, emptyWhenUndesired: (t, c) => t === 'filter' && c === 'KUBE-FIREWALL' };
  const fw = { 'KUBE-FIREWALL': [['-d', '127.0.0.0/8', '-j', 'DROP']], 'KUBE-FORWARD': [['-j', 'ACCEPT']] };
  const p = plan(currentFromChains(chainsOf(ruleset(base, fw))), ruleset(base, { 'KUBE-FORWARD': [['-j', 'ACCEPT']] }), policy);
  expect(p.changed).toEqual([{ table: 'filter', chain: 'KUBE-FIREWALL' }]);
  expect(p.payload.tables[0]).toEqual({ name: 'filter', chains: [chainDecl('KUBE-FORWARD'), chainDecl('KUBE-FIREWALL')], commands: [append('KUBE-FORWARD', ['-j', 'ACCEPT'])] });
  // Already empty: nothing to do.
  const q = plan(currentFromChains(chainsOf(ruleset(base, { 'KUBE-FIREWALL': [], 'KUBE-FORWARD': [['-j', 'ACCEPT']] }))), ruleset(base, { 'KUBE-FORWARD': [['-j', 'ACCEPT']] }), policy);
  expect(q.payload.tables).toEqual([]);
});

test('a pre-grouped desired ruleset gives the same plan; an incomplete one is still refused', () => {
  const before = ruleset({ ...base, 'KUBE-SVC-B': [['-j', 'KUBE-SEP-2']], 'KUBE-SEP-2': [['-j', 'RETURN']] });
  const after = ruleset({ ...base, 'KUBE-SEP-1': [['-j', 'DNAT', '--to-destination', '10.0.0.8:80']] });
  const current = currentFromChains(chainsOf(before));
  expect(plan(current, after, kubePolicy, chainsOf(after))).toEqual(plan(current, after, kubePolicy));
  const extra = chainsOf(after);
  extra.get('nat')!.set('KUBE-UNDECLARED', []);
  expect(() => plan(current, after, kubePolicy, extra)).toThrow(/KUBE-UNDECLARED/);
});

describe('a plan whose only change is deleting stale chains', () => {
  // Leftovers (a crashed apply, an earlier kube-proxy): a service chain and its endpoint chain that
  // nothing desired references; every desired chain is already as wanted.
  const leftovers = { 'KUBE-SVC-GONE': [['-j', 'KUBE-SEP-GONE']], 'KUBE-SEP-GONE': [['-j', 'DNAT', '--to-destination', '10.0.0.9:80']] };
  const desired = ruleset(base);
  const current = currentFromChains(chainsOf(ruleset({ ...base, ...leftovers })));

  test('the table is still in the payload: flush and -X of each stale chain, after the top-level rewrite', () => {
    const p = plan(current, desired, kubePolicy);
    expect(p.changed).toEqual([]);
    expect(p.deleted).toEqual([
      { table: 'nat', chain: 'KUBE-SEP-GONE' },
      { table: 'nat', chain: 'KUBE-SVC-GONE' },
    ]);
    expect(p.payload.tables).toEqual([
      {
        name: 'nat',
        chains: ['KUBE-SERVICES', 'KUBE-MARK-MASQ', 'KUBE-SEP-GONE', 'KUBE-SVC-GONE'].map(chainDecl),
        commands: [
          append('KUBE-SERVICES', ['-d', '172.30.0.1', '-j', 'KUBE-SVC-A']),
          append('KUBE-MARK-MASQ', ['-j', 'MARK', '--or-mark', '0x4000']),
          { kind: 'delete', chain: 'KUBE-SEP-GONE' },
          { kind: 'delete', chain: 'KUBE-SVC-GONE' },
        ],
      },
    ]);
  });

  test('with no chain written every time, the payload is the deletions alone', () => {
    const p = plan(current, desired, { ...kubePolicy, alwaysWrite: () => false });
    expect(p.written).toEqual([]);
    expect(p.payload.tables).toEqual([
      { name: 'nat', chains: ['KUBE-SEP-GONE', 'KUBE-SVC-GONE'].map(chainDecl), commands: [{ kind: 'delete', chain: 'KUBE-SEP-GONE' }, { kind: 'delete', chain: 'KUBE-SVC-GONE' }] },
    ]);
  });

  test('a table the desired ruleset does not have at all still loses its stale chains', () => {
    const filterOnly: Ruleset = { tables: [{ name: 'filter', chains: [chainDecl('KUBE-FORWARD')], commands: [] }] };
    const now = currentFromChains(chainsOf(ruleset(leftovers, { 'KUBE-FORWARD': [] })));
    const p = plan(now, filterOnly, kubePolicy);
    expect(p.payload.tables.map((t) => t.name)).toEqual(['nat']);
    expect(p.deleted.map((d) => d.chain)).toEqual(['KUBE-SEP-GONE', 'KUBE-SVC-GONE']);
  });
});
