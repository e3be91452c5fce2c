/**
 * The nftables applier against the fake host (knftables' Fake semantics, every transaction parsed
 * back from its text): kube-proxy's own TestSyncProxyRulesRepeated dumps reproduced sync by sync,
 * including the empty stale chains, and partial syncs that always land where a full sync lands.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { NftRuleset, Operation } from '@svcrules/nftables';
import { compileNFTables } from '@svcrules/core';
import { endpoints, service, slice, snapshot } from './helpers.js';
import { parseDump, renderDump } from '@svcrules/nftables';
import { FIXTURES, kubeProxyShapedRuleset, scaledRuns, sortNFTablesTransaction } from '@svcrules/testkit';
import {
  createNftApplier,
  diffNft,
  FakeNftHost,
  formatNftDiff,
  NftTableOwnedError,
  nftUdpServiceMap,
  parseNftState,
  serializeNftState,
  SVCRULES_NFT_CANARY,
  createExecNftHost,
  missingObject,
  NftTransactionError,
  type NftApplier,
  type Runner,
} from '../src/index.js';
import { fullSyncOperations, group, SERVICE_CHAINS_PER_TRANSACTION, stagedLoadOperations } from '../src/nft/plan.js';

const REPEATED = join(FIXTURES, 'compile-nft/upstream/TestSyncProxyRulesRepeated');
const expected = (n: number) => parseDump(readFileSync(join(REPEATED, `expected-${String(n).padStart(2, '0')}.nft`), 'utf8'));

/** A dump without the empty service chains nothing refers to: what a compiler would want at that step. */
function wanted(rs: NftRuleset): NftRuleset {
  const used = new Set<string>();
  for (const w of [...rs.rules.flatMap((r) => r.words), ...rs.elements.flatMap((e) => e.value ?? [])]) for (const x of w.split(' ')) used.add(x);
  const keep = (name: string) => !name.includes('/') || rs.rules.some((r) => r.chain === name) || used.has(name);
  return { ...rs, chains: rs.chains.filter((c) => keep(c.name)) };
}

/** The fake's table without our canary, normalised as kube-proxy's tests compare dumps. */
function tableText(host: FakeNftHost): string {
  const rs = host.table('ip', 'kube-proxy');
  if (rs === undefined) return '';
  return sortNFTablesTransaction(renderDump({ ...rs, sets: rs.sets.filter((c) => c.name !== SVCRULES_NFT_CANARY), elements: rs.elements.filter((e) => e.container !== SVCRULES_NFT_CANARY) }));
}

const canon = (rs: NftRuleset) => sortNFTablesTransaction(renderDump(rs));
/** `rs` with the chains a partial sync flushed and has not deleted yet (empty). */
const withStale = (rs: NftRuleset, flushed: readonly string[]) => ({ ...rs, chains: [...rs.chains, ...flushed.map((name) => ({ name }))] });

function setup(over: Partial<Parameters<typeof createNftApplier>[0]> = {}): { host: FakeNftHost; applier: NftApplier; clock: { now: number } } {
  const host = new FakeNftHost();
  const clock = { now: 1_000_000 };
  return { host, clock, applier: createNftApplier({ host, family: 'ipv4', clock: () => clock.now, ...over }) };
}

describe('kube-proxy TestSyncProxyRulesRepeated, sync by sync', () => {
  test('every dump, stale chains included, is what the table holds after that sync', async () => {
    const { host, applier, clock } = setup();
    // The test ages stale chains (ageStaleChains) before steps 03 and 07.
    const aged = new Set([3, 7]);
    const modes: string[] = [];
    for (let n = 0; n <= 9; n++) {
      if (aged.has(n)) clock.now += 2000;
      const r = await applier.apply(wanted(expected(n)));
      modes.push(r.mode);
      expect({ step: n, table: tableText(host) }).toEqual({ step: n, table: canon(expected(n)) });
    }
    expect(modes).toEqual(['full', ...Array(9).fill('partial')]);
  });

  test('a sync without a change runs no transaction; stale chains are deleted by a separate one a second later', async () => {
    const { host, applier, clock } = setup();
    await applier.apply(wanted(expected(1)));
    const r2 = await applier.apply(wanted(expected(2)));
    expect([...r2.staleChainsFlushed].sort()).toEqual(['endpoint-7RVP4LUQ-ns2/svc2/tcp/p8080__10.0.2.1/8080', 'service-MHHHYRWA-ns2/svc2/tcp/p8080']);
    const before = host.transactions.length;
    const same = await applier.apply(wanted(expected(2)));
    expect(same).toMatchObject({ mode: 'partial', transaction: '', applied: false, staleChainsDeleted: [] });
    expect(host.transactions.length).toBe(before);
    clock.now += 1000;
    const aged = await applier.apply(wanted(expected(3)));
    expect(aged.transaction).toBe('');
    expect([...aged.staleChainsDeleted].sort()).toEqual([...r2.staleChainsFlushed].sort());
    expect(host.transactions.at(-1)!.split('\n').filter(Boolean).every((l) => l.startsWith('delete chain ip kube-proxy '))).toBe(true);
  });
});

/** Small kube-proxy-shaped states: `n` Services with `e` endpoints, Service `moved`'s first endpoint moved. */
const shape = fc.record({ services: fc.integer({ min: 0, max: 6 }), endpoints: fc.integer({ min: 0, max: 3 }), changed: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }), generation: fc.integer({ min: 1, max: 3 }) });

describe('partial syncs land where a full sync lands', () => {
  test('after any sequence of states (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(shape, fc.boolean()), { minLength: 1, maxLength: 6 }), async (steps) => {
        const { host, applier, clock } = setup();
        for (const [s, wait] of steps) {
          if (wait) clock.now += 1500;
          await applier.apply(kubeProxyShapedRuleset(s));
        }
        // Age the last stale chains: the next (unchanged) sync deletes them.
        clock.now += 1500;
        const last = kubeProxyShapedRuleset(steps.at(-1)![0]);
        expect((await applier.apply(last)).mode).toBe('partial');
        const fresh = setup();
        await fresh.applier.apply(last);
        expect(tableText(host)).toBe(tableText(fresh.host));
        expect(tableText(host)).toBe(canon(last));
      }),
      { numRuns: scaledRuns(30, 10) },
    );
  });
});

describe('partial syncs from a state file land there too', () => {
  const identity = { family: 'ipv4', machine: 'm', boot: 'b', netns: 'n', iptables: 'nftables v1.0.6' } as const;
  test('each sync a new process that reads the previous one\'s state (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(shape, fc.boolean()), { minLength: 1, maxLength: 6 }), async (steps) => {
        const host = new FakeNftHost();
        const clock = { now: 1_000_000 };
        let saved: string | undefined;
        const sync = async (rs: NftRuleset) => {
          const applier = createNftApplier({ host, family: 'ipv4', clock: () => clock.now, state: { identity, saved: saved ? { state: parseNftState(saved) } : { reason: 'none yet' } } });
          const r = await applier.apply(rs);
          saved = serializeNftState(r.state!);
          return r;
        };
        for (const [s, wait] of steps) {
          if (wait) clock.now += 1500;
          await sync(kubeProxyShapedRuleset(s));
        }
        clock.now += 1500;
        const last = kubeProxyShapedRuleset(steps.at(-1)![0]);
        expect((await sync(last)).mode).toBe('partial');
        expect(tableText(host)).toBe(canon(last));
      }),
      { numRuns: scaledRuns(20, 8) },
    );
  });
});

describe('ownership, failures, dry runs', () => {
  const small = kubeProxyShapedRuleset({ services: 2, endpoints: 2 });

  test('a kube-proxy table without our canary is refused, and replaced with force', async () => {
    const { host, applier } = setup();
    await host.run(renderDump(expected(0)));
    await expect(applier.apply(small)).rejects.toThrow(NftTableOwnedError);
    expect(tableText(host)).toBe(canon(expected(0)));
    const forced = createNftApplier({ host, family: 'ipv4', force: true });
    expect((await forced.apply(small)).mode).toBe('full');
    expect(tableText(host)).toBe(canon(small));
  });

  test('a failed transaction changes nothing and makes the next sync full', async () => {
    const { host, applier } = setup();
    await applier.apply(small);
    host.failNext = 'injected';
    const next = kubeProxyShapedRuleset({ services: 3, endpoints: 2 });
    await expect(applier.apply(next)).rejects.toThrow(/injected/);
    expect(tableText(host)).toBe(canon(small));
    expect(applier.pendingFullSync).toMatch(/previous apply failed/);
    expect((await applier.apply(next)).mode).toBe('full');
    expect(tableText(host)).toBe(canon(next));
  });

  test('someone flushing or rewriting the table is noticed by the canary: the next sync is full', async () => {
    const { host, applier } = setup();
    await applier.apply(small);
    await host.run('flush table ip kube-proxy\n');
    const r = await applier.apply(small);
    expect(r.mode).toBe('full');
    expect(r.reason).toMatch(/written since the last apply/);
    expect(tableText(host)).toBe(canon(small));
  });

  test('a dry run checks the transaction and changes nothing', async () => {
    const { host, applier } = setup();
    await applier.apply(small);
    const next = kubeProxyShapedRuleset({ services: 2, endpoints: 2, changed: 1 });
    const dry = await applier.apply(next, { dryRun: true });
    expect(dry).toMatchObject({ mode: 'partial', applied: false });
    expect(dry.transaction).toContain('flush chain ip kube-proxy service-');
    expect(tableText(host)).toBe(canon(small));
    const withoutToken = (s: string) => s.replace(/svcrules:[0-9a-f]+/g, 'TOKEN');
    const applied = await applier.apply(next);
    expect(withoutToken(applied.transaction)).toBe(withoutToken(dry.transaction));
    expect(applied.staleChainsFlushed).toHaveLength(1);
    expect(tableText(host)).toBe(canon(withStale(next, applied.staleChainsFlushed)));
  });

  test('a first sync onto a host without the table runs in stages; no base chain has a rule before the last', async () => {
    const { host, applier } = setup({ stagedLoadAbove: 2 });
    const rs = kubeProxyShapedRuleset({ services: 3, endpoints: 2 });
    const baseChains = new Set(rs.chains.filter((c) => c.base !== undefined).map((c) => c.name));
    const r = await applier.apply(rs);
    expect(r.mode).toBe('full');
    // Declarations; the service chains' rules; the other regular chains' rules; base chains' rules and elements.
    expect(host.transactions).toHaveLength(4);
    expect(r.transactions).toBe(4);
    const [declare, services, fill, hookUp] = host.transactions.map((t) => t.split('\n').filter(Boolean));
    const chainOf = (l: string) => l.split(' ')[4]!;
    expect(declare!.every((l) => /^add (table|chain|set|map) /.test(l))).toBe(true);
    expect(services!.every((l) => l.startsWith('add rule ip kube-proxy service-'))).toBe(true);
    expect(fill!.every((l) => l.startsWith('add rule ') && !baseChains.has(chainOf(l)))).toBe(true);
    expect(hookUp!.every((l) => l.startsWith('add element ') || baseChains.has(chainOf(l)))).toBe(true);
    // Together they are the transaction a single full sync would run, without the table's delete.
    expect(r.transaction.split('\n').filter(Boolean).sort()).toEqual(host.transactions.join('').split('\n').filter(Boolean).sort());
    expect(tableText(host)).toBe(canon(rs));
    // At or below stagedLoadAbove service chains, one transaction.
    const small = setup({ stagedLoadAbove: 3 });
    await small.applier.apply(rs);
    expect(small.host.transactions).toHaveLength(1);
    expect((await small.applier.apply(rs)).transactions).toBe(0);
    // With the table there (ours), a full sync is one transaction that replaces it.
    const again = await applier.apply(rs, { full: true });
    expect(host.transactions).toHaveLength(5);
    expect(again.transaction).toMatch(/^add table ip kube-proxy\ndelete table ip kube-proxy\n/);
    expect(tableText(host)).toBe(canon(rs));
  });

  test('a staged first sync puts at most SERVICE_CHAINS_PER_TRANSACTION service chains in a transaction, each chain whole', () => {
    const rs = kubeProxyShapedRuleset({ services: 2 * SERVICE_CHAINS_PER_TRANSACTION + 1, endpoints: 1 });
    const stages = stagedLoadOperations(group(rs));
    const serviceChains = (ops: readonly Operation[]) => new Set(ops.flatMap((o) => (o.kind === 'rule' && o.verb === 'add' && o.rule.chain.startsWith('service-') && o.rule.chain.includes('/') ? [o.rule.chain] : [])));
    expect(stages.map((ops) => serviceChains(ops).size)).toEqual([0, SERVICE_CHAINS_PER_TRANSACTION, SERVICE_CHAINS_PER_TRANSACTION, 1, 0, 0]);
    expect(stages.flat()).toHaveLength(fullSyncOperations(group(rs)).length - 2);
  });

  test('a staged first sync that fails half-way leaves unreachable leftovers of ours, replaced by the next full sync', async () => {
    const inner = new FakeNftHost();
    let runs = 0;
    const host = Object.assign(Object.create(inner) as FakeNftHost, {
      run: (text: string, o?: { check?: boolean }) => (++runs === 2 ? Promise.reject(new NftTransactionError('nft -f -', 1, 'injected', '', 'injected')) : inner.run(text, o)),
    });
    const applier = createNftApplier({ host, family: 'ipv4', stagedLoadAbove: 0 });
    const rs = kubeProxyShapedRuleset({ services: 2, endpoints: 2 });
    await expect(applier.apply(rs)).rejects.toThrow(/injected/);
    const left = inner.table('ip', 'kube-proxy')!;
    expect(left.rules).toEqual([]);
    expect(left.sets.map((s) => s.name)).toContain(SVCRULES_NFT_CANARY);
    const r = await applier.apply(rs);
    expect(r).toMatchObject({ mode: 'full', reason: expect.stringMatching(/previous apply failed/) });
    expect(r.transaction).toMatch(/^add table ip kube-proxy\ndelete table ip kube-proxy\n/);
    expect(tableText(inner)).toBe(canon(rs));
  });

  test('only the kube-proxy table of its own family', async () => {
    const { applier } = setup();
    await expect(applier.apply({ ...small, table: { family: 'ip6', name: 'kube-proxy' } })).rejects.toThrow(/loads table ip kube-proxy/);
    await expect(applier.apply({ ...small, table: { family: 'ip', name: 'filter' } })).rejects.toThrow(/not ip filter/);
  });
});

describe('state file', () => {
  test('a second process continues partially from the saved state, and a foreign write is noticed', async () => {
    const identity = { family: 'ipv4', machine: 'm', boot: 'b', netns: 'n', iptables: 'nftables v1.0.6' } as const;
    const host = new FakeNftHost();
    const first = createNftApplier({ host, family: 'ipv4', state: { identity, saved: { reason: 'no state file' } } });
    const r1 = await first.apply(kubeProxyShapedRuleset({ services: 3, endpoints: 2 }));
    const text = serializeNftState(r1.state!);
    expect(serializeNftState(parseNftState(text))).toBe(text);
    const second = createNftApplier({ host, family: 'ipv4', state: { identity, saved: { state: parseNftState(text) } } });
    const next = kubeProxyShapedRuleset({ services: 3, endpoints: 2, changed: 0 });
    expect(formatNftDiff(second.diff(next), false)).toMatch(/^chain service-\S+ns0\/svc0\/tcp\/p80 \(changed\)$/m);
    const r2 = await second.apply(next);
    expect(r2.mode).toBe('partial');
    expect(r2.operations).toBeLessThan(12);
    expect(tableText(host)).toBe(canon(withStale(next, r2.staleChainsFlushed)));
    const stale = createNftApplier({ host, family: 'ipv4', state: { identity, saved: { state: parseNftState(text) } } });
    expect((await stale.apply(next)).reason).toMatch(/written since the last apply/);
    expect(() => parseNftState(text.replace('\tservice-', '\tservicX-'))).toThrow(/checksum/);
  });
});

describe('diff and conntrack', () => {
  test('diff lists objects with + and - lines', () => {
    const a = kubeProxyShapedRuleset({ services: 2, endpoints: 1 });
    const b = kubeProxyShapedRuleset({ services: 1, endpoints: 1, changed: 0 });
    const text = formatNftDiff(diffNft(a, b), false);
    expect(text).toMatch(/^chain endpoint-\S+ns0\/svc0\/tcp\/p80__10\.255\.1\.1\/80 \(new\)$/m);
    expect(text).toMatch(/^chain service-\S+ns1\/svc1\/tcp\/p80 \(deleted\)$/m);
    expect(text).toMatch(/^- add element ip kube-proxy cluster-ips \{ 172\.30\.0\.1 \}$/m);
    expect(text).toMatch(/^\+ add rule ip kube-proxy service-\S+ns0\/svc0\/tcp\/p80 numgen random mod 1 vmap \{ 0 : goto endpoint-\S+10\.255\.1\.1\/80 \}$/m);
    expect(diffNft(a, a)).toEqual([]);
  });

  test('UDP frontends and their endpoints are read from the table; removed ones are cleaned after the change', async () => {
    const udp = parseDump(readFileSync(join(FIXTURES, 'compile-nft/upstream/TestOverallNFTablesRules/expected.nft'), 'utf8'));
    const asUdp: NftRuleset = {
      ...udp,
      elements: udp.elements.map((e) => (e.container === 'service-ips' && e.key[1] === 'tcp' ? { ...e, key: [e.key[0]!, 'udp', e.key[2]!] } : e)),
    };
    const map = nftUdpServiceMap(asUdp);
    expect(map.get('172.30.0.41:80')?.endpoints).toEqual(new Set(['10.180.0.1:80']));
    const flows: string[] = [];
    const { applier } = setup({ conntrack: async (f) => (flows.push(...f.map((x) => `${x.frontend.ip}:${x.frontend.port}->${x.endpoint}`)), []) });
    await applier.apply(asUdp);
    const without = { ...asUdp, elements: asUdp.elements.filter((e) => !(e.container === 'service-ips' && e.key[0] === '172.30.0.41')) };
    const r = await applier.apply(without);
    expect(r.staleUdpFlows.map((f) => f.endpoint)).toEqual(['10.180.0.1:80']);
    expect(flows).toEqual(['172.30.0.41:80->10.180.0.1:80']);
  });
});

describe('the exec host', () => {
  test('tells a missing table from a missing set by what nft underlines', () => {
    const err = (cmd: string, at: number, n: number) => `Error: No such file or directory\n${cmd}\n${' '.repeat(at)}${'^'.repeat(n)}\n`;
    expect(missingObject(err('list set ip kube-proxy svcrules-canary', 12, 10), 'kube-proxy')).toBe('table');
    expect(missingObject(err('list set ip kube-proxy svcrules-canary', 23, 15), 'kube-proxy')).toBe('set');
    expect(missingObject('Error: something else\n', 'kube-proxy')).toBe('set');
  });

  test('runs nft -f - (nft -c -f - for checks) with the text on stdin, and names the failing line', async () => {
    const calls: string[] = [];
    const runner: Runner = async (cmd, args, o) => {
      calls.push(`${cmd} ${args.join(' ')} <${o?.stdin?.split('\n').length ?? 0}`);
      if (args.includes('-c')) return { code: 0, stdout: '', stderr: '' };
      return { code: 1, stdout: '', stderr: '/dev/stdin:2:27-32: Error: Could not process rule: No such file or directory\nflush chain ip kube-proxy nosuch\n                          ^^^^^^\n' };
    };
    const host = createExecNftHost({ runner, netns: 'ns1' });
    await host.run('add table ip kube-proxy\nflush chain ip kube-proxy nosuch\n', { check: true });
    const err = await host.run('add table ip kube-proxy\nflush chain ip kube-proxy nosuch\n').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftTransactionError);
    expect(err).toMatchObject({ line: 2, reason: 'Could not process rule: No such file or directory' });
    expect((err as Error).message).toContain('> 2 | flush chain ip kube-proxy nosuch');
    expect(calls).toEqual(['ip netns exec ns1 nft -c -f - <3', 'ip netns exec ns1 nft -f - <3']);
  });
});

describe('with the nftables compiler', () => {
  test('compiled tables of a changing cluster: every partial sync lands on the compiled table', async () => {
    const { host, applier, clock } = setup();
    const svc1 = service('ns1', 'svc1', '172.30.0.41', { sessionAffinity: 'ClientIP' });
    const dns = service('kube-system', 'dns', '172.30.0.10', { ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 0 }] });
    const lb = service('ns2', 'lb', '172.30.0.42', { type: 'LoadBalancer', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30080 }], loadBalancerIngress: [{ ip: '1.2.3.4' }], loadBalancerSourceRanges: ['203.0.113.0/25'] });
    const states = [
      snapshot([svc1, dns, lb], [slice(svc1, endpoints(['10.180.0.1', '10.180.0.2'])), slice(dns, endpoints(['10.180.0.6', '10.180.0.7'])), slice(lb, endpoints(['10.180.0.4']))]),
      snapshot([svc1, dns], [slice(svc1, endpoints(['10.180.0.2'])), slice(dns, endpoints(['10.180.0.7']))]),
      snapshot([svc1, dns, lb], [slice(svc1, []), slice(dns, endpoints(['10.180.0.7', '10.180.0.8'])), slice(lb, endpoints(['10.180.0.5']))]),
    ];
    const modes: string[] = [];
    const udp: string[] = [];
    for (const snap of states) {
      clock.now += 1500;
      const rs = compileNFTables(snap).ruleset;
      const r = await applier.apply(rs);
      modes.push(r.mode);
      udp.push(...r.staleUdpFlows.map((f) => `${f.frontend.ip}:${f.frontend.port}->${f.endpoint}`));
      expect(tableText(host)).toBe(canon(withStale(rs, [...(host.table('ip', 'kube-proxy')?.chains ?? [])].filter((c) => c.name.includes('/') && !rs.chains.some((d) => d.name === c.name)).map((c) => c.name))));
    }
    expect(modes).toEqual(['full', 'partial', 'partial']);
    // dns lost 10.180.0.6: its UDP conntrack entries are stale.
    expect(udp).toEqual(['172.30.0.10:53->10.180.0.6:53']);
  });
});
