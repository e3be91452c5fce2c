/**
 * save-form against the real tools: kube-proxy-shaped and freely composed rules are loaded into a
 * fresh network namespace with iptables-restore and read back with iptables-save; every printed
 * line must equal toSaveLine(ours). nft (default) and legacy backends, IPv4 and IPv6.
 * FC_SEED=<n> replays a run; SAVEFORM_EXHAUSTIVE=1 also checks --probability for k = 1..100000.
 */
import fc from 'fast-check';
import { kernelGate, mustRunIn, parseSeed, runIn, scaledRuns, withNetns } from '@svcrules/testkit';
import type { Ruleset } from '../src/ir.js';
import { append, chainDecl } from '../src/ir.js';
import { render } from '../src/render.js';
import type { IPFamily } from '@svcrules/netaddr';
import { toSaveForm, toSaveLine } from '../src/save-form.js';
import { tokenize } from '../src/tokenize.js';
import { NFACCT_COUNTERS, probability } from '@svcrules/core';
import { type GeneratedRule, JUMP_CHAINS, composedRule, kubeProxyRule } from './kube-rules.js';

const BACKENDS = {
  nft: { IPv4: ['iptables-restore', 'iptables-save'], IPv6: ['ip6tables-restore', 'ip6tables-save'] },
  legacy: { IPv4: ['iptables-legacy-restore', 'iptables-legacy-save'], IPv6: ['ip6tables-legacy-restore', 'ip6tables-legacy-save'] },
} as const;
type BackendName = keyof typeof BACKENDS;

const kernel = kernelGate(['ip', 'nfacct', ...Object.values(BACKENDS).flatMap((b) => [...b.IPv4, ...b.IPv6])]);
const d = kernel.describe;

const seed = parseSeed(process.env['FC_SEED']) ?? Date.now() % 2147483647;
// One restore per sample, so many rules per case are cheap.
const samples = scaledRuns(400, 100);

/** Loads the rules into chain T of their tables and returns what iptables-save prints for T, per table. */
function roundTrip(ns: string, backend: BackendName, family: IPFamily, rules: readonly GeneratedRule[]): Record<'filter' | 'nat', string[]> {
  const [restore, save] = BACKENDS[backend][family];
  const chains = ['T', ...JUMP_CHAINS].map(chainDecl);
  const ruleset: Ruleset = {
    tables: (['filter', 'nat'] as const).map((name) => ({ name, chains, commands: rules.filter((r) => r.table === name).map((r) => append('T', r.args)) })),
  };
  const text = render(ruleset);
  const r = runIn(ns, restore, [], { input: text });
  if (r.status !== 0) {
    const line = /line:? (\d+)/.exec(r.stderr)?.[1];
    throw new Error(`${restore} failed (seed ${seed}): ${r.stderr.trim()}${line ? `\n  line ${line}: ${text.split('\n')[Number(line) - 1]}` : ''}`);
  }
  const out: Record<'filter' | 'nat', string[]> = { filter: [], nat: [] };
  let table: string | undefined;
  for (const l of mustRunIn(ns, save, []).split('\n')) {
    if (l.startsWith('*')) table = l.slice(1);
    else if (l.startsWith('-A T ') && (table === 'filter' || table === 'nat')) out[table].push(l);
  }
  return out;
}

function expectSameAsSave(ns: string, backend: BackendName, family: IPFamily, rules: readonly GeneratedRule[]): void {
  const saved = roundTrip(ns, backend, family, rules);
  for (const table of ['filter', 'nat'] as const) {
    const ours = rules.filter((r) => r.table === table);
    const expected = ours.map((r) => toSaveLine('T', r.args, family));
    expect({ seed, table, lines: saved[table] }).toEqual({ seed, table, lines: expected });
    ours.forEach((r, i) => expect(tokenize(saved[table][i]!).slice(2)).toEqual(toSaveForm(r.args, family)));
  }
}

function inNetns(fn: (ns: string) => void): Promise<void> {
  return withNetns((ns) => {
    for (const n of NFACCT_COUNTERS) mustRunIn(ns, 'nfacct', ['add', n]);
    fn(ns);
  }, 'saveform');
}

d('toSaveLine equals what iptables-save prints', () => {
  for (const backend of ['nft', 'legacy'] as const) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      it(`${backend} ${family}: kube-proxy rule shapes`, () =>
        inNetns((ns) => expectSameAsSave(ns, backend, family, fc.sample(kubeProxyRule(family), { numRuns: samples, seed }))));
      it(`${backend} ${family}: freely composed rules`, () =>
        inNetns((ns) => expectSameAsSave(ns, backend, family, fc.sample(composedRule(family), { numRuns: samples, seed: seed + 1 }))));
    }
  }

  it('nft IPv4: --probability of kube-proxy for k = 1..2000, the powers of two and their neighbours', () => {
    const ks = new Set<number>();
    for (let k = 1; k <= 2000; k++) ks.add(k);
    for (let n = 0; n <= 17; n++) for (const k of [2 ** n - 1, 2 ** n, 2 ** n + 1]) if (k >= 1 && k <= 100000) ks.add(k);
    for (const k of [3000, 4095, 4097, 9999, 10000, 33333, 65535, 99999, 100000]) ks.add(k);
    const rules = [...ks].map((k): GeneratedRule => ({ table: 'nat', args: ['-m', 'statistic', '--mode', 'random', '--probability', probability(k), '-j', 'C'] }));
    return inNetns((ns) => expectSameAsSave(ns, 'nft', 'IPv4', rules));
  });

  const exhaustive = process.env['SAVEFORM_EXHAUSTIVE'] === '1';
  (exhaustive ? it : it.skip)(
    `nft IPv4: --probability of kube-proxy for every k = 1..100000${exhaustive ? '' : ' [skipped: opt-in, SAVEFORM_EXHAUSTIVE=1]'}`,
    () => {
      const rules = Array.from({ length: 100000 }, (_, i): GeneratedRule => ({ table: 'nat', args: ['-m', 'statistic', '--mode', 'random', '--probability', probability(i + 1), '-j', 'C'] }));
      return inNetns((ns) => expectSameAsSave(ns, 'nft', 'IPv4', rules));
    },
    600_000,
  );
});
