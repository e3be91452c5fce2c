import fc from 'fast-check';
import type { Ruleset } from '../src/ir.js';
import { parseRuleset } from '../src/parse.js';
import { render } from '../src/render.js';
import {
  type NetfilterState,
  type RestoreOptions,
  applyRestore,
  emptyState,
  stateFromRuleset,
  stateToRuleset,
} from '../src/restore-semantics.js';
import { restoreSequence } from './restore-arb.js';

const NOFLUSH: RestoreOptions = { noflush: true };

function apply(state: NetfilterState, text: string, opts: RestoreOptions = NOFLUSH): NetfilterState {
  const r = applyRestore(state, parseRuleset(text), opts);
  if (!r.ok) throw new Error(r.error.message);
  return r.state;
}

function fails(state: NetfilterState, text: string, opts: RestoreOptions = NOFLUSH) {
  const r = applyRestore(state, parseRuleset(text), opts);
  if (r.ok) throw new Error('expected the restore to fail');
  return r;
}

const show = (s: NetfilterState): string => render(stateToRuleset(s));

const base = apply(emptyState(), '*filter\n:A - [0:0]\n:B - [0:0]\n-A INPUT -j A\n-A A -j B\n-A B -j ACCEPT\nCOMMIT\n');

describe('applyRestore', () => {
  it('creates a table with all its built-in chains, printed in iptables-save order', () => {
    expect(show(base)).toBe(`*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
:B - [0:0]
-A INPUT -j A
-A A -j B
-A B -j ACCEPT
COMMIT
`);
  });

  it('flushes a declared user chain, also with --noflush and after rules of the same payload', () => {
    expect(show(apply(base, '*filter\n:B - [0:0]\n-A B -j RETURN\nCOMMIT\n'))).toContain('-A B -j RETURN\nCOMMIT');
    expect(show(apply(base, '*filter\n:B - [0:0]\nCOMMIT\n'))).not.toContain('-A B');
  });

  it('never flushes a declared built-in chain; a policy other than - sets it', () => {
    const s = apply(base, '*filter\n:INPUT DROP [5:6]\n:OUTPUT - [0:0]\nCOMMIT\n');
    expect(show(s)).toContain(':INPUT DROP [0:0]\n');
    expect(show(s)).toContain('-A INPUT -j A\n');
    expect(show(apply(base, '*filter\n:INPUT DROP [5:6]\nCOMMIT\n', { noflush: true, counters: true }))).toContain(':INPUT DROP [5:6]\n');
  });

  it('without --noflush empties the table first (nft also resets policies; legacy keeps them)', () => {
    const dropped = apply(base, '*filter\n:INPUT DROP [0:0]\nCOMMIT\n');
    expect(show(apply(dropped, '*filter\n:L - [0:0]\nCOMMIT\n', { noflush: false }))).toBe(
      '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:L - [0:0]\nCOMMIT\n',
    );
    expect(show(apply(dropped, '*filter\n:L - [0:0]\nCOMMIT\n', { noflush: false, backend: 'legacy' }))).toBe(
      '*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:L - [0:0]\nCOMMIT\n',
    );
  });

  it('nft: an empty block creates nothing with --noflush and deletes the table without', () => {
    expect(apply(emptyState(), '*raw\nCOMMIT\n').tables.size).toBe(0);
    expect(apply(base, '*filter\nCOMMIT\n').tables.has('filter')).toBe(true);
    expect(apply(base, '*filter\nCOMMIT\n', { noflush: false }).tables.has('filter')).toBe(false);
    expect(apply(base, '*filter\nCOMMIT\n', { noflush: false, backend: 'legacy' }).tables.has('filter')).toBe(true);
  });

  it.each([
    ['-A to a missing chain', '*filter\n-A NOPE -j ACCEPT\nCOMMIT\n', 2, /chain NOPE does not exist/],
    ['a jump to a missing chain', '*filter\n-A A -j NOPE\nCOMMIT\n', 2, /Couldn't load target NOPE/],
    ['a jump to a built-in chain', '*filter\n-A A -j INPUT\nCOMMIT\n', 2, /Couldn't load target INPUT/],
    ['-X of a referenced chain', '*filter\n:B - [0:0]\n-X B\nCOMMIT\n', 3, /referenced/],
    ['-X of a non-empty chain', '*filter\n:Z - [0:0]\n-A Z -j ACCEPT\n-X Z\nCOMMIT\n', 4, /not empty/],
    ['-X of a built-in chain', '*filter\n-X INPUT\nCOMMIT\n', 2, /built-in/],
    ['-X of a missing chain', '*filter\n-X NOPE\nCOMMIT\n', 2, /no chain by that name/],
    ['-A after -X', '*filter\n:F - [0:0]\n-X F\n-A F -j DROP\nCOMMIT\n', 4, /does not exist/],
    ['a loop reachable from a built-in chain', '*filter\n:LA - [0:0]\n:LB - [0:0]\n-A LA -j LB\n-A LB -j LA\n-A OUTPUT -j LA\nCOMMIT\n', 7, /loop/],
    ['a bad policy', '*filter\n:INPUT REJECT [0:0]\nCOMMIT\n', 2, /Can't set policy/],
    ['a chain name of 29 characters', `*filter\n:${'X'.repeat(29)} - [0:0]\nCOMMIT\n`, 2, /longer than 28/],
    ['a chain named like a verdict', '*filter\n:ACCEPT - [0:0]\nCOMMIT\n', 2, /standard target/],
  ])('fails for %s, at the line iptables-restore names, leaving the table unchanged', (_what, text, line, message) => {
    const r = fails(base, text);
    expect(r.error.line).toBe(line);
    expect(r.error.message).toMatch(message);
    expect(r.state).toEqual(base);
  });

  it('accepts an unreachable loop, and -X of chains the payload flushed', () => {
    const s = apply(base, '*filter\n:LA - [0:0]\n:LB - [0:0]\n:B - [0:0]\n-A LA -j LB\n-A LB -j LA\n-A A -j ACCEPT\nCOMMIT\n');
    expect(show(s)).toContain('-A LB -j LA');
    const t = apply(s, '*filter\n:A - [0:0]\n:B - [0:0]\n-X B\nCOMMIT\n');
    expect(show(t)).not.toContain(':B ');
    expect(show(apply(t, '*filter\n:E - [0:0]\n-X E\nCOMMIT\n'))).not.toContain(':E ');
  });

  it('legacy without --noflush refuses a chain declared twice in one block; nft and --noflush take it', () => {
    const twice = '*nat\n:A - [0:0]\n:A - [0:0]\nCOMMIT\n';
    expect(fails(emptyState(), twice, { noflush: false, backend: 'legacy' }).error).toMatchObject({ line: 3, chain: 'A' });
    expect(applyRestore(emptyState(), parseRuleset(twice), { noflush: true, backend: 'legacy' }).ok).toBe(true);
    expect(applyRestore(emptyState(), parseRuleset(twice), { noflush: false }).ok).toBe(true);
  });

  it('legacy: a failing block still leaves its table in existence, empty', () => {
    const r = fails(emptyState(), '*nat\n-A NOPE -j ACCEPT\nCOMMIT\n', { noflush: true, backend: 'legacy' });
    expect(show(r.state)).toBe('*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n');
  });

  it('user-chain policies: nft ignores them, legacy refuses', () => {
    expect(show(apply(base, '*filter\n:C ACCEPT [0:0]\nCOMMIT\n'))).toContain(':C - [0:0]');
    expect(fails(base, '*filter\n:C ACCEPT [0:0]\nCOMMIT\n', { noflush: true, backend: 'legacy' }).error.message).toMatch(/user chain C/);
  });

  it('commits each table on its own: tables before the failing one stay committed', () => {
    const r = fails(base, '*filter\n:NEW - [0:0]\n-A NEW -j ACCEPT\nCOMMIT\n*nat\n-A NOPE -j ACCEPT\nCOMMIT\n');
    expect(r.error).toMatchObject({ table: 'nat', tableIndex: 1, line: 6, command: 0, chain: 'NOPE' });
    expect(show(r.state)).toContain('-A NEW -j ACCEPT');
    expect(r.state.tables.has('nat')).toBe(false);
  });

  it('keeps rule counters only with --counters', () => {
    const text = '*filter\n:K - [0:0]\n[3:4] -A K -j ACCEPT\nCOMMIT\n';
    expect(show(apply(base, text))).toContain('\n-A K -j ACCEPT\n');
    expect(show(apply(base, text, { noflush: true, counters: true }))).toContain('\n[3:4] -A K -j ACCEPT\n');
  });

  it('never mutates the state it is given', () => {
    fc.assert(
      fc.property(restoreSequence(), (steps) => {
        let state = emptyState();
        for (const { payload, noflush } of steps) {
          const before = show(state);
          const frozen = structuredClone(state);
          const r = applyRestore(state, payload, { noflush });
          expect(show(state)).toBe(before);
          expect(state).toEqual(frozen);
          state = r.state;
        }
      }),
    );
  });

  it('is atomic per table: a one-table payload with one bad line changes nothing', () => {
    fc.assert(
      fc.property(restoreSequence(), fc.nat(), fc.nat(), (steps, at, which) => {
        let state = emptyState();
        for (const { payload, noflush } of steps) state = applyRestore(state, payload, { noflush }).state;
        const [last] = steps.slice(-1);
        const table = last?.payload.tables[0] ?? { name: 'filter' as const, chains: [], commands: [] };
        const bad = [
          { kind: 'append' as const, chain: 'NO-SUCH-CHAIN', args: ['-j', 'ACCEPT'] },
          { kind: 'delete' as const, chain: 'INPUT' },
          { kind: 'delete' as const, chain: 'NO-SUCH-CHAIN' },
        ][which % 3]!;
        const commands = [...table.commands];
        commands.splice(at % (commands.length + 1), 0, bad);
        const payload: Ruleset = { tables: [{ ...table, name: 'filter', commands }] };
        for (const noflush of [true, false]) {
          const r = applyRestore(state, payload, { noflush });
          expect(r.ok).toBe(false);
          expect(show(r.state)).toBe(show(state));
        }
      }),
    );
  });
});

describe('stateFromRuleset / stateToRuleset', () => {
  const save = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-PROXY-CANARY - [0:0]
COMMIT
*filter
:INPUT DROP [12:345]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:A - [0:0]
:KUBE-SERVICES - [0:0]
-A INPUT -j KUBE-SERVICES
-A A -j ACCEPT
-A KUBE-SERVICES -s 10.0.0.0/8 -j TPROXY-LIKE-UNKNOWN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
`;

  it('loads an iptables-save dump (unknown targets included) and prints it back identically', () => {
    expect(render(stateToRuleset(stateFromRuleset(parseRuleset(save))))).toBe(save);
  });

  it('puts tables, chains and rules in iptables-save order whatever the input order', () => {
    const shuffled = `*nat
:PREROUTING ACCEPT [0:0]
COMMIT
*filter
:KUBE-SERVICES - [0:0]
:A - [0:0]
:INPUT DROP [12:345]
-A KUBE-SERVICES -s 10.0.0.0/8 -j TPROXY-LIKE-UNKNOWN
-A A -j ACCEPT
-A INPUT -j KUBE-SERVICES
COMMIT
*mangle
:KUBE-PROXY-CANARY - [0:0]
COMMIT
`;
    expect(render(stateToRuleset(stateFromRuleset(parseRuleset(shuffled))))).toBe(save);
  });

  it('refuses a rule for a chain the dump does not declare', () => {
    expect(() => stateFromRuleset(parseRuleset('*filter\n-A NOPE -j ACCEPT\nCOMMIT\n'))).toThrow(/undeclared chain NOPE/);
  });

  it('agrees with applyRestore of the same dump without --noflush', () => {
    const parsed = parseRuleset(save.replace('TPROXY-LIKE-UNKNOWN', 'ACCEPT'));
    const r = applyRestore(emptyState(), parsed, { noflush: false, counters: true });
    expect(r.ok).toBe(true);
    expect(show(r.state)).toBe(show(stateFromRuleset(parsed)));
  });
});
