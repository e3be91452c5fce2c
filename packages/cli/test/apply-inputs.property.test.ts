/**
 * The input record of `svcrules apply --state` (src/apply-inputs.ts): after any sequence of inputs,
 * each applied by a new "process" from the saved state text (the changed Services alone when the
 * record allows, everything otherwise), the host equals one full sync of the last input, and the
 * state's chain digests and input record equal those a full sync would save.
 */
import fc from 'fast-check';
import { compileRecorded } from '@svcrules/core';
import { createApplier, FakeNetfilter, parseState, ScopeRefusedError, serializeState, type HostIdentity } from '@svcrules/applier';
import { loadSnapshot } from '@svcrules/snapshot';
import { scaledRuns } from '@svcrules/testkit';
import { recordInputs, scopedChange, splitList, type InputContext } from '../src/apply-inputs.js';

const ID: HostIdentity = { family: 'ipv4', machine: 'm', boot: 'b', netns: 'netns t (inode 1)', iptables: 'iptables v1.8.9 (nf_tables)' };
const CONTEXT: InputContext = { family: 'ipv4', options: { family: 'IPv4', randomFully: true, nfacct: false }, flags: {} };

type Json = Record<string, unknown>;

interface Svc {
  readonly name: string;
  readonly ip: number;
  readonly type: 'ClusterIP' | 'NodePort';
  readonly udp: boolean;
  readonly local: boolean;
  /** Endpoints per slice: [address index, ready, on this node]. */
  readonly slices: readonly (readonly (readonly [number, boolean, boolean])[])[];
}

const svcArb = (name: string): fc.Arbitrary<Svc> =>
  fc.record({
    name: fc.constant(name),
    ip: fc.integer({ min: 1, max: 250 }),
    type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const),
    udp: fc.boolean(),
    local: fc.boolean(),
    slices: fc.array(fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.boolean()), { maxLength: 4 }), { maxLength: 2 }),
  });

function objects(svcs: readonly Svc[], extra: { nodeZone?: string }): Json[] {
  const out: Json[] = [
    { apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', mode: 'iptables', hostnameOverride: 'node-0', clusterCIDR: '10.0.0.0/8', detectLocalMode: 'ClusterCIDR' },
    {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-0', labels: { 'topology.kubernetes.io/zone': extra.nodeZone ?? 'zone-a' } },
      spec: { podCIDR: '10.0.0.0/24', podCIDRs: ['10.0.0.0/24'] },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.0.10' }] },
    },
  ];
  svcs.forEach((s, i) => {
    const port = { name: 'p', protocol: s.udp ? 'UDP' : 'TCP', port: 80, targetPort: 8080, ...(s.type === 'NodePort' ? { nodePort: 30000 + i } : {}) };
    const spec: Json = { type: s.type, clusterIP: `172.16.${i}.${s.ip}`, clusterIPs: [`172.16.${i}.${s.ip}`], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', ports: [port] };
    if (s.type === 'NodePort') spec['externalTrafficPolicy'] = s.local ? 'Local' : 'Cluster';
    out.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: s.name, namespace: 'ns' }, spec });
    s.slices.forEach((eps, j) =>
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: `${s.name}-${j}`, namespace: 'ns', labels: { 'kubernetes.io/service-name': s.name } },
        addressType: 'IPv4',
        endpoints: eps.map(([a, ready, here]) => ({ addresses: [`10.1.${i}.${a}`], conditions: { ready }, nodeName: here ? 'node-0' : 'node-1' })),
        ports: [{ name: 'p', protocol: port.protocol, port: 8080 }],
      }),
    );
  });
  return out;
}

const listText = (items: Json[]) => JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items }, null, 2) + '\n';

/** One process of `svcrules apply --state --top-level-chains when-changed`, as commands/apply.ts runs it. */
async function applyOnce(nf: FakeNetfilter, savedText: string | undefined, bytes: Uint8Array, random: (n: number) => string): Promise<{ text: string; scoped: boolean; reason?: string | undefined }> {
  const saved = savedText === undefined ? undefined : parseState(savedText);
  const applier = createApplier({ netfilter: nf, family: 'ipv4', topLevelChains: 'when-changed', state: { identity: ID, saved: saved ? { state: saved } : { reason: 'first apply' }, random } });
  const change = scopedChange(bytes, saved, CONTEXT, 'in.json');
  if ('scope' in change) {
    const r = await applier.apply(change.desired, { scope: change.scope }).catch((e: unknown) => {
      if (e instanceof ScopeRefusedError) return undefined;
      throw e;
    });
    if (r) return { text: serializeState({ ...r.state!, inputs: change.inputs }), scoped: true };
  }
  const load = loadSnapshot([{ name: 'in.json', text: Buffer.from(bytes).toString('utf8') }]);
  expect(load.diagnostics).toEqual([]);
  const compiled = compileRecorded(load.snapshot, CONTEXT.options);
  const r = await applier.apply(compiled.result.ruleset);
  const inputs = recordInputs(bytes, load, compiled, CONTEXT, r.state!.seed);
  return { text: serializeState({ ...r.state!, inputs }), scoped: false, reason: 'reason' in change ? change.reason : undefined };
}

/** The host without our canary's token rule. */
const hostText = async (nf: FakeNetfilter) => (await nf.save('ipv4')).replace(/^-A KUBE-SVCRULES-CANARY .*\n/gm, '');

describe('apply --state with the input record', () => {
  test('splitList finds the items of a kubectl list and refuses anything else', () => {
    const text = listText([{ kind: 'A', s: 'a "quoted" ] } string \\' }, { kind: 'B', n: [1, { x: null }] }]);
    const b = Buffer.from(text);
    const l = splitList(b)!;
    expect(l.items.length).toBe(4);
    expect(JSON.parse(text.slice(l.items[0], l.items[1]))).toEqual({ kind: 'A', s: 'a "quoted" ] } string \\' });
    expect(JSON.parse(text.slice(l.items[2], l.items[3]))).toEqual({ kind: 'B', n: [1, { x: null }] });
    expect(text[l.open]).toBe('[');
    expect(text[l.close]).toBe(']');
    for (const bad of ['[]', '{"items": [1]}', '{"items": [{}], "items": []}', '{"items": [{}] x', '{"a": "unterminated}', '{}', '{"items": [{},]}']) expect(splitList(Buffer.from(bad))).toBeUndefined();
  });

  test('after any sequence of inputs the host and the state are those of one full sync of the last input', async () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const stepArb = fc.record({
      svcs: fc.tuple(...names.map(svcArb)).chain((all) => fc.subarray(all, { minLength: 1 })),
      nodeZone: fc.constantFrom('zone-a', 'zone-b'),
    });
    // Steps mostly derived from the previous one by a small change: one Service's endpoints, its address, or a Service in or out.
    const seqArb = fc.tuple(stepArb, fc.array(fc.tuple(fc.nat(), svcArb('x'), fc.constantFrom('address', 'address', 'endpoints', 'ip', 'type', 'drop', 'same', 'other')), { minLength: 1, maxLength: 5 }));
    let scoped = 0;
    let later = 0;
    await fc.assert(
      fc.asyncProperty(seqArb, async ([first, changes]) => {
        // A counter from 0 per host: both states get the same seed, so their digests compare.
        const counterFrom0 = () => {
          let counter = 0;
          return (n: number) => (counter++).toString(16).padStart(2 * n, '0');
        };
        const random = counterFrom0();
        const nf = new FakeNetfilter();
        let saved: string | undefined;
        let svcs = [...first.svcs];
        let zone = first.nodeZone;
        const inputs = [listText(objects(svcs, { nodeZone: zone }))];
        for (const [at, fresh, what] of changes) {
          const i = at % svcs.length;
          const s = svcs[i]!;
          const [first0, ...rest0] = s.slices[0] ?? [];
          if (what === 'address' && first0) svcs[i] = { ...s, slices: [[[fresh.ip % 40 + 41, first0[1], first0[2]], ...rest0], ...s.slices.slice(1)] };
          else if (what === 'endpoints') svcs[i] = { ...s, slices: fresh.slices };
          else if (what === 'ip') svcs[i] = { ...s, ip: fresh.ip };
          else if (what === 'type') svcs[i] = { ...s, type: fresh.type, local: fresh.local };
          else if (what === 'drop' && svcs.length > 1) svcs = svcs.filter((_, j) => j !== i);
          else if (what === 'other') zone = zone === 'zone-a' ? 'zone-b' : 'zone-a';
          inputs.push(listText(objects(svcs, { nodeZone: zone })));
        }
        for (const [k, text] of inputs.entries()) {
          const bytes = Buffer.from(text);
          const r = await applyOnce(nf, saved, bytes, random);
          saved = r.text;
          if (k > 0) later++;
          if (r.scoped) scoped++;
          // One full sync of the same input on a fresh host, with a fresh state.
          const ref = new FakeNetfilter();
          const full = await applyOnce(ref, undefined, bytes, counterFrom0());
          expect(await hostText(nf)).toBe(await hostText(ref));
          const mine = parseState(saved);
          const theirs = parseState(full.text);
          expect(mine.seed).toBe(theirs.seed);
          expect(new Map(mine.chains)).toEqual(new Map(theirs.chains));
          expect(mine.inputs).toEqual(theirs.inputs);
          expect([...mine.udp].sort()).toEqual([...theirs.udp].sort());
          // The next run from this state with the same input changes nothing.
          const again = await applyOnce(nf, saved, bytes, random);
          expect(again.scoped).toBe(true);
          expect(await hostText(nf)).toBe(await hostText(ref));
        }
      }),
      { numRuns: scaledRuns(30, 10) },
    );
    // The property is about scoped applies: many steps after the first must have been one.
    expect(scoped).toBeGreaterThan(later / 3);
  });
});
