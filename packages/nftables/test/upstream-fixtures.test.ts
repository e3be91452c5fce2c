/**
 * kube-proxy's whole-dump nftables goldens (fixtures/compile-nft/upstream): each parses, every name
 * it uses is declared, and the model keeps every line (after kube-proxy's own normaliser, the dump
 * re-rendered from the parsed table is the golden). No compiler yet: nothing here produces them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, caseName, findCases, sortNFTablesTransaction } from '@svcrules/testkit';
import { applyTransaction } from '../src/apply.js';
import { parseDump } from '../src/index.js';
import { parseTransaction } from '../src/parse.js';
import { renderDump } from '../src/render.js';

const ROOT = join(FIXTURES, 'compile-nft', 'upstream');
const cases = findCases(ROOT, 'NOTES');
const dumps = cases.flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.nft'))
    .map((f) => [caseName(join(dir, f)), readFileSync(join(dir, f), 'utf8')] as const),
);
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

describe('fixtures/compile-nft/upstream', () => {
  test('the four tests are there, with every dump of TestSyncProxyRulesRepeated', () => {
    expect(cases.map((c) => c.slice(ROOT.length + 1))).toEqual(['TestBadIPs', 'TestOverallNFTablesRules', 'TestSyncProxyRulesRepeated', 'TestSyncProxyRulesStartup']);
    expect(dumps).toHaveLength(14);
  });

  test.each(dumps)('%s parses, names only what it declares, and re-renders to the same normalised dump', (_name, text) => {
    const rs = parseDump(text);
    const again = renderDump(rs);
    expect(sortNFTablesTransaction(again)).toBe(sortNFTablesTransaction(text));
    expect(renderDump(parseDump(again))).toBe(again);
    // Dump() order needs no reordering: applied line by line, every reference is already there.
    expect(applyTransaction(undefined, parseTransaction(again))).toEqual(parseDump(again));
  });

  test('in the order the test writes it, TestOverallNFTablesRules names chains before adding them (why output uses Dump() order)', () => {
    expect(() => applyTransaction(undefined, parseTransaction(read('TestOverallNFTablesRules/expected.nft')))).toThrow(/no such chain endpoint-5OJB2KTY-ns1\/svc1\/tcp\/p80__10.180.0.1\/80/);
  });

  test('what the goldens pin, read from the parsed tables', () => {
    const overall = parseDump(read('TestOverallNFTablesRules/expected.nft'));
    // 16 fixed chains; svc1 2, svc2 3 (external, no local), svc3 3, svc4 4 (two endpoints), svc5 4 (firewall), svc6 none
    expect(overall.chains).toHaveLength(16 + 2 + 3 + 3 + 4 + 4);
    expect(overall.sets.map((s) => s.name)).toEqual(['cluster-ips', 'nodeport-ips', 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80']);
    expect(overall.sets[2]).toEqual({ name: 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80', type: ['ipv4_addr'], flags: ['dynamic', 'timeout'], timeout: 10800 });
    expect(overall.elements.filter((e) => e.container === 'no-endpoint-services').map((e) => [e.key.join(' . '), e.comment, e.value?.join(' . ')])).toEqual([
      ['1.2.3.4 . tcp . 80', 'ns2/svc2:p80', 'drop'],
      ['192.168.99.22 . tcp . 80', 'ns2/svc2:p80', 'drop'],
      ['172.30.0.46 . tcp . 80', 'ns6/svc6:p80', 'goto reject-chain'],
    ]);
    // The restart dump is the one a first sync of the same objects writes on an empty table.
    expect(sortNFTablesTransaction(read('TestSyncProxyRulesStartup/expected.nft'))).toContain('numgen random mod 2 vmap { 0 : goto endpoint-5TPGNJF2-ns1/svc1/tcp/p80__10.0.1.1/80 , 1 : goto endpoint-ZCZBVNAZ-ns1/svc1/tcp/p80__10.0.1.2/80 }');
    // The test compares steps 07 and 09 with the same text; 02, 06 and 08 keep empty stale chains.
    expect(read('TestSyncProxyRulesRepeated/expected-09.nft')).toBe(read('TestSyncProxyRulesRepeated/expected-07.nft'));
    const empty = (f: string) => {
      const rs = parseDump(read(`TestSyncProxyRulesRepeated/${f}`));
      return rs.chains.filter((c) => c.name.includes('/') && !rs.rules.some((r) => r.chain === c.name)).map((c) => c.name);
    };
    expect(empty('expected-02.nft')).toEqual(['service-MHHHYRWA-ns2/svc2/tcp/p8080', 'endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080']);
    expect(empty('expected-03.nft')).toEqual([]);
    expect(empty('expected-06.nft')).toEqual(['endpoint-2OCDJSZQ-ns3/svc3/tcp/p80__10.0.3.1/80']);
    expect(empty('expected-08.nft')).toHaveLength(3);
  });
});
