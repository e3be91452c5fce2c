/**
 * fixtures/parse/<case>/: real iptables-save dumps.
 *
 *   source.rules    restore input we wrote (kube-proxy shaped)
 *   tool            "<IPv4|IPv6> <nft|legacy> [counters]": how the dump was made
 *   dump.rules      what iptables-save [-c] printed after iptables-restore [--counters] < source.rules
 *                   in a fresh network namespace (golden: rewritten only with UPDATE_GOLDEN=1)
 *   expected.rules  render(parseRuleset(dump.rules)) (golden)
 *
 * The dump is also remade in a network namespace and compared (comment lines aside), so a change in
 * the tools' printing shows up here (a kernel test: see testkit's kernelGate).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createNetns, deleteNetns, mustRunIn, kernelGate, readGolden, updatingGoldens } from '@svcrules/testkit';
import type { Ruleset } from '../src/ir.js';
import { parseRuleset } from '../src/parse.js';
import { render } from '../src/render.js';
import { stateFromRuleset, stateToRuleset } from '../src/restore-semantics.js';
import type { IPFamily } from '@svcrules/netaddr';
import { toSaveForm } from '../src/save-form.js';
import { NFACCT_COUNTERS } from '@svcrules/core';

const root = join(__dirname, '../../../fixtures/parse');
const cases = readdirSync(root).filter((c) => existsSync(join(root, c, 'source.rules')));

const TOOLS = {
  nft: { IPv4: ['iptables-restore', 'iptables-save'], IPv6: ['ip6tables-restore', 'ip6tables-save'] },
  legacy: { IPv4: ['iptables-legacy-restore', 'iptables-legacy-save'], IPv6: ['ip6tables-legacy-restore', 'ip6tables-legacy-save'] },
} as const;

const kernel = kernelGate(['ip', 'nfacct', ...Object.values(TOOLS).flatMap((t) => [...t.IPv4, ...t.IPv6])]);

interface Tool {
  readonly family: IPFamily;
  readonly backend: 'nft' | 'legacy';
  readonly counters: boolean;
}

function readTool(dir: string): Tool {
  const [family, backend, ...flags] = readFileSync(join(dir, 'tool'), 'utf8').trim().split(/\s+/);
  if ((family !== 'IPv4' && family !== 'IPv6') || (backend !== 'nft' && backend !== 'legacy')) throw new Error(`${dir}/tool: bad line`);
  return { family, backend, counters: flags.includes('counters') };
}

function makeDump(source: string, tool: Tool): string {
  const [restore, save] = TOOLS[tool.backend][tool.family];
  const ns = createNetns('parsefix');
  try {
    for (const n of NFACCT_COUNTERS) mustRunIn(ns, 'nfacct', ['add', n]);
    mustRunIn(ns, restore, tool.counters ? ['--counters'] : [], { input: source });
    return mustRunIn(ns, save, tool.counters ? ['-c'] : []);
  } finally {
    deleteNetns(ns);
  }
}

const withoutComments = (text: string): string => text.split('\n').filter((l) => !l.startsWith('#')).join('\n');

/** table → chain → rule args, in order. */
function rulesByChain(r: Ruleset): Map<string, string[][]> {
  const m = new Map<string, string[][]>();
  for (const t of r.tables) {
    for (const c of t.commands) {
      if (c.kind !== 'append') continue;
      const key = `${t.name} ${c.chain}`;
      if (!m.has(key)) m.set(key, []);
      m.get(key)!.push([...c.args]);
    }
  }
  return m;
}

describe.each(cases)('fixtures/parse/%s', (name) => {
  const dir = join(root, name);
  const tool = readTool(dir);
  const source = readFileSync(join(dir, 'source.rules'), 'utf8');

  const dumpPath = join(dir, 'dump.rules');
  let dump: string | undefined = existsSync(dumpPath) ? readFileSync(dumpPath, 'utf8') : undefined;
  if (updatingGoldens() && kernel.decision === 'run') dump = readGolden(dumpPath, makeDump(source, tool));
  else {
    kernel.test('the tools still print the committed dump', () => {
      expect(withoutComments(makeDump(source, tool))).toBe(withoutComments(dump ?? ''));
    });
  }

  it('has a dump', () => {
    expect(dump).toBeDefined();
  });
  if (dump === undefined) return;
  const parsed = parseRuleset(dump, { source: dumpPath });

  it('renders as expected.rules', () => {
    const actual = render(parsed);
    const expected = readGolden(join(dir, 'expected.rules'), actual);
    expect(expected).toBeDefined();
    expect(actual).toBe(expected);
  });

  it('holds every source rule, in the form toSaveForm predicts, chain by chain', () => {
    const want = rulesByChain(parseRuleset(source));
    for (const [key, rules] of want) want.set(key, rules.map((args) => toSaveForm(args, tool.family)));
    expect(rulesByChain(parsed)).toEqual(want);
  });

  if (tool.backend === 'nft') {
    it('is in the order the restore model prints a state (nft iptables-save order)', () => {
      expect(render(stateToRuleset(stateFromRuleset(parsed)))).toBe(render(parsed));
    });
  }
});
