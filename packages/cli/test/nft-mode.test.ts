/**
 * nftables mode in the CLI without a kernel: `trace --mode nftables` on a snapshot, `trace --rules`
 * telling iptables text from nft's three forms, `--node-state` with an nft listing, and the usage
 * errors of `apply`/`diff`/`cleanup --mode nftables` (refused before any host is touched).
 * The kernel side is apply-nft-kernel.test.ts (no namespace is made here: `--netns=NAME` below only
 * names bad or missing ones).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, repoRoot } from '@svcrules/testkit';
import type { TraceJson } from '../src/commands/trace.js';
import { isIptablesText } from '../src/commands/trace-nft.js';
import { nftApplySummary } from '../src/commands/apply-nft.js';
import { runCli } from './run-cli.js';

const EXAMPLE = join(repoRoot(), 'examples', 'basic');
const REAL = join(FIXTURES, 'trace-nft', 'real');
const OVERALL = join(FIXTURES, 'compile-nft', 'upstream', 'TestOverallNFTablesRules');

async function traceJson(argv: string[], dir: string, files?: Record<string, string>): Promise<TraceJson> {
  const r = await runCli(['trace', '--json', ...argv], dir, files ? { files } : {});
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
  return JSON.parse(r.out) as TraceJson;
}

/** What a trace decides, per outcome. */
const brief = (t: TraceJson) => t.outcomes.map((o) => `${o.verdict} ${o.destination} ${o.probability.exact} masquerade=${o.masquerade !== null}`);

describe('trace --mode nftables', () => {
  test('a snapshot compiled in nftables mode: numgen split in exact thirds, nft tables and lower-case hooks', async () => {
    const t = await traceJson(['--mode', 'nftables', '--src', '10.244.1.99', '--dst', '10.96.10.10:80', 'services.yaml'], EXAMPLE);
    expect(brief(t)).toEqual(['ACCEPT 10.244.1.5:8080 1/3 masquerade=false', 'ACCEPT 10.244.2.7:8080 1/3 masquerade=false', 'ACCEPT 10.244.3.9:8080 1/3 masquerade=false']);
    expect(t.rules).toEqual({ from: 'compiled (nftables mode) from services.yaml', node: 'node-1', addedHooks: [] });
    expect(t.outcomes[0]!.path.map((e) => `${e.hook} ${e.table} ${e.chain}`)).toContain('prerouting ip kube-proxy nat-prerouting');
    expect(t.outcomes[0]!.dnat!.rule.chain).toMatch(/^endpoint-[A-Z0-9]{8}-default\/web\/tcp\/http__10\.244\.1\.5\/8080$/);
    expect(t.outcomes[0]!.reasons).toEqual([`DNAT to 10.244.1.5:8080 (on node node-1) (ip kube-proxy ${t.outcomes[0]!.dnat!.rule.chain} rule 2)`]);
    expect(t.summary).toEqual(['load-balanced over 3 endpoints: 10.244.1.5:8080 33.3%, 10.244.2.7:8080 33.3%, 10.244.3.9:8080 33.3%']);
  });

  test('text output: the same shape as iptables mode', async () => {
    const r = await runCli(['trace', '--mode', 'nftables', '--src', '10.244.1.99', '--dst', '10.96.10.10:80', 'services.yaml'], EXAMPLE);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^packet  tcp 10\.244\.1\.99 -> 10\.96\.10\.10:80, from a pod \(nat PREROUTING first\)\nrules   compiled \(nftables mode\) from services\.yaml for node node-1\n/);
    expect(r.out).toContain('\n  ip kube-proxy masquerading\n    mark and 0x00004000 == 0 return\n  masquerade: no, by mark and 0x00004000 == 0 return\n');
    expect(r.out).toContain('\nresult\n  10.244.1.5:8080   33.3%  masquerade: no\n');
  });

  test('a cluster IP port the Service does not serve is rejected in nftables mode (iptables mode lets it through)', async () => {
    const nft = await traceJson(['--mode', 'nftables', '--src', '10.244.1.99', '--dst', '10.96.10.10:81', 'services.yaml'], EXAMPLE);
    expect(nft.outcomes.map((o) => [o.verdict, o.reject?.tcp])).toEqual([['REJECT', 'ECONNREFUSED']]);
    expect(nft.outcomes[0]!.reasons[0]).toMatch(/^ip kube-proxy cluster-ips-check rule \d+ .*→ REJECT: /);
    const ipt = await traceJson(['--src', '10.244.1.99', '--dst', '10.96.10.10:81', 'services.yaml'], EXAMPLE);
    expect(ipt.outcomes.map((o) => o.verdict)).toEqual(['ACCEPT']);
  });
});

describe('trace --rules: the format is told by the text', () => {
  const flow = ['--src', '10.180.0.2', '--dst', '172.30.0.44:80', '--from', 'pod', '--local-address', '192.168.0.2'];
  const dump = readFileSync(join(OVERALL, 'expected.nft'), 'utf8');

  test('nft list ruleset text, nft -j JSON and a knftables dump trace alike (kube-proxy TestOverallNFTablesRules)', async () => {
    const files = { 'r.list': readFileSync(join(REAL, 'kube-proxy-TestOverallNFTablesRules.list'), 'utf8'), 'r.json': readFileSync(join(REAL, 'kube-proxy-TestOverallNFTablesRules.json'), 'utf8'), 'r.nft': dump };
    const traces = await Promise.all(['r.list', 'r.json', 'r.nft'].map((f) => traceJson(['--rules', f, ...flow], OVERALL, files)));
    expect(brief(traces[0]!)).toEqual(['ACCEPT 10.180.0.4:80 1/2 masquerade=false', 'ACCEPT 10.180.0.5:80 1/2 masquerade=false']);
    expect(brief(traces[1]!)).toEqual(brief(traces[0]!));
    expect(brief(traces[2]!)).toEqual(brief(traces[0]!));
    // Listings carry nft handles; the printers show the same rule text.
    expect(traces[0]!.outcomes[0]!.dnat!.rule.text).toBe(traces[2]!.outcomes[0]!.dnat!.rule.text);
    expect(traces[0]!.rules.from).toBe('read from r.list');
  });

  test('iptables-save text still goes to the iptables tracer', async () => {
    const files = { 'n.rules': readFileSync(join(FIXTURES, 'trace', 'node-dump', 'node.rules'), 'utf8') };
    const t = await traceJson(['--rules', 'n.rules', '--src', '203.0.113.5', '--dst', '192.168.0.10:30036', '--local-address', '192.168.0.10'], EXAMPLE, files);
    expect(t.outcomes.every((o) => o.path.every((e) => e.hook === e.hook.toUpperCase() && !e.table.includes(' ')))).toBe(true);
  });

  test.each([
    ['*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', true],
    ['# Generated by iptables-save v1.8.9\n*filter\n', true],
    [':KUBE-SERVICES - [0:0]\n', true],
    ['-A KUBE-SERVICES -j RETURN\n', true],
    ['table ip kube-proxy {\n}\n', false],
    ['{"nftables": []}', false],
    ['add table ip kube-proxy\n', false],
  ])('isIptablesText(%j) = %s', (text, want) => expect(isIptablesText(text)).toBe(want));

  test('a broken nft text names the file', async () => {
    const r = await runCli(['trace', '--rules', 'bad.nft', ...flow], OVERALL, { files: { 'bad.nft': 'add table ip kube-proxy\nadd chain ip kube-proxy\n' } });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^svcrules: bad\.nft: /);
    expect(r.out).toBe('');
  });
});

describe('trace --mode nftables --node-state', () => {
  const json = readFileSync(join(REAL, 'kube-proxy-TestOverallNFTablesRules.json'), 'utf8');
  const state = (extra: Record<string, unknown>) =>
    JSON.stringify({ kind: 'svcrules-node-state', version: 1, netns: null, iptablesSave: '*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n', ip6tablesSave: null, ipAddress: [], ipRoute4: [], ipRoute6: [], ipsetSave: null, sysctls: {}, missing: [], ...extra });
  const flow = ['--src', '10.180.0.2', '--dst', '172.30.0.44:80', '--from', 'pod', '--local-address', '192.168.0.2'];

  test("the node's nft -j listing is traced", async () => {
    const t = await traceJson(['--mode', 'nftables', '--node-state', 'ns.json', ...flow], OVERALL, { 'ns.json': state({ nftRuleset: json }) });
    expect(brief(t)).toEqual(['ACCEPT 10.180.0.4:80 1/2 masquerade=false', 'ACCEPT 10.180.0.5:80 1/2 masquerade=false']);
    expect(t.rules.from).toBe('nft -j list ruleset in ns.json');
    // The same file in iptables mode traces its iptables-save (no kube-proxy rules in it).
    const ipt = await traceJson(['--node-state', 'ns.json', ...flow], OVERALL, { 'ns.json': state({ nftRuleset: json }) });
    expect(ipt.outcomes.map((o) => [o.verdict, o.dnat])).toEqual([['ACCEPT', null]]);
  });

  test('a node state captured without nft (or by an older svcrules) is refused in nftables mode', async () => {
    for (const extra of [{}, { nftRuleset: null }]) {
      const r = await runCli(['trace', '--mode', 'nftables', '--node-state', 'ns.json', ...flow], OVERALL, { files: { 'ns.json': state(extra) } });
      expect(r).toEqual({ code: 1, out: '', err: 'svcrules: ns.json: holds no nft -j list ruleset output (captured by an older svcrules node-state, or nft failed: see its "missing")\n' });
    }
  });
});

describe('apply, diff and cleanup --mode nftables: refused before the host is touched', () => {
  const empty = { 'empty.yaml': 'apiVersion: v1\nkind: List\nitems: []\n' };
  test.each([
    [['apply', '--mode', 'nftables', '--replace-tables', 'services.yaml'], 2, 'svcrules: --replace-tables is an iptables-mode option; it has no meaning with --mode nftables\n'],
    [['apply', '--mode', 'nftables', '--explain-host'], 2, 'svcrules: --explain-host is an iptables-mode option; it has no meaning with --mode nftables\n'],
    [['apply', '--mode', 'nftables', '--backend', 'legacy', 'services.yaml'], 2, 'svcrules: --backend is an iptables-mode option; it has no meaning with --mode nftables\n'],
    [['diff', '--mode', 'nftables', '--wait', '3', 'services.yaml'], 2, 'svcrules: --wait is an iptables-mode option; it has no meaning with --mode nftables\n'],
    [['apply', '--mode', 'nftables', '--netns=bad/name', 'services.yaml'], 2, 'svcrules: --netns: "bad/name" is not a network namespace name\n'],
    [['diff', '--mode', 'nftables', '--netns=svcr-no-such-ns-0', 'services.yaml'], 2, 'svcrules: --netns svcr-no-such-ns-0: no such network namespace (ip netns list)\n'],
    [['diff', '--state', 'x.state', 'services.yaml'], 2, 'svcrules: --state and --no-state are for --mode nftables (iptables diff reads the host)\n'],
    [['cleanup', '--netns=x'], 2, "error: required option '--mode <mode>' not specified\n"],
    [['cleanup', '--mode', 'ipvs'], 2, "error: option '--mode <mode>' argument 'ipvs' is invalid. Allowed choices are nftables, iptables.\n"],
    [['cleanup', '--mode', 'nftables', '--backend', 'legacy'], 2, 'svcrules: --backend is an iptables-mode option; it has no meaning with --mode nftables\n'],
    [['cleanup', '--mode', 'iptables', '--netns=bad/name'], 2, 'svcrules: --netns: "bad/name" is not a network namespace name\n'],
  ])('%j', async (argv, code, err) => {
    const r = await runCli(argv, EXAMPLE);
    expect(r).toEqual({ code, out: '', err });
  });

  test('an input without any Service is refused unless --allow-empty, as in iptables mode', async () => {
    for (const cmd of ['apply', 'diff']) {
      const r = await runCli([cmd, '--mode', 'nftables', 'empty.yaml'], EXAMPLE, { files: empty });
      expect(r).toEqual({ code: 1, out: '', err: 'svcrules: the input has no Service: this would delete every service chain (--allow-empty to do it anyway)\n' });
    }
  });
});

describe('apply --mode nftables: the summary line', () => {
  const r = { family: 'ipv4', mode: 'full', reason: 'no state file s', transaction: 'add table ip kube-proxy\n', operations: 120, transactions: 1, staleChainsFlushed: [], staleChainsDeleted: [] } as const;
  test('says how many nft transactions the sync took (a staged first sync takes several)', () => {
    expect(nftApplySummary(r)).toBe('ipv4: full sync (no state file s); 120 nft operations in one transaction\n');
    expect(nftApplySummary({ ...r, transactions: 7 })).toBe('ipv4: full sync (no state file s); 120 nft operations in 7 transactions\n');
    expect(nftApplySummary({ ...r, mode: 'partial', reason: undefined, transaction: '', operations: 0, transactions: 0 })).toBe('ipv4: partial sync; nothing to change\n');
  });
});
