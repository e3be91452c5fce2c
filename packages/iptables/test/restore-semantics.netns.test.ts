/**
 * The restore model against the real iptables-restore: generated runs (mostly --noflush, some
 * without) over a small universe of chains, applied in a fresh network namespace and to the model;
 * after each run both agree on success and on the whole state (iptables-save → parse → state).
 */
import fc from 'fast-check';
import { createNetns, deleteNetns, kernelGate, mustRunIn, runIn, scaledRuns } from '@svcrules/testkit';
import type { Ruleset } from '../src/ir.js';
import { parseRuleset } from '../src/parse.js';
import { render } from '../src/render.js';
import { type Backend, type NetfilterState, applyRestore, emptyState, stateFromRuleset, stateToRuleset } from '../src/restore-semantics.js';
import { toSaveForm } from '../src/save-form.js';
import { restoreSequence } from './restore-arb.js';

const TOOLS: Record<Backend, [string, string]> = {
  nft: ['iptables-restore', 'iptables-save'],
  legacy: ['iptables-legacy-restore', 'iptables-legacy-save'],
};

const kernel = kernelGate(['ip', ...Object.values(TOOLS).flat()]);
const d = kernel.describe;

/** A state as text, rules in the form iptables-save prints them, tables sorted by name. */
function canonical(state: NetfilterState): string {
  const r = stateToRuleset(state);
  const tables = [...r.tables]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((t) => ({ ...t, commands: t.commands.map((c) => (c.kind === 'append' ? { ...c, args: toSaveForm(c.args, 'IPv4') } : c)) }));
  return render({ tables });
}

function realState(ns: string, save: string): NetfilterState {
  const text = mustRunIn(ns, save, []);
  return stateFromRuleset(parseRuleset(text, { source: save }));
}

d('applyRestore agrees with the real iptables-restore', () => {
  for (const backend of ['nft', 'legacy'] as const) {
    it(`${backend}: generated runs`, () => {
      const [restore, save] = TOOLS[backend];
      fc.assert(
        fc.property(restoreSequence(5), (steps) => {
          const ns = createNetns('restore');
          try {
            let model = emptyState();
            steps.forEach(({ payload, noflush }, i) => {
              const text = render(payload);
              const real = runIn(ns, restore, noflush ? ['--noflush'] : [], { input: text });
              const r = applyRestore(model, payload, { noflush, backend });
              const context = `step ${i} (${noflush ? '--noflush' : 'flush'}):\n${text}real: ${real.status} ${real.stderr.trim()}\nmodel: ${r.ok ? 'ok' : r.error.message}`;
              expect({ context, ok: real.status === 0 }).toEqual({ context, ok: r.ok });
              model = r.state;
              expect({ context, state: canonical(realState(ns, save)) }).toEqual({ context, state: canonical(model) });
            });
          } finally {
            deleteNetns(ns);
          }
        }),
        // One network namespace per case: few runs, scaled with FC_NUM_RUNS.
        { numRuns: scaledRuns(8, 2) },
      );
    });
  }

  it('nft: the partial payload kube-proxy writes on a sync keeps untouched chains and deletes stale ones', () => {
    const ns = createNetns('restore');
    try {
      const full: Ruleset = parseRuleset(`*nat
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SEP-A - [0:0]
:KUBE-SVC-B - [0:0]
:KUBE-SEP-B - [0:0]
-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m comment --comment "ns/a:p cluster IP" -m tcp -p tcp -d 172.30.0.1 --dport 80 -j KUBE-SVC-A
-A KUBE-SERVICES -m comment --comment "ns/b:p cluster IP" -m tcp -p tcp -d 172.30.0.2 --dport 80 -j KUBE-SVC-B
-A KUBE-SVC-A -j KUBE-SEP-A
-A KUBE-SEP-A -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
-A KUBE-SVC-B -j KUBE-SEP-B
-A KUBE-SEP-B -m tcp -p tcp -j DNAT --to-destination 10.180.0.2:80
COMMIT
`);
      const partial: Ruleset = parseRuleset(`*nat
:KUBE-SERVICES - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-SVC-B - [0:0]
:KUBE-SEP-B - [0:0]
-A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
-A KUBE-SERVICES -m comment --comment "ns/a:p cluster IP" -m tcp -p tcp -d 172.30.0.1 --dport 80 -j KUBE-SVC-A
-X KUBE-SVC-B
-X KUBE-SEP-B
COMMIT
`);
      let model = emptyState();
      for (const payload of [full, partial]) {
        expect(runIn(ns, 'iptables-restore', ['--noflush'], { input: render(payload) }).stderr).toBe('');
        const r = applyRestore(model, payload, { noflush: true });
        expect(r.ok).toBe(true);
        model = r.state;
        expect(canonical(realState(ns, 'iptables-save'))).toBe(canonical(model));
      }
      expect(canonical(model)).toContain('-A KUBE-SVC-A -j KUBE-SEP-A');
      expect(canonical(model)).not.toContain('KUBE-SVC-B');
    } finally {
      deleteNetns(ns);
    }
  });
});
