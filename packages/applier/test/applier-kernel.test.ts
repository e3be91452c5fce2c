/**
 * The Applier against the real kernel in a throwaway namespace: what the Fake promises holds for
 * iptables-nft too (a second full sync finds nothing to change, the record-based partial apply lands
 * exactly the full ruleset, foreign rules survive), and for the legacy backend.
 */
import { execFile, mustExec, kernelGate, uniqueName } from '@svcrules/testkit';
import { endpointChainName, serviceChainNames } from '@svcrules/core';
import { createApplier, createExecNetfilter, ensureNfacctCounters, type Backend } from '../src/index.js';
import { endpoints, expectedKubeChains, liveKubeChains, rules, service, slice, snapshot } from './helpers.js';

const kernel = kernelGate(['ip', 'iptables', 'iptables-save', 'iptables-restore', 'iptables-legacy', 'iptables-legacy-save', 'iptables-legacy-restore', 'ip6tables', 'ip6tables-save', 'ip6tables-restore', 'nfacct']);
const d = kernel.describe;

async function withNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = uniqueName('ap');
  await mustExec('ip', ['netns', 'add', ns]);
  try {
    return await fn(ns);
  } finally {
    await execFile('ip', ['netns', 'del', ns]);
  }
}

const svc1 = service('ns1', 'svc1', '172.30.0.41', { sessionAffinity: 'ClientIP' });
const lb = service('ns2', 'lb', '172.30.0.42', {
  type: 'LoadBalancer',
  ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30080 }],
  loadBalancerIngress: [{ ip: '1.2.3.4' }],
  loadBalancerSourceRanges: ['203.0.113.0/25'],
  externalTrafficPolicy: 'Local',
  healthCheckNodePort: 30000,
  externalIPs: ['192.168.99.22'],
});
const dns = service('kube-system', 'dns', '172.30.0.10', { ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 0 }] });
const empty = service('ns3', 'empty', '172.30.0.43', { type: 'NodePort', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30081 }] });

const v1 = rules(
  snapshot(
    [svc1, lb, dns, empty],
    [slice(svc1, endpoints(['10.180.0.1', '10.180.0.2', '10.180.0.3'])), slice(lb, [...endpoints(['10.180.0.4']), ...endpoints(['10.180.0.5'], 'test-node')]), slice(dns, endpoints(['10.180.0.6', '10.180.0.7']))],
  ),
);
const v2 = rules(snapshot([svc1, dns], [slice(svc1, endpoints(['10.180.0.2'])), slice(dns, endpoints(['10.180.0.7']))]));

for (const backend of ['default', 'legacy'] as Backend[]) {
  d(`Applier on the real kernel (${backend} backend)`, () => {
    test('full apply, partial apply, and a fresh full sync that finds nothing to change', () =>
      withNetns(async (ns) => {
        const nf = createExecNetfilter({ netns: ns, backend });
        await mustExec('ip', ['netns', 'exec', ns, backend === 'legacy' ? 'iptables-legacy' : 'iptables', '-t', 'nat', '-N', 'MY-CHAIN']);
        const beforeFullSync = async () => void (await ensureNfacctCounters({ netns: ns }));
        const a = createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync });
        expect((await a.apply(v1)).mode).toBe('full');
        expect(await liveKubeChains(nf, 'ipv4')).toEqual(expectedKubeChains(v1, 'ipv4'));
        const r2 = await a.apply(v2);
        expect(r2.mode).toBe('partial');
        expect(r2.plan.deleted.length).toBeGreaterThan(0);
        expect(await liveKubeChains(nf, 'ipv4')).toEqual(expectedKubeChains(v2, 'ipv4'));
        // A new applier reads the host: toSaveForm must predict iptables-save exactly, so nothing differs.
        const again = await createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync }).apply(v2);
        expect(again.mode).toBe('full');
        expect(again.plan.changed).toEqual([]);
        expect(again.payload).toBe('');
        expect(again.hooks?.inserted).toEqual([]);
        expect(await nf.save('ipv4', 'nat')).toContain(':MY-CHAIN - [0:0]');
        // And the full host read of v1 after v2 reproduces v1 exactly.
        await createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync }).apply(v1);
        expect(await liveKubeChains(nf, 'ipv4')).toEqual(expectedKubeChains(v1, 'ipv4'));
      }));

    test('a full sync whose only change is deleting leftover service chains deletes them', () =>
      withNetns(async (ns) => {
        const nf = createExecNetfilter({ netns: ns, backend });
        const beforeFullSync = async () => void (await ensureNfacctCounters({ netns: ns }));
        const a = createApplier({ netfilter: nf, family: 'ipv4', beforeFullSync });
        await a.apply(v2);
        // Chains of a Service that no longer exists, as a crashed apply or an earlier kube-proxy leaves them.
        const goneSvc = serviceChainNames('ns9/old:p80', 'tcp').svc;
        const goneSep = endpointChainName('ns9/old:p80', 'tcp', '10.180.0.9:80');
        const iptables = backend === 'legacy' ? 'iptables-legacy' : 'iptables';
        for (const args of [['-N', goneSvc], ['-N', goneSep], ['-A', goneSvc, '-j', goneSep], ['-A', goneSep, '-p', 'tcp', '-j', 'DNAT', '--to-destination', '10.180.0.9:80']]) {
          await mustExec('ip', ['netns', 'exec', ns, iptables, '-w', '5', '-t', 'nat', ...args]);
        }
        expect(await nf.save('ipv4', 'nat')).toContain(`:${goneSvc} `);
        const r = await a.apply(v2, { full: true });
        expect(r.plan.changed).toEqual([]);
        expect(r.plan.deleted.map((d) => d.chain).sort()).toEqual([goneSep, goneSvc].sort());
        expect(r.restored).toBe(true);
        const nat = await nf.save('ipv4', 'nat');
        expect(nat).not.toContain(goneSvc);
        expect(nat).not.toContain(goneSep);
        expect(await liveKubeChains(nf, 'ipv4')).toEqual(expectedKubeChains(v2, 'ipv4'));
      }));
  });
}

d('Applier on the real kernel: IPv6', () => {
  test('ip6tables full and partial apply', () =>
    withNetns(async (ns) => {
      const nf = createExecNetfilter({ netns: ns });
      const s6 = service('ns1', 'svc1', 'fd00:172:30::41', { type: 'NodePort', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30080 }] });
      const r1 = rules(snapshot([s6], [slice(s6, endpoints(['fd00:10:180::1', 'fd00:10:180::2']))], true), { family: 'IPv6' });
      const r2 = rules(snapshot([s6], [slice(s6, endpoints(['fd00:10:180::2']))], true), { family: 'IPv6' });
      const beforeFullSync = async () => void (await ensureNfacctCounters({ netns: ns }));
      const a = createApplier({ netfilter: nf, family: 'ipv6', beforeFullSync });
      await a.apply(r1);
      expect(await liveKubeChains(nf, 'ipv6')).toEqual(expectedKubeChains(r1, 'ipv6'));
      expect((await a.apply(r2)).mode).toBe('partial');
      expect(await liveKubeChains(nf, 'ipv6')).toEqual(expectedKubeChains(r2, 'ipv6'));
      const again = await createApplier({ netfilter: nf, family: 'ipv6' }).apply(r2);
      expect(again.payload).toBe('');
      expect((await nf.save('ipv4', 'nat')).includes('KUBE-SERVICES')).toBe(false);
    }));
});
