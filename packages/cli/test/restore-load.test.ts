/**
 * Every compile golden (fixtures/compile/** and examples/*, sorted or not: the order does not matter to
 * iptables-restore), with kube-proxy's hook rules added, loads with the REAL iptables-restore
 * (ip6tables-restore for `--family ipv6` cases) in one network namespace per family, which it creates and always
 * deletes. Each case is a full restore (no --noflush) of its filter and nat tables, so it starts from
 * empty tables whatever the previous case left; afterwards iptables-save must show exactly the chains
 * the payload leaves (declared minus `-X`) and as many rules per table as the payload appends.
 *
 * nfacct: `-m nfacct --nfacct-name X` needs the accounting object X to exist (the kernel refuses the
 * rule with ENOENT otherwise). nfacct objects are per network namespace, so the two counters kube-proxy
 * ensures are created inside the test namespace with `nfacct add`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hookLine, type HookRule } from '@svcrules/applier';
import { KUBE_PROXY_HOOK_RULES, NFACCT_COUNTERS } from '@svcrules/core';
import { FIXTURES, caseName, createNetns, deleteNetns, findCases, kernelGate, mustRunIn, repoRoot, runIn, type KernelGate } from '@svcrules/testkit';

type Family = 'ipv4' | 'ipv6';

interface LoadCase {
  readonly name: string;
  readonly family: Family;
  readonly golden: string;
}

/** The counters kube-proxy ensures at a full sync (metrics.*NFAcctCounter). */

const TOOLS: Record<Family, { restore: string; save: string }> = {
  ipv4: { restore: 'iptables-restore', save: 'iptables-save' },
  ipv6: { restore: 'ip6tables-restore', save: 'ip6tables-save' },
};

/** Every case whose cmd is a successful `compile`: its golden stdout and the family it was compiled for. */
function compileCases(): LoadCase[] {
  const dirs = [...findCases(join(FIXTURES, 'compile'), 'cmd'), ...findCases(join(repoRoot(), 'examples'), 'cmd')];
  const out: LoadCase[] = [];
  for (const dir of dirs) {
    const argv = readFileSync(join(dir, 'cmd'), 'utf8').trim().split(/\s+/);
    if (argv[0] !== 'compile' || existsSync(join(dir, 'expected.code'))) continue;
    const golden = readFileSync(join(dir, 'expected.out'), 'utf8');
    if (golden === '') continue;
    const f = argv.indexOf('--family');
    out.push({ name: caseName(dir), family: f >= 0 && argv[f + 1] === 'ipv6' ? 'ipv6' : 'ipv4', golden });
  }
  return out;
}

interface TableSummary {
  /** User chains left after the restore: declared, minus `-X`. */
  readonly chains: Set<string>;
  readonly appends: number;
}

/**
 * The restore input: the golden with kube-proxy's hook rules (proxier.go iptablesJumpChains and
 * iptablesKubeletJumpChains, docs/kube-proxy-rules.md 5.2) added to each table. kube-proxy
 * installs them with `-N <dst>` (EnsureChain) and `-I <src>` (position 1) before its restore; here a
 * `:<dst>` line stands for `-N` when the golden does not declare the chain (KUBE-FIREWALL without localhost
 * node ports, or for IPv6), and the jumps are appended in reverse order, which gives the order `-I` leaves
 * on a fresh host. Also returns what iptables-save must show afterwards.
 */
function withHooks(golden: string): { payload: string; tables: Map<string, TableSummary> } {
  const tables = new Map<string, TableSummary>();
  const out: string[] = [];
  let table = '';
  let head = 0; // index in `out` just after the `*table` line
  let summary: { chains: Set<string>; appends: number } = { chains: new Set(), appends: 0 };
  for (const line of golden.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1);
      summary = { chains: new Set(), appends: 0 };
      out.push(line);
      head = out.length;
      continue;
    }
    if (line.startsWith(':')) summary.chains.add(line.slice(1).split(' ')[0] ?? '');
    else if (line.startsWith('-X ')) summary.chains.delete(line.slice(3));
    else if (line.startsWith('-A ')) summary.appends++;
    else if (line === 'COMMIT') {
      const hooks: HookRule[] = KUBE_PROXY_HOOK_RULES.filter((h) => h.table === table);
      const ensured = [...new Set(hooks.map((h) => h.target))].filter((c) => !summary.chains.has(c));
      out.splice(head, 0, ...ensured.map((c) => `:${c} - [0:0]`));
      for (const c of ensured) summary.chains.add(c);
      out.push(...[...hooks].reverse().map(hookLine));
      summary.appends += hooks.length;
      tables.set(table, summary);
    }
    out.push(line);
  }
  return { payload: out.join('\n'), tables };
}

/** What `*-save` shows: user chains (policy '-') and `-A` lines per table. */
function parseSave(text: string): Map<string, TableSummary> {
  const tables = new Map<string, TableSummary>();
  let cur: { chains: Set<string>; appends: number } | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) tables.set(line.slice(1), (cur = { chains: new Set(), appends: 0 }));
    else if (cur && /^:\S+ - /.test(line)) cur.chains.add(line.slice(1).split(' ')[0] ?? '');
    else if (cur && line.startsWith('-A ')) cur.appends++;
  }
  return tables;
}

const cases = compileCases();
// The nfacct command is needed too: without the counters the kernel refuses kube-proxy's nfacct rules.
const gates: Record<Family, KernelGate> = {
  ipv4: kernelGate(['ip', 'nfacct', TOOLS.ipv4.restore, TOOLS.ipv4.save]),
  ipv6: kernelGate(['ip', 'nfacct', TOOLS.ipv6.restore, TOOLS.ipv6.save]),
};

describe('compile goldens load with the real iptables-restore (hook rules added, fresh netns)', () => {
  test('there are compile goldens of both families', () => {
    expect(cases.length).toBeGreaterThan(40);
    expect(cases.some((c) => c.family === 'ipv6')).toBe(true);
  });

  for (const family of ['ipv4', 'ipv6'] as const) {
    gates[family].describe(family, () => {
      const { restore, save } = TOOLS[family];
      let ns = '';

      beforeAll(() => {
        ns = createNetns(`restore-load-${family}`);
        for (const c of NFACCT_COUNTERS) mustRunIn(ns, 'nfacct', ['add', c]);
      });

      afterAll(() => {
        if (ns) deleteNetns(ns);
      });

      test('the nfacct counters exist in the test namespace (nfacct objects are per namespace)', () => {
        const list = mustRunIn(ns, 'nfacct', ['list']);
        for (const c of NFACCT_COUNTERS) expect(list).toContain(`= ${c};`);
      });

      test('control: a payload jumping to an undeclared chain is refused (the load check can fail)', () => {
        const c = cases.find((x) => x.family === family)!;
        const { payload } = withHooks(c.golden);
        const broken = payload.replace(/\nCOMMIT\n$/, '\n-A KUBE-SERVICES -j KUBE-SVC-UNDECLARED000000\nCOMMIT\n');
        expect(broken).not.toBe(payload);
        expect(runIn(ns, restore, [], { input: broken }).status).not.toBe(0);
      });

      test.each(cases.filter((c) => c.family === family).map((c) => [c.name, c] as const))('%s', (_name, c) => {
        const { payload, tables } = withHooks(c.golden);
        const r = runIn(ns, restore, [], { input: payload });
        expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });

        const saved = parseSave(mustRunIn(ns, save, []));
        expect(saved.get('nat')?.chains.has('KUBE-SERVICES')).toBe(true);
        expect(saved.get('filter')?.chains.has('KUBE-SERVICES')).toBe(true);
        for (const [table, want] of tables) {
          const got = saved.get(table);
          expect([table, got && [...got.chains].sort(), got?.appends]).toEqual([table, [...want.chains].sort(), want.appends]);
        }
      });
    });
  }
});
