import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, findCases } from '@svcrules/testkit';
import {
  isNftAffinitySet,
  isNftServiceChain,
  nftEndpointChainBase,
  nftEndpointNames,
  nftHashAndTruncate,
  nftServiceChainNames,
  nftServicePortChainBase,
} from '../../src/kube-proxy/nft-names.js';

const LONG_NS = 'very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx';
const LONG_SVC = 'very-long-service-name-why-would-you-even-do-this-i-mean-really';
const LONG_PORT = 'port-443-providing-the-hypertext-transmission-protocol-with-tls';
const LONG = `${LONG_NS}/${LONG_SVC}/sctp/${LONG_PORT}`;

describe('nftables chain names (pkg/proxy/nftables proxier_test.go)', () => {
  // Test_servicePortChainNameBase, verbatim.
  test.each([
    ['testing', 'service', 'tcp', 'http', 'P4ZYZVCF-testing/service/tcp/http'],
    ['testing', 'service', 'tcp', 'https', 'LZBRENCP-testing/service/tcp/https'],
    [LONG_NS, LONG_SVC, 'sctp', LONG_PORT, `KR6NACJP-${LONG}`],
  ])('service port %s/%s/%s/%s -> %s', (ns, name, proto, port, expected) => {
    expect(nftServicePortChainBase(ns, name, proto, port)).toBe(expected);
  });

  // Test_servicePortEndpointChainNameBase, verbatim.
  test.each([
    ['testing', 'service', 'http', '10.180.0.1:80', 'JO2XBXZR-testing/service/tcp/http__10.180.0.1/80'],
    ['testing', 'service', 'http', '10.180.0.2:80', '5S6H3H22-testing/service/tcp/http__10.180.0.2/80'],
    ['testing', 'service', 'http', '[fd80:abcd:12::a1b2:c3d4:e5f6:9999]:80', 'U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80'],
  ])('endpoint %s/%s/tcp/%s %s -> %s', (ns, name, port, ep, expected) => {
    expect(nftEndpointChainBase(ns, name, 'tcp', port, ep)).toBe(expected);
  });

  test('an endpoint base of exactly 240 characters is kept whole', () => {
    const base = nftEndpointChainBase(LONG_NS, LONG_SVC, 'sctp', LONG_PORT, '[1234:5678:9abc:def0::abc:1234]:443');
    expect(base).toBe(`5YS7AFEA-${LONG}__1234.5678.9abc.def0..abc.1234/443`);
    expect(base).toHaveLength(240);
  });

  test('a longer one is cut to 237 characters and "...", the hash still telling endpoints apart', () => {
    const tail = `${LONG}__1234.5678.9abc.def0..abcd.1234...`;
    const a = nftEndpointChainBase(LONG_NS, LONG_SVC, 'sctp', LONG_PORT, '[1234:5678:9abc:def0::abcd:1234:5678]:443');
    const b = nftEndpointChainBase(LONG_NS, LONG_SVC, 'sctp', LONG_PORT, '[1234:5678:9abc:def0::abcd:1234:8765]:443');
    expect(a).toBe(`CI6C53Q3-${tail}`);
    expect(b).toBe(`2FLXFK6X-${tail}`);
    expect(a).toHaveLength(240);
  });

  test('an unnamed port leaves a trailing slash; prefixes of the four service chains and the endpoint objects', () => {
    const base = nftServicePortChainBase('ns1', 'svc1', 'tcp', 'p80');
    expect(base).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
    expect(nftServiceChainNames(base)).toEqual({
      service: 'service-ULMVA6XW-ns1/svc1/tcp/p80',
      local: 'local-ULMVA6XW-ns1/svc1/tcp/p80',
      external: 'external-ULMVA6XW-ns1/svc1/tcp/p80',
      firewall: 'firewall-ULMVA6XW-ns1/svc1/tcp/p80',
    });
    expect(nftEndpointNames(nftEndpointChainBase('ns5', 'svc5', 'tcp', 'p80', '10.180.0.3:80'))).toEqual({
      chain: 'endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80',
      affinitySet: 'affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80',
    });
    expect(nftServicePortChainBase('ns7', 'svc7', 'udp', '')).toMatch(/^[A-Z2-7]{8}-ns7\/svc7\/udp\/$/);
    expect(nftEndpointChainBase('ns1', 'svc1', 'tcp', 'p80', '[fd00:10:180::1]:80')).toBe('ZVRFLKHO-ns1/svc1/tcp/p80__fd00.10.180..1/80');
  });

  test('service chains are the names with a slash; affinity sets the affinity- names', () => {
    expect(isNftServiceChain('endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80')).toBe(true);
    expect(isNftServiceChain('service-endpoints-check')).toBe(false);
    expect(isNftAffinitySet('affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80')).toBe(true);
    expect(isNftAffinitySet('cluster-ips')).toBe(false);
  });

  test('nftHashAndTruncate hashes the readable name itself', () => {
    expect(nftHashAndTruncate('ns1/svc1/tcp/p80')).toBe('ULMVA6XW-ns1/svc1/tcp/p80');
  });
});

// Every hash-named object in kube-proxy's whole-dump goldens, recomputed from its readable part:
// checks these functions against every upstream name, and the transcription of the goldens.
describe('every hash-named chain and set in fixtures/compile-nft/upstream', () => {
  const names = new Set<string>();
  for (const dir of findCases(join(FIXTURES, 'compile-nft'), 'NOTES')) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.nft'))) {
      const text = readFileSync(join(dir, f), 'utf8');
      for (const m of text.matchAll(/\b(?:service|local|external|firewall|endpoint|affinity)-[A-Z2-7]{8}-[^\s]+/g)) names.add(m[0]);
    }
  }

  test('there are names', () => expect(names.size).toBeGreaterThan(20));

  test.each([...names].sort().map((n) => [n]))('%s', (name) => {
    const m = /^(service|local|external|firewall|endpoint|affinity)-([A-Z2-7]{8})-(.+)$/.exec(name)!;
    expect(nftHashAndTruncate(m[3]!)).toBe(`${m[2]}-${m[3]}`);
  });
});
