import type { AppendCommand, Ruleset } from '@svcrules/iptables';
import { render } from '@svcrules/iptables';
import { compile } from '../src/compile.js';
import { createIncrementalCompiler } from '../src/incremental.js';
import type { EndpointSlice, NodeInfo, Service, Snapshot } from '../src/model.js';
import { service, slice } from './helpers.js';

const node: NodeInfo = {
  name: 'test-node',
  addresses: [{ type: 'InternalIP', address: '192.168.0.2' }],
  podCIDRs: ['10.180.0.0/24'],
  labels: { 'topology.kubernetes.io/zone': 'zone-a' },
};
const config = { hostnameOverride: 'test-node', clusterCIDRs: ['10.0.0.0/8'] };

const svc = (i: number, over: Parameters<typeof service>[2] = {}) => service(`ns${i}`, `svc${i}`, { clusterIP: `172.30.0.${i}`, ...over });
const eps = (i: number, ips: string[], over: Partial<EndpointSlice> = {}) =>
  slice(`ns${i}`, `svc${i}`, { endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: 'test-node' })), ...over });

function world(n: number): Snapshot {
  const services: Service[] = [];
  const endpointSlices: EndpointSlice[] = [];
  for (let i = 1; i <= n; i++) {
    services.push(svc(i));
    endpointSlices.push(eps(i, [`10.180.${i}.1`, `10.180.${i}.2`]));
  }
  return { services, endpointSlices, nodes: [node], config };
}

const natOf = (r: Ruleset) => r.tables.find((t) => t.name === 'nat')!;
const chainsOf = (r: Ruleset) => natOf(r).chains.map((c) => c.name);
const deletes = (r: Ruleset) => natOf(r).commands.filter((c) => c.kind === 'delete').map((c) => c.chain);
const rulesIn = (r: Ruleset, prefix: string) => natOf(r).commands.filter((c): c is AppendCommand => c.kind === 'append' && c.chain.startsWith(prefix));
const TOP = ['KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-POSTROUTING', 'KUBE-MARK-MASQ'];

describe('createIncrementalCompiler', () => {
  it('the first sync is full and is compile() of the snapshot; host chains given up front are deleted when stale', () => {
    const snap = world(3);
    const existing = ['KUBE-SVC-AAAAAAAAAAAAAAAA', 'KUBE-SEP-BBBBBBBBBBBBBBBB', 'OTHER-CHAIN'];
    const c = createIncrementalCompiler({ existingNatChains: existing });
    const r = c.replace(snap);
    expect(r.sync).toBe('full');
    expect(r.fullSyncReason).toBe('first-sync');
    expect(render(r.ruleset)).toBe(render(compile(snap).ruleset));
    expect(render(r.payload)).toBe(render(compile(snap, { existingNatChains: existing }).ruleset));
    expect(r.staleChains).toEqual(['KUBE-SEP-BBBBBBBBBBBBBBBB', 'KUBE-SVC-AAAAAAAAAAAAAAAA']);
    expect(r.changedServices).toEqual(['ns1/svc1', 'ns2/svc2', 'ns3/svc3']);
  });

  it('one changed endpoint: only that Service is rewritten; its old SEP chain is declared and deleted', () => {
    const snap = world(4);
    const c = createIncrementalCompiler();
    const first = c.replace(snap);
    const moved = eps(2, ['10.180.2.1', '10.180.2.9']);
    const r = c.update({ endpointSlices: { upsert: [moved] } });
    expect(r.sync).toBe('partial');
    expect(r.changedServices).toEqual(['ns2/svc2']);

    const next = { ...snap, endpointSlices: snap.endpointSlices.map((s) => (s.namespace === 'ns2' ? moved : s)) };
    const full = compile(next);
    expect(render(r.ruleset)).toBe(render(full.ruleset));

    // The old SEP of 10.180.2.2 is the only stale chain.
    const before = new Set(chainsOf(first.ruleset));
    const after = new Set(chainsOf(full.ruleset));
    const gone = [...before].filter((ch) => !after.has(ch));
    expect(gone).toHaveLength(1);
    expect(r.staleChains).toEqual(gone);
    expect(deletes(r.payload)).toEqual(gone);

    // Declared: the top-level chains, svc2's chains (one SVC, two SEPs), the stale one.
    const svc2 = full.plans.find((p) => p.info.name === 'ns2/svc2:p80')!;
    const svc2Chains = full.serviceRules[full.plans.indexOf(svc2)]!.natChains;
    expect(chainsOf(r.payload)).toEqual([...TOP, ...svc2Chains, ...gone]);
    // Every Service's KUBE-SERVICES jump is rewritten; only svc2's own chains get rules.
    expect(rulesIn(r.payload, 'KUBE-SERVICES')).toHaveLength(4 + 1);
    expect(new Set([...rulesIn(r.payload, 'KUBE-SVC-'), ...rulesIn(r.payload, 'KUBE-SEP-')].map((x) => x.chain))).toEqual(new Set(svc2Chains));
    // The filter table is always written whole.
    expect(r.payload.tables[0]).toEqual(full.ruleset.tables[0]);
  });

  it('unchanged Services are not recompiled: their rules are the very objects of the previous sync', () => {
    const c = createIncrementalCompiler();
    const first = c.replace(world(3));
    const r = c.update({ endpointSlices: { upsert: [eps(3, ['10.180.3.7'])] } });
    const svc1Rules = (x: Ruleset) => natOf(x).commands.filter((cmd) => cmd.kind === 'append' && /ns1\/svc1/.test((cmd as AppendCommand).args.join(' ')));
    const a = svc1Rules(first.ruleset);
    const b = svc1Rules(r.ruleset);
    expect(a.length).toBeGreaterThan(0);
    b.forEach((rule, i) => expect(rule).toBe(a[i]));
    const svc3 = (x: Ruleset) => natOf(x).commands.find((cmd) => cmd.kind === 'append' && cmd.chain === 'KUBE-SERVICES' && (cmd as AppendCommand).args.includes('172.30.0.3'));
    expect(svc3(r.ruleset)).not.toBe(svc3(first.ruleset));
  });

  it('changes that do not touch a Service chain rewrite only the top-level chains', () => {
    const snap = world(2);
    const c = createIncrementalCompiler();
    c.replace(snap);
    // Slice metadata only (kube-proxy would rewrite svc1 here; the minimal payload does not).
    const relabelled = { ...snap.endpointSlices[0]!, labels: { ...snap.endpointSlices[0]!.labels, 'example.com/x': 'y' } };
    let r = c.update({ endpointSlices: { upsert: [relabelled] } });
    expect(r.changedServices).toEqual([]);
    expect(chainsOf(r.payload)).toEqual(TOP);
    // A node port changes only KUBE-NODEPORTS (svc1 is NodePort with eTP Cluster both times).
    r = c.update({ services: { upsert: [svc(1, { type: 'NodePort', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30001 }] })] } });
    expect(r.changedServices).toEqual(['ns1/svc1']); // it gains an EXT chain
    r = c.update({ services: { upsert: [svc(1, { type: 'NodePort', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30002 }] })] } });
    expect(r.changedServices).toEqual([]);
    expect(chainsOf(r.payload)).toEqual(TOP);
    expect(rulesIn(r.payload, 'KUBE-NODEPORTS').map((x) => x.args.join(' '))).toEqual(expect.arrayContaining([expect.stringContaining('--dport 30002')]));
    // No change at all: still the top-level chains (kube-proxy writes them on every sync).
    r = c.update({});
    expect(r.sync).toBe('partial');
    expect(r.changedServices).toEqual([]);
    expect(chainsOf(r.payload)).toEqual(TOP);
  });

  it('a large-cluster mode flip rewrites every Service with endpoints (kube-proxy would leave stale comments)', () => {
    const c = createIncrementalCompiler({ largeClusterEndpointsThreshold: 6 });
    const snap = world(3); // 6 endpoints: not large
    expect(c.replace(snap).stats.largeClusterMode).toBe(false);
    const r = c.update({ services: { upsert: [svc(4)] }, endpointSlices: { upsert: [eps(4, ['10.180.4.1'])] } });
    expect(r.stats.largeClusterMode).toBe(true);
    expect(r.sync).toBe('partial');
    expect(r.changedServices).toEqual(['ns1/svc1', 'ns2/svc2', 'ns3/svc3', 'ns4/svc4']);
    expect(rulesIn(r.payload, 'KUBE-SEP-').every((x) => !x.args.includes('--comment'))).toBe(true);
    expect(rulesIn(r.payload, 'KUBE-SEP-')).toHaveLength(2 * 7);
  });

  it('a change of what the node contributes forces a full sync; an unrelated node change does not', () => {
    const c = createIncrementalCompiler();
    c.replace(world(2));
    let r = c.update({ nodes: { upsert: [{ ...node, labels: { ...node.labels, 'example.com/rack': 'r1' } }] } });
    expect(r.sync).toBe('partial');
    r = c.update({ nodes: { upsert: [{ ...node, labels: { 'topology.kubernetes.io/zone': 'zone-b' } }] } });
    expect(r.sync).toBe('full');
    expect(r.fullSyncReason).toBe('context-changed');
    r = c.update({ config: { ...config, masqueradeAll: true } });
    expect(r.sync).toBe('full');
    expect(r.changedServices).toEqual(['ns1/svc1', 'ns2/svc2']);
    expect(render(r.ruleset)).toBe(render(compile({ ...world(2), nodes: [{ ...node, labels: { 'topology.kubernetes.io/zone': 'zone-b' } }], config: { ...config, masqueradeAll: true } }).ruleset));
  });

  it('after a failed restore the next sync is full and deletes what either state may have left', () => {
    const c = createIncrementalCompiler();
    const first = c.replace(world(2));
    const failed = c.update({ services: { upsert: [svc(3)] }, endpointSlices: { upsert: [eps(3, ['10.180.3.1'])] } });
    c.requestFullSync();
    const r = c.update({ services: { remove: [{ namespace: 'ns3', name: 'svc3' }] } });
    expect(r.sync).toBe('full');
    expect(r.fullSyncReason).toBe('requested');
    const kept = new Set(chainsOf(first.ruleset));
    const maybe = chainsOf(failed.ruleset).filter((ch) => !kept.has(ch));
    expect(maybe.length).toBe(2);
    expect(r.staleChains).toEqual([...maybe].sort());
    expect(render(r.payload)).toBe(render(compile(world(2), { existingNatChains: chainsOf(failed.ruleset) }).ruleset));
    // With the host's real chains given, only those are deleted.
    c.requestFullSync(['KUBE-SEP-ZZZZZZZZZZZZZZZZ', ...chainsOf(first.ruleset)]);
    expect(c.update({}).staleChains).toEqual(['KUBE-SEP-ZZZZZZZZZZZZZZZZ']);
  });

  it('replace() and update() agree, and the snapshot it holds compiles to the same ruleset', () => {
    const a = createIncrementalCompiler();
    const b = createIncrementalCompiler();
    a.replace(world(3));
    b.replace(world(3));
    const next = world(3);
    const changed: Snapshot = { ...next, services: next.services.filter((s) => s.name !== 'svc1'), endpointSlices: [...next.endpointSlices.slice(1), eps(2, ['10.180.2.5'], { name: 'svc2-extra' })] };
    const ra = a.replace(changed);
    const rb = b.update({ services: { remove: [{ namespace: 'ns1', name: 'svc1' }] }, endpointSlices: { remove: [{ namespace: 'ns1', name: 'svc1-slice' }], upsert: [eps(2, ['10.180.2.5'], { name: 'svc2-extra' })] } });
    expect(render(ra.payload)).toBe(render(rb.payload));
    expect(ra.changedServices).toEqual(['ns1/svc1', 'ns2/svc2']);
    expect(render(rb.ruleset)).toBe(render(compile(b.snapshot()).ruleset));
    expect(render(rb.ruleset)).toBe(render(compile(changed).ruleset));
  });

  it("topLevelChains 'when-changed': only the chains that changed, nothing at all when nothing did", () => {
    const c = createIncrementalCompiler({ topLevelChains: 'when-changed' });
    c.replace(world(3));
    // An endpoint moves: svc2's chains (and the stale SEP), no top-level chain, no filter table.
    let r = c.update({ endpointSlices: { upsert: [eps(2, ['10.180.2.1', '10.180.2.9'])] } });
    expect(r.payload.tables.map((t) => t.name)).toEqual(['nat']);
    expect(chainsOf(r.payload).filter((ch) => TOP.includes(ch))).toEqual([]);
    expect(r.staleChains).toHaveLength(1);
    expect(deletes(r.payload)).toEqual(r.staleChains);
    // A new Service without endpoints: a REJECT in filter KUBE-SERVICES, nothing in nat.
    r = c.update({ services: { upsert: [svc(4)] } });
    expect(r.changedServices).toEqual([]);
    expect(r.payload.tables.map((t) => [t.name, t.chains.map((ch) => ch.name)])).toEqual([['filter', ['KUBE-SERVICES']]]);
    expect(r.payload.tables[0]!.commands.map((x) => (x as AppendCommand).args.at(-1))).toEqual(['REJECT']);
    // Its endpoints arrive: the REJECT goes, nat KUBE-SERVICES gains the jump to its new chains.
    r = c.update({ endpointSlices: { upsert: [eps(4, ['10.180.4.1'])] } });
    expect(r.payload.tables.map((t) => [t.name, t.chains.map((ch) => ch.name).filter((n) => !/^KUBE-(SVC|SEP)-/.test(n))])).toEqual([
      ['filter', ['KUBE-SERVICES']],
      ['nat', ['KUBE-SERVICES']],
    ]);
    expect(rulesIn(r.payload, 'KUBE-SERVICES')).toHaveLength(4 + 1); // all four jumps and the node-ports tail
    // Nothing changed: an empty payload.
    r = c.update({});
    expect(r.payload.tables).toEqual([]);
    expect(render(r.payload)).toBe('');
  });

  it('snapshots with Pods: slices derived as compile() derives them, also after Pod changes', () => {
    const pod = (name: string, ip: string) => ({
      namespace: 'ns1',
      name,
      labels: { app: 'a' },
      nodeName: 'test-node',
      phase: 'Running',
      podIPs: [ip],
      ready: true,
      terminating: false,
      containerPorts: [],
    });
    const s: Service = { ...svc(1), selector: { app: 'a' }, ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 0, targetPort: 8080 }] };
    const snap: Snapshot = { services: [s], endpointSlices: [], nodes: [node], config, pods: [pod('a', '10.180.0.5')] };
    const c = createIncrementalCompiler();
    expect(render(c.replace(snap).ruleset)).toBe(render(compile(snap).ruleset));
    const r = c.update({ pods: { upsert: [pod('b', '10.180.0.6')] } });
    expect(r.changedServices).toEqual(['ns1/svc1']);
    expect(render(r.ruleset)).toBe(render(compile({ ...snap, pods: [pod('a', '10.180.0.5'), pod('b', '10.180.0.6')] }).ruleset));
    expect(rulesIn(r.ruleset, 'KUBE-SEP-')).toHaveLength(4);
  });
});
