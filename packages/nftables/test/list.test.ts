/**
 * Reading a host's ruleset: `nft list ruleset` text and `nft -j list ruleset` JSON, as the real nft
 * printed them (fixtures/trace-nft/real, see SOURCES), give the same tables, and the same traces;
 * for kube-proxy's upstream dumps, the same traces as the Dump() text they were loaded from.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { formatExact } from '@svcrules/iptables';
import { FIXTURES } from '@svcrules/testkit';
import { NftJsonError, NftParseError, detectRulesetFormat, parseDump, parseListText, parseRuleset, tracePacketNft, type NftRuleset, type NftTraceResult } from '../src/index.js';

const REAL = join(FIXTURES, 'trace-nft', 'real');
const read = (f: string): string => readFileSync(join(REAL, f), 'utf8');
const hosts = readdirSync(REAL)
  .filter((f) => f.endsWith('.list'))
  .map((f) => f.slice(0, -'.list'.length))
  .sort();

function outline(rs: readonly NftRuleset[]): unknown {
  return rs.map((r) => ({
    table: `${r.table.family} ${r.table.name}`,
    chains: r.chains.map((c) => `${c.name}${c.base ? ` ${c.base.type}/${c.base.hook}/${c.base.priority}/${c.policy ?? 'accept'}` : ''}`).sort(),
    rules: r.rules.map((x) => `${x.chain}#${x.handle}`),
    // nft -j leaves `dynamic` out of a set's flags where the text lists it (nft 1.0.6).
    sets: [...r.sets, ...r.maps].map((s) => `${s.name} ${s.type.join('.')} ${s.flags?.filter((f) => f !== 'dynamic').join(',') ?? ''} ${s.timeout ?? ''}`).sort(),
    elements: r.elements.map((e) => `${e.container}: ${e.key.join(' . ')}${e.value ? ` : ${e.value.join(' . ')}` : ''}${e.comment ? ` "${e.comment}"` : ''}`).sort(),
  }));
}

function brief(r: NftTraceResult): string[] {
  return r.outcomes.map((o) => `${formatExact(o.probability)} ${o.verdict} ${o.destination} ${o.masquerade ? 'masq' : ''} ${o.reject?.with ?? ''} ${o.given.map((g) => `${g.holds}:${g.key}`).join(',')} ${o.stoppedAt?.why ?? ''}`);
}

const FLOWS = [
  { src: '10.0.0.2', dst: '172.30.0.41', dport: 80, from: 'pod' },
  { src: '10.0.0.2', dst: '172.30.0.44', dport: 80, from: 'pod' },
  { src: '203.0.113.2', dst: '5.6.7.8', dport: 80, from: 'external' },
  { src: '203.0.113.200', dst: '5.6.7.8', dport: 80, from: 'external' },
  { src: '10.0.0.2', dst: '172.30.0.46', dport: 80, from: 'pod' },
  { src: '10.0.0.2', dst: '172.30.0.41', dport: 81, from: 'pod' },
  { src: '10.0.0.2', dst: '172.30.0.99', dport: 80, from: 'pod' },
  { src: '203.0.113.2', dst: '192.168.0.2', dport: 3001, from: 'external' },
  { src: '203.0.113.2', dst: '192.168.0.2', dport: 3002, from: 'external' },
  { src: '192.168.0.2', dst: '192.168.0.2', dport: 3003, from: 'node' },
  { src: '203.0.113.2', dst: '192.168.0.2', dport: 22, from: 'external' },
  { src: '203.0.113.2', dst: '192.168.0.2', dport: 8080, from: 'external', inInterface: 'eth0' },
  { src: '203.0.113.2', dst: '192.168.0.2', dport: 2222, from: 'external', inInterface: 'wan' },
  { src: '203.0.113.2', dst: '192.168.0.9', dport: 443, from: 'external', inInterface: 'wan', outInterface: 'br-lan' },
] as const;

function traces(rs: readonly NftRuleset[]): string[][] {
  return FLOWS.map(({ from, ...p }) => brief(tracePacketNft(rs, { protocol: 'tcp', ...p }, { from, localAddresses: ['192.168.0.2', '192.168.1.2', '192.168.99.11'] })));
}

describe('nft list ruleset and nft -j list ruleset from the real nft', () => {
  test('the fixtures are there', () => {
    expect(hosts).toEqual(['docker', 'fw4', 'ipv6-service', 'kube-proxy-TestBadIPs', 'kube-proxy-TestOverallNFTablesRules', 'rhel8']);
  });

  test.each(hosts)('%s: text and JSON read to the same tables and trace the same', (host) => {
    const text = parseRuleset(read(`${host}.list`));
    const json = parseRuleset(read(`${host}.json`));
    expect([text.format, json.format]).toEqual(['list', 'json']);
    expect(text.rulesets.length).toBeGreaterThan(0);
    expect(outline(json.rulesets)).toEqual(outline(text.rulesets));
    expect(traces(json.rulesets)).toEqual(traces(text.rulesets));
  });

  test.each(hosts.filter((h) => h.startsWith('kube-proxy-')))('%s: the listing traces as the upstream Dump() it was loaded from', (host) => {
    const test = host.slice('kube-proxy-'.length);
    const dump = parseDump(readFileSync(join(FIXTURES, 'compile-nft', 'upstream', test, 'expected.nft'), 'utf8'));
    const listed = parseRuleset(read(`${host}.list`));
    expect(listed.rulesets).toHaveLength(1);
    expect(traces(listed.rulesets)).toEqual(traces([dump]));
    // Same rules, chain by chain, once nft's spelling is accounted for by tracing; same elements.
    expect(listed.rulesets[0]!.rules).toHaveLength(dump.rules.length);
    expect(listed.rulesets[0]!.elements).toHaveLength(dump.elements.length);
  });

  test('what the listing carries: handles, priorities by name, policies, timeouts, intervals, element comments', () => {
    const kp = parseListText(read('kube-proxy-TestOverallNFTablesRules.list')).rulesets[0]!;
    expect(kp.chains.find((c) => c.name === 'filter-prerouting-pre-dnat')?.base).toEqual({ type: 'filter', hook: 'prerouting', priority: -110 });
    expect(kp.chains.find((c) => c.name === 'nat-postrouting')?.base).toEqual({ type: 'nat', hook: 'postrouting', priority: 100 });
    expect(kp.sets.find((s) => s.name.startsWith('affinity-'))).toMatchObject({ flags: ['dynamic', 'timeout'], timeout: 10800 });
    expect(kp.elements.find((e) => e.container === 'no-endpoint-services' && e.key[0] === '172.30.0.46')).toEqual({
      container: 'no-endpoint-services',
      key: ['172.30.0.46', 'tcp', '80'],
      comment: 'ns6/svc6:p80',
      value: ['goto reject-chain'],
    });
    expect(kp.rules.find((r) => r.chain === 'masquerading')).toMatchObject({ words: ['meta', 'mark', '&', '0x00004000', '==', '0x00000000', 'return'], handle: 76 });
    const fw4 = parseListText(read('fw4.list')).rulesets[0]!;
    expect(fw4.chains.find((c) => c.name === 'input')).toMatchObject({ policy: 'drop' });
    expect(fw4.elements.filter((e) => e.container === 'blocked4').map((e) => e.key[0])).toEqual(['198.51.100.0/24', '203.0.113.128/25']);
    expect(fw4.rules[0]).toMatchObject({ words: ['iif', '"lo"', 'accept'], comment: 'accept traffic from loopback' });
  });

  test.each(['list', 'json'])('IPv6 (%s): bracketed DNAT targets, exact halves, icmpv6 reject, prefix drop', (form) => {
    const rs = parseRuleset(read(`ipv6-service.${form}`)).rulesets;
    const t = (dst: string, dport: number) =>
      tracePacketNft(rs, { src: 'fd00:10::2', dst, dport, protocol: 'tcp' }, { from: 'pod', localAddresses: ['2001:db8::1'] }).outcomes.map(
        (o) => `${formatExact(o.probability)} ${o.verdict} ${o.destination} ${o.reject?.with ?? ''}`,
      );
    expect(t('fd00:172:30::41', 80)).toEqual(['1/2 ACCEPT [fd00:10:180::1]:80 ', '1/2 ACCEPT [fd00:10:180::2:1]:8080 ']);
    expect(t('fd00:172:30::41', 81)).toEqual(['1 REJECT [fd00:172:30::41]:81 icmp6-adm-prohibited']);
    expect(t('fd00:172:30::99', 80)).toEqual(['1 DROP [fd00:172:30::99]:80 ']);
    // An IPv4 packet does not see an ip6 table at all.
    expect(tracePacketNft(rs, { src: '10.0.0.2', dst: '172.30.0.41', dport: 80, protocol: 'tcp' }, { from: 'pod', localAddresses: [] }).baseChains).toEqual([]);
  });

  test("a policy-drop forward chain of another table (docker's) drops forwarded Service traffic from a pod", () => {
    const kp = parseDump(readFileSync(join(FIXTURES, 'compile-nft', 'upstream', 'TestOverallNFTablesRules', 'expected.nft'), 'utf8'));
    const docker = parseRuleset(read('docker.list')).rulesets;
    const packet = { src: '10.0.0.2', dst: '172.30.0.41', dport: 80, protocol: 'tcp', inInterface: 'veth1' } as const;
    const alone = tracePacketNft([kp], packet, { from: 'pod', localAddresses: ['192.168.0.2'] });
    expect(alone.outcomes.map((o) => [o.verdict, o.destination])).toEqual([['ACCEPT', '10.180.0.1:80']]);
    const r = tracePacketNft([kp, ...docker], packet, { from: 'pod', localAddresses: ['192.168.0.2'] });
    expect(r.outcomes.map((o) => [o.verdict, o.destination, o.given.map((g) => `${g.holds}:${g.key}`)])).toEqual([
      ['DROP', '10.180.0.1:80', ['true:out=docker0']],
      ['DROP', '10.180.0.1:80', ['false:out=docker0']],
    ]);
    expect(r.outcomes[1]!.decidedBy).toEqual({ policy: { table: 'ip filter', chain: 'FORWARD', policy: 'drop' } });
    // kube-proxy's DNAT happened first (ip kube-proxy nat-prerouting), Docker's nat chain had nothing to add.
    expect(r.outcomes[1]!.events.filter((e) => e.effect === 'dnat').map((e) => e.table)).toEqual(['ip kube-proxy']);
  });
});

describe('format detection and errors', () => {
  test('detects JSON, list text and knftables dumps', () => {
    expect(detectRulesetFormat('\n{"nftables": []}')).toBe('json');
    expect(detectRulesetFormat('# comment\ntable ip t {\n}\n')).toBe('list');
    expect(detectRulesetFormat('add table ip kube-proxy\n')).toBe('dump');
    expect(parseRuleset('add table ip kube-proxy\nadd chain ip kube-proxy c\n').rulesets[0]!.chains).toEqual([{ name: 'c' }]);
  });

  test('skips tables outside the IP families, and blocks it does not need', () => {
    const r = parseListText('table bridge b {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n\t}\n}\ntable ip t {\n\tflowtable f {\n\t\thook ingress priority filter\n\t\tdevices = { eth0 }\n\t}\n}\n');
    expect(r.skipped).toEqual(['bridge b']);
    expect(r.rulesets.map((x) => x.table)).toEqual([{ family: 'ip', name: 't' }]);
  });

  test('errors name the line and column', () => {
    const err = (text: string): string => {
      try {
        parseListText(text);
      } catch (e) {
        expect(e).toBeInstanceOf(NftParseError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err('table ip t {\n\tchain c {\n\t\ttype filter hook input priority bogus; policy accept;\n\t}\n}\n')).toBe('3:35: unknown priority name "bogus"');
    expect(err('table ip t {\n\tchain c {\n')).toBe('2:2: chain c not closed');
    expect(err('tabel ip t {\n}\n')).toBe('1:1: expected `table FAMILY NAME {`');
    expect(err('table ip t {\n\tiifname "x\n}\n')).toBe('2:10: unterminated string');
    expect(() => parseRuleset('{"nftables": 3}')).toThrow(NftJsonError);
    expect(() => parseRuleset('{"nftables": [{"chain": {"family": "ip", "table": "t", "name": "c"}}]}')).toThrow('nftables[0]: table ip t is not listed before it');
  });
});
