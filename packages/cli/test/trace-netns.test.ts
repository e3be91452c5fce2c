/**
 * The tracer reads a real node's dump the same way as our own text: every upstream case is compiled,
 * loaded into a fresh network namespace with iptables-restore (nft and legacy backends), given
 * kube-proxy's hook rules with `iptables -I` as kube-proxy installs them, read back with
 * iptables-save (which rewrites the rules: `/32` masks, `-p` before `-m tcp`, `--set-xmark`,
 * 11-digit probabilities, `--reject-with`), and every flow is traced over both texts: the outcomes
 * (verdict, place, destination, exact probability, SNAT, the deciding rules and the whole path, by
 * position) must be the same.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KUBE_PROXY_HOOKS, KUBE_PROXY_HOOK_RULES } from '@svcrules/core';
import {
  formatExact,
  hookRuleArgs,
  parseRuleset,
  tracePacket,
  type RuleRef,
  type Ruleset,
  type TraceResult,
} from '@svcrules/iptables';
import { FIXTURES, caseName, createNetns, deleteNetns, findCases, mustRunIn, kernelGate, readFlows, type PacketFlow } from '@svcrules/testkit';
import { run } from '../src/program.js';
import type { CliIO } from '../src/io.js';

const BACKENDS = [
  { name: 'nft', v4: 'iptables', v6: 'ip6tables' },
  { name: 'legacy', v4: 'iptables-legacy', v6: 'ip6tables-legacy' },
] as const;

const kernel = kernelGate([
  'ip',
  'nfacct',
  ...BACKENDS.flatMap((b) => [b.v4, `${b.v4}-save`, `${b.v4}-restore`, b.v6, `${b.v6}-save`, `${b.v6}-restore`]),
]);

async function compileCase(dir: string, args = readFileSync(join(dir, 'compile-args'), 'utf8').trim().split(/\s+/)): Promise<{ text: string; ipv6: boolean }> {
  let out = '';
  let err = '';
  const io: CliIO = {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    readFile: async (p) => readFileSync(resolve(dir, p), 'utf8'),
    cwd: dir,
    stdoutIsTTY: false,
    env: {},
  };
  const code = await run(['compile', ...args, 'input.yaml'], io);
  if (code !== 0) throw new Error(`compile ${caseName(dir)}: ${err}`);
  return { text: out, ipv6: args.includes('ipv6') };
}

/** Loads `text` into `ns` (replacing the tables it names), then kube-proxy's hooks, and returns iptables-save's view. */
function loadAndSave(ns: string, bin: string, text: string): string {
  mustRunIn(ns, `${bin}-restore`, [], { input: text });
  const compiled = parseRuleset(text);
  for (const h of KUBE_PROXY_HOOK_RULES) {
    // As the tracer does for restore text: only hooks into chains the payload declares.
    if (!compiled.tables.some((t) => t.name === h.table && t.chains.some((c) => c.name === h.target))) continue;
    mustRunIn(ns, bin, ['-w', '5', '-t', h.table, '-I', h.chain, ...hookRuleArgs(h)]);
  }
  return mustRunIn(ns, `${bin}-save`, []);
}

const ref = (r: RuleRef | null | undefined) => (r ? `${r.table} ${r.chain} #${r.index}` : null);

/** Everything about a trace except the rules' text (which iptables-save rewrites). */
function shape(r: TraceResult) {
  return r.outcomes.map((o) => ({
    verdict: o.verdict,
    delivery: o.delivery,
    destination: o.destination,
    probability: formatExact(o.probability),
    dnat: ref(o.dnat?.rule),
    masquerade: ref(o.masquerade?.rule),
    decidedBy: o.decidedBy === null ? null : 'rule' in o.decidedBy ? ref(o.decidedBy.rule) : 'policy' in o.decidedBy ? o.decidedBy.policy : o.decidedBy.routing,
    mark: o.mark,
    affinity: o.affinity.map((a) => `${a.name} ${a.op} ${a.seconds} ${a.matched} ${ref(a.rule)}`),
    path: o.events.map((e) => `${e.hook} ${ref(e.rule) ?? `${e.table} ${e.chain}`} ${e.effect}${e.target ? ` ${e.target}` : ''}${e.probability ? ` ${formatExact(e.probability)}` : ''}`),
  }));
}

function trace(ruleset: Ruleset, f: PacketFlow): TraceResult {
  const local = [...f.nodeIPs, '127.0.0.1', '::1'];
  return tracePacket(
    ruleset,
    { src: f.sourceIP, dst: f.destIP, protocol: f.protocol.toLowerCase() as 'tcp' | 'udp' | 'sctp', dport: f.destPort },
    { from: local.includes(f.sourceIP) ? 'node' : 'pod', localAddresses: local, hooks: KUBE_PROXY_HOOKS },
  );
}

// TestOverallIPTablesRules (the whole-dump golden) compiled with kube-proxy's real defaults (mark
// 0x00004000, --random-fully): every kind of rule, session affinity and source ranges included.
const OVERALL = join(FIXTURES, 'compile', 'upstream', 'TestOverallIPTablesRules');
const NODE_IPS = ['192.168.0.2', '192.168.1.2', '192.168.99.11'];
const flow = (name: string, sourceIP: string, destIP: string, destPort: number): PacketFlow => ({ name, sourceIP, protocol: 'TCP', destIP, destPort, output: '', masq: false, nodeIPs: NODE_IPS });
const OVERALL_FLOWS: PacketFlow[] = [
  ...['172.30.0.41', '172.30.0.42', '172.30.0.43', '172.30.0.44', '172.30.0.45', '172.30.0.46'].map((ip) => flow(`pod to ${ip}`, '10.0.0.2', ip, 80)),
  ...(
    [
      ['192.168.99.22', 80],
      ['1.2.3.4', 80],
      ['192.168.0.2', 3001],
      ['192.168.0.2', 3002],
      ['192.168.0.2', 3003],
      ['5.6.7.8', 80],
      ['192.168.99.33', 80],
      ['192.168.0.2', 30000],
    ] as const
  ).map(([ip, port]) => flow(`external to ${ip}:${port}`, '203.0.113.2', ip, port)),
  flow('blocked external to the LB IP', '203.0.113.130', '5.6.7.8', 80),
  flow('node to an eTP=Local external IP', '192.168.0.2', '192.168.99.22', 80),
  flow('node to an eTP=Local node port', '192.168.0.2', '192.168.0.2', 3001),
  flow('localhost node port', '127.0.0.1', '127.0.0.1', 3003),
  flow('hairpin', '10.180.0.4', '172.30.0.44', 80),
];

const cases = findCases(join(FIXTURES, 'trace', 'upstream'), 'flows.yaml').filter((d) => existsSync(join(d, 'input.yaml')));

for (const backend of BACKENDS) kernel.describe(`tracer over iptables-save of our rules in a netns (${backend.name} backend)`, () => {
  let ns = '';
  beforeAll(() => {
    ns = createNetns('trace');
    // kube-proxy's rules use these nfacct counters; the kernel refuses the rules without them.
    for (const c of ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts']) mustRunIn(ns, 'nfacct', ['add', c]);
  });
  afterAll(() => {
    if (ns) deleteNetns(ns);
  });

  test('there are cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  async function check(dir: string, flows: readonly PacketFlow[], args?: string[]) {
    const { text, ipv6 } = await compileCase(dir, args);
    const saved = loadAndSave(ns, ipv6 ? backend.v6 : backend.v4, text);
    const fromSave = parseRuleset(saved, { source: 'iptables-save' });
    const fromText = parseRuleset(text);
    // The dump really is iptables-save's rewrite, not our text.
    expect(saved).toMatch(/^# Generated by ip6?tables-save/);
    expect(saved).toContain(ipv6 ? '/128 ' : '/32 ');
    for (const f of flows) {
      const a = trace(fromText, f);
      const b = trace(fromSave, f);
      expect(b.addedHooks).toEqual([]);
      expect({ flow: f.name, outcomes: shape(b) }).toEqual({ flow: f.name, outcomes: shape(a) });
    }
    return saved;
  }

  test.each(cases.map((d) => [caseName(d), d]))('%s', async (_case, dir) => {
    await check(dir, readFlows(dir));
  });

  test('TestOverallIPTablesRules with real defaults (affinity, source ranges, localhost node ports)', async () => {
    const saved = await check(OVERALL, OVERALL_FLOWS, []);
    expect(saved).toMatch(/--set-xmark 0x4000\/0x4000|--or-mark 0x4000/);
    expect(saved).toContain('--mask 255.255.255.255 --rsource');
  });
});


