import { KUBE_PROXY_HOOK_RULES } from '@svcrules/core';
import { chainsOf, parseRuleset, type TableName } from '@svcrules/iptables';
import { cleanupIptables, createApplier, FakeNetfilter, KubeProxyOwnsChainsError } from '../src/index.js';
import { endpoints, rules, service, slice, snapshot } from './helpers.js';

const web = service('ns', 'web', '172.30.0.41');
const desired = rules(snapshot([web], [slice(web, endpoints(['10.180.0.1', '10.180.0.2']))]));

/** Every chain of the three tables with its rules as save lines, e.g. `filter INPUT: -s 1.2.3.4/32 -j ACCEPT`. */
async function live(nf: FakeNetfilter): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of ['filter', 'nat', 'mangle'] as TableName[]) {
    for (const [name, list] of chainsOf(parseRuleset(await nf.save('ipv4', t))).get(t) ?? []) out[`${t} ${name}`] = list.map((r) => r.args.join(' '));
  }
  return out;
}

const kubeChains = (host: Record<string, string[]>) => Object.keys(host).filter((k) => / KUBE-/.test(k));
const jumpsToKube = (host: Record<string, string[]>) => Object.entries(host).flatMap(([k, rs]) => rs.filter((r) => / -j KUBE-/.test(` ${r}`)).map((r) => `${k}: ${r}`));

/** A host the applier wrote, plus foreign rules in the built-in chains and a foreign chain. */
async function appliedHost(): Promise<FakeNetfilter> {
  const nf = new FakeNetfilter();
  await createApplier({ netfilter: nf, family: 'ipv4' }).apply(desired);
  for (const args of [
    ['-A', 'INPUT', '-s', '198.51.100.8', '-j', 'ACCEPT'],
    ['-A', 'FORWARD', '-d', '198.51.100.9', '-j', 'DROP'],
    ['-t', 'nat', '-N', 'MY-CHAIN'],
    ['-t', 'nat', '-A', 'MY-CHAIN', '-s', '198.51.100.7', '-j', 'RETURN'],
    ['-t', 'nat', '-A', 'PREROUTING', '-j', 'MY-CHAIN'],
    // Named like ours, but no kube-proxy chain: not ours.
    ['-N', 'KUBE-SOMEONE-ELSE'],
    ['-A', 'KUBE-SOMEONE-ELSE', '-j', 'RETURN'],
  ]) {
    expect((await nf.run('ipv4', args)).code).toBe(0);
  }
  return nf;
}

const FOREIGN = {
  'filter INPUT': ['-s 198.51.100.8/32 -j ACCEPT'],
  'filter FORWARD': ['-d 198.51.100.9/32 -j DROP'],
  'filter KUBE-SOMEONE-ELSE': ['-j RETURN'],
  'nat MY-CHAIN': ['-s 198.51.100.7/32 -j RETURN'],
  'nat PREROUTING': ['-j MY-CHAIN'],
};

describe('cleanupIptables', () => {
  it('removes every hook rule and owned chain in one restore; foreign rules and chains stay', async () => {
    const nf = await appliedHost();
    const before = await live(nf);
    expect(kubeChains(before).length).toBeGreaterThan(8);
    const restores = nf.restores.length;
    const r = await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    expect(r.hooks).toEqual(KUBE_PROXY_HOOK_RULES);
    expect(r.kept).toEqual([]);
    expect(nf.restores.length).toBe(restores + 1);
    expect(nf.restores.at(-1)).toMatchObject({ applied: true, options: { noflush: true } });
    expect(r.payload).toMatch(/^\*nat\n(:KUBE-[\w-]+ - \[0:0\]\n)+(-X KUBE-[\w-]+\n)+COMMIT\n\*filter\n(:KUBE-[\w-]+ - \[0:0\]\n)+(-X KUBE-[\w-]+\n)+COMMIT\n$/);
    const after = await live(nf);
    expect(kubeChains(after)).toEqual(['filter KUBE-SOMEONE-ELSE']);
    expect(jumpsToKube(after)).toEqual([]);
    for (const [chain, lines] of Object.entries(FOREIGN)) expect(after[chain]).toEqual(lines);
    // Every chain that went was listed, and nothing else went.
    expect(r.chains.map((c) => `${c.table} ${c.chain}`).sort()).toEqual(kubeChains(before).filter((k) => k !== 'filter KUBE-SOMEONE-ELSE').sort());
  });

  it('a second cleanup finds nothing and runs no restore', async () => {
    const nf = await appliedHost();
    await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    const restores = nf.restores.length;
    const r = await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    expect(r).toEqual({ family: 'ipv4', hooks: [], chains: [], kept: [], payload: '' });
    expect(nf.restores.length).toBe(restores);
  });

  it('a dry run reports what the real run removes and changes nothing', async () => {
    const nf = await appliedHost();
    const before = await live(nf);
    const dry = await cleanupIptables({ netfilter: nf, family: 'ipv4', dryRun: true });
    expect(await live(nf)).toEqual(before);
    expect(nf.commands.some((c) => c.args.includes('-D'))).toBe(false);
    const real = await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    expect(dry).toEqual(real);
  });

  it("refuses a host where kube-proxy's canary exists; --force removes it too, mangle included", async () => {
    const nf = new FakeNetfilter();
    await createApplier({ netfilter: nf, family: 'ipv4' }).apply(desired);
    for (const t of ['mangle', 'nat', 'filter']) expect((await nf.run('ipv4', ['-t', t, '-N', 'KUBE-PROXY-CANARY'])).code).toBe(0);
    for (const t of ['nat', 'filter']) expect((await nf.run('ipv4', ['-t', t, '-X', 'KUBE-SVCRULES-CANARY'])).code).toBe(0);
    const before = await live(nf);
    await expect(cleanupIptables({ netfilter: nf, family: 'ipv4' })).rejects.toThrow(KubeProxyOwnsChainsError);
    await expect(cleanupIptables({ netfilter: nf, family: 'ipv4', dryRun: true })).rejects.toThrow(/a live kube-proxy owns the ipv4 KUBE-\* chains \(its KUBE-PROXY-CANARY chain exists in nat, filter\)/);
    expect(await live(nf)).toEqual(before);
    const forced = await cleanupIptables({ netfilter: nf, family: 'ipv4', force: true });
    expect(forced.chains).toContainEqual({ table: 'mangle', chain: 'KUBE-PROXY-CANARY' });
    expect(kubeChains(await live(nf))).toEqual([]);
  });

  it('keeps an owned chain a foreign rule jumps to, and every owned chain it reaches', async () => {
    const nf = await appliedHost();
    expect((await nf.run('ipv4', ['-t', 'nat', '-A', 'MY-CHAIN', '-j', 'KUBE-SERVICES'])).code).toBe(0);
    const nat = (await live(nf))['nat KUBE-SERVICES']!;
    const svc = /-j (KUBE-SVC-\w+)/.exec(nat.join('\n'))![1]!;
    const r = await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    const kept = r.kept.map((k) => `${k.chain} <- ${k.referencedBy.join(',')}`);
    expect(kept).toContain('KUBE-SERVICES <- MY-CHAIN');
    expect(kept).toContain(`${svc} <- KUBE-SERVICES`);
    const after = await live(nf);
    expect(after['nat KUBE-SERVICES']).toEqual(nat);
    expect(after['nat MY-CHAIN']).toEqual(['-s 198.51.100.7/32 -j RETURN', '-j KUBE-SERVICES']);
    // The hooks are gone all the same, and so is everything nothing foreign reaches.
    const builtin = /^(filter|nat) (INPUT|FORWARD|OUTPUT|PREROUTING|POSTROUTING):/;
    expect(jumpsToKube(after).filter((l) => builtin.test(l))).toEqual([]);
    expect(after['filter KUBE-SERVICES']).toBeUndefined();
    expect(after['nat KUBE-POSTROUTING']).toBeUndefined();
  });

  it('deletes a hook rule as often as it occurs, in a dry run too', async () => {
    const nf = await appliedHost();
    const portals = ['-t', 'nat', '-A', 'OUTPUT', '-m', 'comment', '--comment', 'kubernetes service portals', '-j', 'KUBE-SERVICES'];
    expect((await nf.run('ipv4', portals)).code).toBe(0);
    const twice = (r: { hooks: readonly { table: string; chain: string; target: string }[] }) => r.hooks.filter((h) => h.table === 'nat' && h.chain === 'OUTPUT').length;
    const dry = await cleanupIptables({ netfilter: nf, family: 'ipv4', dryRun: true });
    expect(twice(dry)).toBe(2);
    expect(dry.kept).toEqual([]);
    const real = await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    expect(twice(real)).toBe(2);
    expect(kubeChains(await live(nf))).toEqual(['filter KUBE-SOMEONE-ELSE']);
  });

  it("leaves kubelet's KUBE-FIREWALL and its jumps while kubelet's canary exists", async () => {
    const nf = await appliedHost();
    expect((await nf.run('ipv4', ['-N', 'KUBE-KUBELET-CANARY'])).code).toBe(0);
    await cleanupIptables({ netfilter: nf, family: 'ipv4' });
    const after = await live(nf);
    expect(kubeChains(after).sort()).toEqual(['filter KUBE-FIREWALL', 'filter KUBE-KUBELET-CANARY', 'filter KUBE-SOMEONE-ELSE']);
    expect(jumpsToKube(after).sort()).toEqual(['filter INPUT: -j KUBE-FIREWALL', 'filter OUTPUT: -j KUBE-FIREWALL']);
  });
});
