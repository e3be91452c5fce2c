/**
 * The check KEP-3453 declined: after every step of a random sequence of changes, the kernel state
 * reached by applying the partial payloads one after the other (iptables-restore --noflush, in the
 * project's model of it) equals the state a full restore of `compile()` of the new snapshot gives,
 * rule for rule; and the incremental full output equals `compile()` byte for byte.
 */
import fc from 'fast-check';
import type { NetfilterState, Ruleset } from '@svcrules/iptables';
import { applyRestore, emptyState, render, stateToRuleset } from '@svcrules/iptables';
import { snapshotArb } from '@svcrules/testkit';
import { compile } from '../src/compile.js';
import { createIncrementalCompiler } from '../src/incremental.js';
import type { IncrementalCompiler, IncrementalResult } from '../src/incremental.js';
import type { Endpoint, EndpointSlice, IPFamily, NodeInfo, ProxyConfig, Service, Snapshot } from '../src/model.js';

type Op =
  | { kind: 'toggle-service'; i: number }
  | { kind: 'toggle-slice'; i: number }
  | { kind: 'scale'; i: number; n: number }
  | { kind: 'move-endpoint'; i: number; j: number; octet: number }
  | { kind: 'endpoint-condition'; i: number; j: number; ready: boolean; terminating: boolean; local: boolean }
  | { kind: 'slice-metadata'; i: number; value: string }
  | { kind: 'change-port'; i: number; delta: number; drop: boolean }
  | { kind: 'policy'; i: number; what: 'eTP' | 'iTP' | 'affinity' | 'type' | 'ranges' }
  | { kind: 'node'; what: 'zone' | 'address' | 'name' | 'unrelated-label' }
  | { kind: 'config'; what: 'masqueradeAll' | 'detectLocalMode' }
  | { kind: 'failed-restore' }
  | { kind: 'replace' };

const index = fc.nat({ max: 7 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('toggle-service' as const), i: index }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('toggle-slice' as const), i: index }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('scale' as const), i: index, n: fc.nat({ max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('move-endpoint' as const), i: index, j: index, octet: fc.integer({ min: 1, max: 254 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('endpoint-condition' as const), i: index, j: index, ready: fc.boolean(), terminating: fc.boolean(), local: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('slice-metadata' as const), i: index, value: fc.constantFrom('a', 'b') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('change-port' as const), i: index, delta: fc.integer({ min: 1, max: 3 }), drop: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('policy' as const), i: index, what: fc.constantFrom('eTP', 'iTP', 'affinity', 'type', 'ranges') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('node' as const), what: fc.constantFrom('zone', 'address', 'name', 'unrelated-label') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('config' as const), what: fc.constantFrom('masqueradeAll', 'detectLocalMode') }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'failed-restore' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'replace' as const }) },
);

const key = (o: { namespace: string; name: string }) => `${o.namespace}/${o.name}`;
const pick = <T>(xs: readonly T[], i: number): T | undefined => (xs.length === 0 ? undefined : xs[i % xs.length]);

/** The world the ops edit: a pool of Services and slices (from the arbitrary), some of them present. */
class World {
  services: Service[];
  slices: EndpointSlice[];
  nodes: NodeInfo[];
  config: ProxyConfig | undefined;
  private readonly pool: Snapshot;

  constructor(pool: Snapshot, present: number) {
    this.pool = pool;
    this.services = pool.services.slice(0, present);
    this.slices = pool.endpointSlices.filter((s) => this.services.some((v) => v.namespace === s.namespace && v.name === s.serviceName));
    this.nodes = [...pool.nodes];
    this.config = pool.config;
  }

  snapshot(): Snapshot {
    return { services: this.services, endpointSlices: this.slices, nodes: this.nodes, ...(this.config ? { config: this.config } : {}) };
  }

  /** Applies `op`; returns the watch events it amounts to (undefined for ops that are not changes). */
  apply(op: Op, family: IPFamily): Parameters<IncrementalCompiler['update']>[0] | undefined {
    switch (op.kind) {
      case 'toggle-service': {
        const s = pick(this.pool.services, op.i);
        if (!s) return {};
        if (this.services.some((v) => key(v) === key(s))) {
          this.services = this.services.filter((v) => key(v) !== key(s));
          return { services: { remove: [s] } };
        }
        this.services = [...this.services, s];
        return { services: { upsert: [s] } };
      }
      case 'toggle-slice': {
        const s = pick(this.pool.endpointSlices, op.i);
        if (!s) return {};
        if (this.slices.some((v) => key(v) === key(s))) {
          this.slices = this.slices.filter((v) => key(v) !== key(s));
          return { endpointSlices: { remove: [s] } };
        }
        this.slices = [...this.slices, s];
        return { endpointSlices: { upsert: [s] } };
      }
      case 'scale':
      case 'move-endpoint':
      case 'endpoint-condition':
      case 'slice-metadata': {
        const s = pick(this.slices, op.i);
        if (!s) return {};
        let next: EndpointSlice;
        if (op.kind === 'scale') {
          const endpoints: Endpoint[] = [];
          for (let j = 0; j < op.n; j++) endpoints.push(s.endpoints[j] ?? { addresses: [family === 'IPv4' ? `10.181.${op.i}.${j + 1}` : `fd00:10:181::${op.i}:${j + 1}`] });
          next = { ...s, endpoints };
        } else if (op.kind === 'move-endpoint') {
          const ep = pick(s.endpoints, op.j);
          if (!ep) return {};
          const addr = family === 'IPv4' ? `10.182.0.${op.octet}` : `fd00:10:182::${op.octet.toString(16)}`;
          next = { ...s, endpoints: s.endpoints.map((e) => (e === ep ? { ...e, addresses: [addr] } : e)) };
        } else if (op.kind === 'endpoint-condition') {
          const ep = pick(s.endpoints, op.j);
          if (!ep) return {};
          const { nodeName: _, ...rest } = ep;
          const changed: Endpoint = { ...rest, ready: op.ready, serving: true, terminating: op.terminating, ...(op.local ? { nodeName: 'test-node' } : { nodeName: 'other-node' }) };
          next = { ...s, endpoints: s.endpoints.map((e) => (e === ep ? changed : e)) };
        } else {
          next = { ...s, labels: { ...s.labels, 'example.com/revision': op.value } };
        }
        this.slices = this.slices.map((v) => (v === s ? next : v));
        return { endpointSlices: { upsert: [next] } };
      }
      case 'change-port':
      case 'policy': {
        const s = pick(this.services, op.i);
        if (!s) return {};
        let next: Service;
        if (op.kind === 'change-port') {
          const ports = op.drop && s.ports.length > 1 ? s.ports.slice(1) : s.ports.map((p, j) => (j === 0 ? { ...p, port: p.port + op.delta } : p));
          next = { ...s, ports };
        } else if (op.what === 'eTP') next = { ...s, externalTrafficPolicy: s.externalTrafficPolicy === 'Local' ? 'Cluster' : 'Local' };
        else if (op.what === 'iTP') next = { ...s, internalTrafficPolicy: s.internalTrafficPolicy === 'Local' ? 'Cluster' : 'Local' };
        else if (op.what === 'affinity') next = { ...s, sessionAffinity: s.sessionAffinity === 'ClientIP' ? 'None' : 'ClientIP' };
        else if (op.what === 'type') {
          const type = s.type === 'ClusterIP' ? 'NodePort' : 'ClusterIP';
          next = { ...s, type, ports: s.ports.map((p, j) => ({ ...p, nodePort: type === 'NodePort' ? 30100 + j : 0 })), loadBalancerIngress: [], loadBalancerSourceRanges: [], healthCheckNodePort: 0 };
        } else {
          next = { ...s, loadBalancerSourceRanges: s.loadBalancerSourceRanges.length > 0 ? [] : family === 'IPv4' ? ['203.0.113.0/25'] : ['fd00:203::/64'] };
        }
        this.services = this.services.map((v) => (v === s ? next : v));
        return { services: { upsert: [next] } };
      }
      case 'node': {
        const n = this.nodes[0]!;
        const v4 = family === 'IPv4';
        let next: NodeInfo;
        if (op.what === 'zone') next = { ...n, labels: { ...n.labels, 'topology.kubernetes.io/zone': n.labels['topology.kubernetes.io/zone'] === 'zone-a' ? 'zone-b' : 'zone-a' } };
        else if (op.what === 'address') next = { ...n, addresses: [{ type: 'InternalIP', address: v4 ? '203.0.113.7' : 'fd00:203::7' }], podCIDRs: [v4 ? '10.181.0.0/16' : 'fd00:10:181::/64'] };
        else if (op.what === 'unrelated-label') next = { ...n, labels: { ...n.labels, 'example.com/rack': 'r1' } };
        else {
          // The node the rules are for becomes another one: no endpoint is local any more.
          this.config = { ...this.config, hostnameOverride: this.config?.hostnameOverride === 'other-node' ? 'test-node' : 'other-node' };
          return { config: this.config };
        }
        this.nodes = [next, ...this.nodes.slice(1)];
        return { nodes: { upsert: [next] } };
      }
      case 'config': {
        const c = this.config ?? {};
        this.config =
          op.what === 'masqueradeAll' ? { ...c, masqueradeAll: !c.masqueradeAll } : { ...c, detectLocalMode: c.detectLocalMode === 'NodeCIDR' ? 'ClusterCIDR' : 'NodeCIDR' };
        return { config: this.config };
      }
      case 'failed-restore':
      case 'replace':
        return undefined;
    }
  }
}

const canonical = (state: NetfilterState) => render(stateToRuleset(state));

function restore(state: NetfilterState, payload: Ruleset, noflush: boolean): NetfilterState {
  const r = applyRestore(state, payload, { noflush });
  if (!r.ok) throw new Error(`restore failed: ${r.error.message}\n${render(payload)}`);
  return r.state;
}

function checkStep(result: IncrementalResult, snapshot: Snapshot, options: { family: IPFamily; largeClusterEndpointsThreshold: number }, host: NetfilterState): NetfilterState {
  const expected = compile(snapshot, options);
  expect(render(result.ruleset)).toBe(render(expected.ruleset));
  expect(result.stats).toEqual(expected.stats);
  expect(result.diagnostics).toEqual(expected.diagnostics);
  const after = restore(host, result.payload, true);
  expect(canonical(after)).toBe(canonical(restore(emptyState(), expected.ruleset, false)));
  return after;
}

describe('incremental compiler: partial payloads reach the full state', () => {
  const cases = [
    ['IPv4', 'always'],
    ['IPv6', 'always'],
    ['IPv4', 'when-changed'],
    ['IPv6', 'when-changed'],
  ] as const;
  for (const [family, topLevelChains] of cases) {
    it(`${family}, top-level chains ${topLevelChains}: every step, previous state + payload = full compile, and ruleset = compile()`, () => {
      fc.assert(
        fc.property(
          snapshotArb(family, 8),
          fc.nat({ max: 8 }),
          fc.constantFrom(4, 12, 1000),
          fc.array(opArb, { minLength: 1, maxLength: 10 }),
          (pool, present, threshold, ops) => {
            const options = { family, largeClusterEndpointsThreshold: threshold };
            const world = new World(pool, present);
            const compiler = createIncrementalCompiler({ ...options, topLevelChains });
            let result = compiler.replace(world.snapshot());
            expect(result.sync).toBe('full');
            let host = checkStep(result, world.snapshot(), options, emptyState());
            for (const op of ops) {
              if (op.kind === 'failed-restore') {
                // A sync whose restore fails: its payload never reaches the kernel, the next sync is full.
                compiler.update(world.apply({ kind: 'toggle-service', i: ops.length }, family)!);
                compiler.requestFullSync();
                result = compiler.update({});
                expect(result.sync).toBe('full');
              } else if (op.kind === 'replace') {
                result = compiler.replace(world.snapshot());
              } else {
                result = compiler.update(world.apply(op, family)!);
              }
              host = checkStep(result, world.snapshot(), options, host);
            }
          },
        ),
      );
    });
  }
});
