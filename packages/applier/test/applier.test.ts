/** The Applier against the strict in-memory Fake: full and partial syncs, the record, the canary, failures. */
import { endpointChainName, serviceChainNames } from '@svcrules/core';
import type { Ruleset } from '@svcrules/iptables';
import { createApplier, FakeNetfilter, KubeProxyPresentError, RestoreError, type Netfilter, type StaleUdpFlow } from '../src/index.js';
import { endpoints, expectedKubeChains, liveKubeChains, rules, service, slice, snapshot } from './helpers.js';

const svc1 = service('ns1', 'svc1', '172.30.0.41');
const svc2 = service('ns2', 'svc2', '172.30.0.42');
const dns = service('kube-system', 'dns', '172.30.0.10', { ports: [{ name: 'dns', protocol: 'UDP', port: 53, nodePort: 0 }] });

const v1 = rules(snapshot([svc1, svc2], [slice(svc1, endpoints(['10.180.0.1', '10.180.0.2', '10.180.0.3'])), slice(svc2, endpoints(['10.180.0.4']))]));
const v2 = rules(snapshot([svc1, svc2], [slice(svc1, endpoints(['10.180.0.1'])), slice(svc2, endpoints(['10.180.0.4']))]));
const v3 = rules(snapshot([svc1], [slice(svc1, endpoints(['10.180.0.1']))]));

const chainNames = (payload: string) => payload.split('\n').filter((l) => l.startsWith(':')).map((l) => l.slice(1).split(' ')[0]);

async function converged(nf: Netfilter, desired: Ruleset) {
  expect(await liveKubeChains(nf, 'ipv4')).toEqual(expectedKubeChains(desired, 'ipv4'));
}

test('first apply is a full sync: hooks, canaries, every chain; the host then equals the ruleset', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  const r = await a.apply(v1);
  expect(r.mode).toBe('full');
  expect(r.reason).toBe('first apply');
  expect(r.restored).toBe(true);
  expect(r.hooks?.inserted).toHaveLength(14);
  expect(nf.restores).toHaveLength(1);
  expect(nf.restores[0]!.options).toEqual({ noflush: true, counters: true });
  await converged(nf, v1);
  const nat = await nf.save('ipv4', 'nat');
  expect(nat).toContain(':KUBE-SVCRULES-CANARY - [0:0]');
  expect(nat).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
});

test('the same ruleset again: partial, reads nothing, restores nothing', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  const saves = nf.saves.ipv4;
  const r = await a.apply(v1);
  expect(r).toMatchObject({ mode: 'partial', reason: undefined, payload: '', restored: false });
  expect(nf.saves.ipv4).toBe(saves);
  expect(nf.restores).toHaveLength(1);
  // Only targeted reads: kube-proxy's canary and ours, never a listing of a whole table.
  expect(nf.commands.slice(-3).map((c) => c.args.join(' '))).toEqual([
    '-t nat -S KUBE-PROXY-CANARY 1',
    '-t nat -S KUBE-SVCRULES-CANARY 1',
    '-S KUBE-SVCRULES-CANARY 1',
  ]);
});

test('scale down: top-level chains + the changed service chain + -X of the gone endpoints; no read of the host', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  const saves = nf.saves.ipv4;
  const r = await a.apply(v2);
  expect(r.mode).toBe('partial');
  expect(nf.saves.ipv4).toBe(saves);
  // filter did not change at all, so it is not in the payload.
  expect(r.payload.startsWith('*nat\n')).toBe(true);
  expect(r.plan.changed.map((c) => c.chain)).toEqual(['KUBE-SVC-XPGD46QRK7WJZT7O']);
  expect(r.plan.deleted).toHaveLength(2);
  expect(r.plan.deleted.every((d) => d.chain.startsWith('KUBE-SEP-'))).toBe(true);
  // svc2's chains are not declared (they keep their rules); our canary is redeclared (emptied) in every table block.
  expect(chainNames(r.payload)).toEqual(['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ', 'KUBE-SVC-XPGD46QRK7WJZT7O', ...r.plan.deleted.map((d) => d.chain), 'KUBE-SVCRULES-CANARY']);
  await converged(nf, v2);
});

test('a removed service: its chains go, the other stays untouched', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v2);
  const r = await a.apply(v3);
  expect(r.plan.deleted.map((d) => d.chain).sort()).toEqual([endpointChainName('ns2/svc2:p80', 'tcp', '10.180.0.4:80'), serviceChainNames('ns2/svc2:p80', 'tcp').svc]);
  await converged(nf, v3);
  expect(await nf.save('ipv4', 'nat')).not.toContain('ns2/svc2');
});

test('someone flushes the nat table: the canary is gone, the next apply is full and restores everything', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  nf.wipeTable('ipv4', 'nat');
  const r = await a.apply(v1);
  expect(r.mode).toBe('full');
  expect(r.reason).toBe('the nat table was flushed (KUBE-SVCRULES-CANARY is gone)');
  expect(r.hooks?.inserted.map((h) => h.chain)).toEqual(['OUTPUT', 'PREROUTING', 'POSTROUTING']);
  await converged(nf, v1);
});

test('a flushed filter table is noticed too', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  nf.wipeTable('ipv4', 'filter');
  const r = await a.apply(v2);
  expect(r.reason).toBe('the filter table was flushed (KUBE-SVCRULES-CANARY is gone)');
  await converged(nf, v2);
});

test('a failed restore keeps the previous rules; the next apply is full and converges', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  const before = await nf.save('ipv4');
  nf.failNextRestore = 'simulated failure';
  await expect(a.apply(v2)).rejects.toBeInstanceOf(RestoreError);
  expect(await nf.save('ipv4')).toBe(before);
  expect(a.pendingFullSync).toMatch(/^the previous apply failed \(iptables-restore failed: simulated failure\)/);
  const saves = nf.saves.ipv4;
  const r = await a.apply(v2);
  expect(r.mode).toBe('full');
  expect(nf.saves.ipv4).toBeGreaterThan(saves);
  await converged(nf, v2);
});

test('a broken payload line (injected through the runner) fails in the model like in the kernel; next apply is full', async () => {
  const fake = new FakeNetfilter();
  let corrupt = false;
  // A Netfilter wrapper that damages the nat block of the next payload: a jump to a missing chain.
  const nf: Netfilter = {
    save: (f, t) => fake.save(f, t),
    run: (f, args) => fake.run(f, args),
    restore: (f, payload, o) => fake.restore(f, corrupt ? payload.replace(/\nCOMMIT\n$/, '\n-A KUBE-SERVICES -j KUBE-MISSING\nCOMMIT\n') : payload, o),
  };
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  const before = await fake.save('ipv4', 'nat');
  corrupt = true;
  const err = (await a.apply(v2).catch((e: unknown) => e)) as RestoreError;
  expect(err).toBeInstanceOf(RestoreError);
  expect(err.excerpt).toMatch(/> +\d+ \| -A KUBE-SERVICES -j KUBE-MISSING/);
  expect(await fake.save('ipv4', 'nat')).toBe(before);
  corrupt = false;
  const r = await a.apply(v2);
  expect(r.mode).toBe('full');
  await converged(fake, v2);
});

test('refuses while kube-proxy owns the chains; force overrides', async () => {
  const nf = new FakeNetfilter();
  await nf.run('ipv4', ['-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  const err = await a.apply(v1).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KubeProxyPresentError);
  expect((err as Error).message).toContain('a live kube-proxy owns the ipv4 KUBE-* chains (its KUBE-PROXY-CANARY chain exists in nat)');
  expect(nf.restores).toHaveLength(0);
  const forced = createApplier({ netfilter: nf, family: 'ipv4', force: true });
  await forced.apply(v1);
  await converged(nf, v1);
});

test('kube-proxy appearing after us is noticed on the partial path too', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  await nf.run('ipv4', ['-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
  await expect(a.apply(v2)).rejects.toBeInstanceOf(KubeProxyPresentError);
});

test("the caller's fresh KUBE-PROXY-CANARY answer spares the first apply that read; later applies ask again", async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4', kubeProxyAbsent: ['nat', 'filter'] });
  await a.apply(v1);
  const asked = () => nf.commands.filter((c) => c.args.includes('KUBE-PROXY-CANARY')).map((c) => c.args.join(' '));
  expect(asked()).toEqual([]);
  await a.apply(v1);
  expect(asked()).toEqual(['-t nat -S KUBE-PROXY-CANARY 1']);
  // Only the tables named are spared: kube-proxy in filter still stops the first full sync.
  const other = new FakeNetfilter();
  await other.run('ipv4', ['-N', 'KUBE-PROXY-CANARY']);
  const err = await createApplier({ netfilter: other, family: 'ipv4', kubeProxyAbsent: ['nat'] })
    .apply(v1)
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(KubeProxyPresentError);
});

test('foreign rules and chains survive; a stale chain a foreign rule jumps to is kept, not deleted', async () => {
  const nf = new FakeNetfilter();
  await nf.run('ipv4', ['-t', 'nat', '-N', 'MY-CHAIN']);
  await nf.run('ipv4', ['-t', 'nat', '-A', 'MY-CHAIN', '-s', '198.51.100.1', '-j', 'RETURN']);
  await nf.run('ipv4', ['-A', 'INPUT', '-s', '198.51.100.1', '-j', 'ACCEPT']);
  await nf.run('ipv4', ['-t', 'nat', '-N', 'KUBE-OTHER-COMPONENT']);
  await nf.run('ipv4', ['-t', 'nat', '-A', 'KUBE-OTHER-COMPONENT', '-j', 'RETURN']);
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  // A foreign rule that jumps to svc2's chain.
  const svc2Chain = [...(await nf.save('ipv4', 'nat')).matchAll(/-A KUBE-SERVICES .*ns2\/svc2.* -j (KUBE-SVC-\w+)/g)][0]![1]!;
  await nf.run('ipv4', ['-t', 'nat', '-A', 'MY-CHAIN', '-j', svc2Chain]);
  a.invalidate('test: re-read the host');
  const r = await a.apply(v3);
  expect(r.plan.kept).toEqual([
    { table: 'nat', chain: svc2Chain, referencedBy: ['MY-CHAIN'] },
    { table: 'nat', chain: expect.stringMatching(/^KUBE-SEP-/), referencedBy: [svc2Chain] },
  ]);
  const nat = await nf.save('ipv4', 'nat');
  expect(nat).toContain('-A MY-CHAIN -s 198.51.100.1/32 -j RETURN');
  expect(nat).toContain(`-A MY-CHAIN -j ${svc2Chain}`);
  expect(nat).toContain('-A KUBE-OTHER-COMPONENT -j RETURN');
  expect(await nf.save('ipv4', 'filter')).toContain('-A INPUT -s 198.51.100.1/32 -j ACCEPT');
});

test('periodic full sync after the interval, by the injected clock', async () => {
  const nf = new FakeNetfilter();
  let now = 0;
  const a = createApplier({ netfilter: nf, family: 'ipv4', clock: () => now, fullSyncIntervalMs: 1000 });
  await a.apply(v1);
  now = 999;
  expect((await a.apply(v1)).mode).toBe('partial');
  now = 1000;
  const r = await a.apply(v1);
  expect(r).toMatchObject({ mode: 'full', reason: 'periodic full sync', payload: '' });
});

test('a full sync against a host that already holds the rules restores nothing (save-form comparison is exact)', async () => {
  const nf = new FakeNetfilter();
  await createApplier({ netfilter: nf, family: 'ipv4' }).apply(v1);
  const r = await createApplier({ netfilter: nf, family: 'ipv4' }).apply(v1);
  expect(r.mode).toBe('full');
  expect(r.plan.changed).toEqual([]);
  expect(r.payload).toBe('');
  expect(nf.restores).toHaveLength(1);
});

test('dry run: reads the host, checks with --test, changes nothing, keeps the record', async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4' });
  await a.apply(v1);
  const before = await nf.save('ipv4');
  const r = await a.apply(v2, { dryRun: true });
  expect(r.restored).toBe(false);
  expect(r.payload).toContain('-X KUBE-SEP-');
  expect(nf.restores[nf.restores.length - 1]).toMatchObject({ options: { noflush: true, counters: true, test: true }, applied: false });
  expect(await nf.save('ipv4')).toBe(before);
  expect(a.pendingFullSync).toBeUndefined();
  expect((await a.apply(v2)).mode).toBe('partial');
  await converged(nf, v2);
});

test('UDP: removed endpoints and a removed UDP service are reported as stale flows and handed to the cleaner', async () => {
  const nf = new FakeNetfilter();
  const seen: StaleUdpFlow[][] = [];
  const a = createApplier({
    netfilter: nf,
    family: 'ipv4',
    conntrack: async (flows) => {
      seen.push([...flows]);
      return flows.map((flow) => ({ flow, deleted: 1 }));
    },
  });
  const withDns = (ips: string[]) => rules(snapshot([svc1, dns], [slice(svc1, endpoints(['10.180.0.1'])), slice(dns, endpoints(ips))]));
  await a.apply(withDns(['10.180.0.7', '10.180.0.8']));
  const r = await a.apply(withDns(['10.180.0.8']));
  expect(r.staleUdpFlows).toEqual([{ frontend: { ip: '172.30.0.10', port: 53 }, endpoint: '10.180.0.7:53' }]);
  expect(r.conntrack).toEqual([{ flow: r.staleUdpFlows[0], deleted: 1 }]);
  const gone = await a.apply(rules(snapshot([svc1], [slice(svc1, endpoints(['10.180.0.1']))])));
  expect(gone.staleUdpFlows).toEqual([{ frontend: { ip: '172.30.0.10', port: 53 }, endpoint: '10.180.0.8:53' }]);
  // TCP changes never produce flows.
  const tcp = await a.apply(rules(snapshot([svc1], [slice(svc1, endpoints(['10.180.0.2']))])));
  expect(tcp.staleUdpFlows).toEqual([]);
  expect(seen).toHaveLength(2);
});

test('ipv6 family goes to its own state', async () => {
  const nf = new FakeNetfilter();
  const s6 = service('ns1', 'svc1', 'fd00:172:30::41');
  const desired = rules(snapshot([s6], [slice(s6, endpoints(['fd00:10:180::1']))], true), { family: 'IPv6' });
  await createApplier({ netfilter: nf, family: 'ipv6' }).apply(desired);
  expect(await liveKubeChains(nf, 'ipv6')).toEqual(expectedKubeChains(desired, 'ipv6'));
  expect(await nf.save('ipv4')).toBe('');
});

test("topLevelChains 'when-changed': a one-service change loads only that service's chains", async () => {
  const nf = new FakeNetfilter();
  const a = createApplier({ netfilter: nf, family: 'ipv4', topLevelChains: 'when-changed' });
  await a.apply(v1);
  const r = await a.apply(v2);
  expect(chainNames(r.payload)).toEqual(['KUBE-SVC-XPGD46QRK7WJZT7O', ...r.plan.deleted.map((d) => d.chain), 'KUBE-SVCRULES-CANARY']);
  await converged(nf, v2);
  // Removing a service changes KUBE-SERVICES, so that one is written then.
  const gone = await a.apply(v3);
  expect(gone.plan.written.map((w) => w.chain)).toEqual(['KUBE-SERVICES']);
  await converged(nf, v3);
});

describe('deletion-only applies: stale chains go even when nothing else changes', () => {
  // What a crashed apply or an earlier kube-proxy leaves behind: the chains of a Service that no longer exists.
  const goneSvc = serviceChainNames('ns9/old:p80', 'tcp').svc;
  const goneSep = endpointChainName('ns9/old:p80', 'tcp', '10.180.0.9:80');
  const leftovers = `*nat\n:${goneSvc} - [0:0]\n:${goneSep} - [0:0]\n-A ${goneSvc} -j ${goneSep}\n-A ${goneSep} -p tcp -j DNAT --to-destination 10.180.0.9:80\nCOMMIT\n`;
  const gone = [goneSep, goneSvc].sort().map((chain) => ({ table: 'nat', chain }));

  test('a full sync finds only leftovers: it deletes them, and the host equals the ruleset', async () => {
    const nf = new FakeNetfilter();
    const a = createApplier({ netfilter: nf, family: 'ipv4' });
    await a.apply(v1);
    await nf.restore('ipv4', leftovers, { noflush: true });
    const r = await a.apply(v1, { full: true });
    expect(r.plan.changed).toEqual([]);
    expect(r.plan.deleted).toEqual(gone);
    expect(r.restored).toBe(true);
    expect(r.payload).toContain(`-X ${goneSvc}\n`);
    await converged(nf, v1);
    expect(await nf.save('ipv4', 'nat')).not.toContain(goneSvc);
    // Nothing left to do afterwards.
    expect((await a.apply(v1, { full: true })).payload).toBe('');
  });

  test("topLevelChains 'when-changed': the payload is the deletions alone", async () => {
    const nf = new FakeNetfilter();
    const a = createApplier({ netfilter: nf, family: 'ipv4', topLevelChains: 'when-changed' });
    await a.apply(v1);
    await nf.restore('ipv4', leftovers, { noflush: true });
    const r = await a.apply(v1, { full: true });
    // The deletions, and our canary redeclared (emptied: this Applier keeps no state file).
    const declared = [...gone.map((g) => g.chain), 'KUBE-SVCRULES-CANARY'].sort();
    expect(r.payload).toBe(`*nat\n${declared.map((c) => `:${c} - [0:0]\n`).join('')}${gone.map((g) => `-X ${g.chain}\n`).join('')}COMMIT\n`);
    await converged(nf, v1);
  });

  test('a stale chain kept while a foreign rule jumps to it is deleted by the next full sync once the rule is gone', async () => {
    const nf = new FakeNetfilter();
    let now = 0;
    const a = createApplier({ netfilter: nf, family: 'ipv4', clock: () => now, fullSyncIntervalMs: 1000 });
    await nf.run('ipv4', ['-t', 'nat', '-N', 'MY-CHAIN']);
    await a.apply(v1);
    const svc2Chain = serviceChainNames('ns2/svc2:p80', 'tcp').svc;
    await nf.run('ipv4', ['-t', 'nat', '-A', 'MY-CHAIN', '-j', svc2Chain]);
    a.invalidate('test: re-read the host');
    const kept = await a.apply(v3);
    expect(kept.plan.kept.map((k) => k.chain)).toContain(svc2Chain);
    await nf.run('ipv4', ['-t', 'nat', '-D', 'MY-CHAIN', '-j', svc2Chain]);
    // The same ruleset again: a partial apply has nothing to do; the periodic full sync deletes them.
    expect((await a.apply(v3)).payload).toBe('');
    now = 1000;
    const r = await a.apply(v3);
    expect(r).toMatchObject({ mode: 'full', reason: 'periodic full sync', restored: true });
    expect(r.plan.changed).toEqual([]);
    expect(r.plan.deleted.map((d) => d.chain).sort()).toEqual([endpointChainName('ns2/svc2:p80', 'tcp', '10.180.0.4:80'), svc2Chain].sort());
    await converged(nf, v3);
  });
});
