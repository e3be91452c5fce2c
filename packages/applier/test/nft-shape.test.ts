/**
 * The opt-in unrolled shape (shape.ts): every service chain's numgen verdict map becomes one rule
 * per endpoint, the nftables tracer finds the same endpoints with the same exact probabilities as
 * in kube-proxy's shape, and the applier's partial syncs land on the unrolled table.
 */
import { compileNFTables } from '@svcrules/core';
import { renderDump, tracePacketNft, type NftRuleset } from '@svcrules/nftables';
import { kubeProxyShapedRuleset, sortNFTablesTransaction } from '@svcrules/testkit';
import { createNftApplier, FakeNftHost, SVCRULES_NFT_CANARY, unrollEndpointMaps } from '../src/index.js';
import { endpoints, service, slice, snapshot } from './helpers.js';

const text = (rs: NftRuleset, chain: string) => rs.rules.filter((r) => r.chain === chain).map((r) => r.words.join(' '));

describe('unrollEndpointMaps', () => {
  test('one rule per endpoint, counting the modulus down; every other rule as it was', () => {
    const rs = kubeProxyShapedRuleset({ services: 3, endpoints: 3 });
    const out = unrollEndpointMaps(rs);
    const chain = rs.rules.find((r) => r.words[0] === 'numgen')!.chain;
    const eps = rs.chains.filter((c) => c.name.startsWith('endpoint-') && c.name.includes('ns0/')).map((c) => c.name);
    expect(text(out, chain).slice(1)).toEqual([`numgen random mod 3 == 0 goto ${eps[0]}`, `numgen random mod 2 == 0 goto ${eps[1]}`, `goto ${eps[2]}`]);
    expect(out.rules).toHaveLength(rs.rules.length + 3 * 2);
    expect(out.rules.filter((r) => !(r.chain.startsWith('service-') && r.words[0] === 'numgen' || r.words[0] === 'goto'))).toEqual(rs.rules.filter((r) => r.words[0] !== 'numgen'));
    expect(out.rules.some((r) => r.words.includes('vmap') && r.words.includes('{'))).toBe(false);
  });

  test('a verdict map it cannot read as one endpoint per value is left alone', () => {
    const rs = kubeProxyShapedRuleset({ services: 1, endpoints: 2 });
    const odd = (words: string) => ({ ...rs, rules: [...rs.rules.filter((r) => r.words[0] !== 'numgen'), { chain: rs.rules.find((r) => r.words[0] === 'numgen')!.chain, words: words.split(' ') }] });
    for (const w of ['numgen random mod 2 vmap { 1 : goto a , 0 : goto b }', 'numgen random mod 3 vmap { 0 : goto a , 1 : goto b }', 'numgen random mod 2 vmap { 0 : accept , 1 : goto b }']) {
      const rsOdd = odd(w);
      expect(unrollEndpointMaps(rsOdd)).toBe(rsOdd);
    }
    expect(unrollEndpointMaps({ ...rs, rules: rs.rules.filter((r) => r.words[0] !== 'numgen') }).rules).toHaveLength(rs.rules.length - 1);
  });

  test('the nftables tracer sends a connection to the same endpoints with the same probabilities', () => {
    const svc = service('ns1', 'web', '172.30.0.41', { sessionAffinity: 'ClientIP' });
    const plain = service('ns1', 'api', '172.30.0.42');
    const snap = snapshot([svc, plain], [slice(svc, endpoints(['10.180.0.1', '10.180.0.2', '10.180.0.3'])), slice(plain, endpoints(['10.180.0.4', '10.180.0.5', '10.180.0.6', '10.180.0.7']))]);
    const rs = compileNFTables(snap, { proxyMode: 'nftables' }).ruleset;
    const out = unrollEndpointMaps(rs);
    expect(out.rules.length).toBeGreaterThan(rs.rules.length);
    for (const dst of ['172.30.0.41', '172.30.0.42']) {
      const outcomes = (r: NftRuleset) =>
        tracePacketNft(r, { src: '10.180.0.99', dst, dport: 80, protocol: 'tcp' }, { from: 'pod', localAddresses: ['192.168.0.2'] })
          .outcomes.map((o) => JSON.stringify([o.dnat?.to ?? null, o.probability, o.verdict, o.given], (_, v: unknown) => (typeof v === "bigint" ? String(v) : v)))
          .sort();
      const before = outcomes(rs);
      expect(before.length).toBeGreaterThanOrEqual(3);
      expect(outcomes(out)).toEqual(before);
    }
  });
});

describe('the applier with unrollEndpointMaps', () => {
  test('full and partial syncs land on the unrolled table; diff compares unrolled tables', async () => {
    const host = new FakeNftHost();
    const applier = createNftApplier({ host, family: 'ipv4', unrollEndpointMaps: true });
    const canon = (rs: NftRuleset) => sortNFTablesTransaction(renderDump(rs));
    const held = () => {
      const rs = host.table('ip', 'kube-proxy')!;
      return canon({ ...rs, sets: rs.sets.filter((c) => c.name !== SVCRULES_NFT_CANARY), elements: rs.elements.filter((e) => e.container !== SVCRULES_NFT_CANARY) });
    };
    const a = kubeProxyShapedRuleset({ services: 3, endpoints: 2 });
    expect(await applier.apply(a)).toMatchObject({ mode: 'full', transactions: 1 });
    expect(held()).toBe(canon(unrollEndpointMaps(a)));
    const b = kubeProxyShapedRuleset({ services: 3, endpoints: 3, changed: 1 });
    expect(applier.diff(b).length).toBeGreaterThan(0);
    const r = await applier.apply(b);
    expect(r.mode).toBe('partial');
    expect(r.transaction).toContain('numgen random mod 3 == 0 goto endpoint-');
    expect(r.transaction).not.toContain('vmap {');
    expect(held()).toBe(canon({ ...unrollEndpointMaps(b), chains: [...b.chains, ...r.staleChainsFlushed.map((name) => ({ name }))] }));
    expect(applier.diff(b)).toEqual([]);
  });
});
