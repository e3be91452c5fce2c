/**
 * The chain diff's two ways of pairing a port's SEP chains agree: the alignment `serviceRules`
 * records when it reuses the previous rules (RuleReuse.from/reusedAt), and the walk over both
 * endpoint lists it falls back to.
 */
import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import { buildContext } from '../src/context.js';
import { buildEndpointsMap } from '../src/endpoints.js';
import { isVetted } from '@svcrules/iptables';
import { chainDiff } from '../src/incremental/chain-diff.js';
import { PortPiece, planService, renderService } from '../src/incremental/compiled-state.js';
import type { ServiceEntry } from '../src/incremental/compiled-state.js';
import type { NodeInfo, Snapshot } from '../src/model.js';
import { servicePortInfos } from '../src/service-port.js';
import { service, slice } from './helpers.js';

const node: NodeInfo = { name: 'test-node', addresses: [{ type: 'InternalIP', address: '192.168.0.2' }], podCIDRs: ['10.180.0.0/24'], labels: {} };
const config = { hostnameOverride: 'test-node', clusterCIDRs: ['10.0.0.0/8'] };

function entry(ips: readonly string[], affinity: boolean, large: boolean, old?: ServiceEntry): ServiceEntry {
  const svc = service('ns', 'svc', { clusterIP: '172.30.0.1', ...(affinity ? { sessionAffinity: 'ClientIP' as const } : {}) });
  const sl = slice('ns', 'svc', { endpoints: ips.map((ip, i) => ({ addresses: [ip], nodeName: i % 2 === 0 ? 'test-node' : 'other' })) });
  const snapshot: Snapshot = { services: [svc], endpointSlices: [sl], nodes: [node], config };
  const ctx = buildContext(snapshot, {}, []);
  const planned = planService('ns/svc', servicePortInfos(svc, 'IPv4'), buildEndpointsMap([sl], 'IPv4', ctx.nodeName), ctx);
  return renderService(planned, ctx, large, old);
}

/** The same entry without the recorded alignment: the diff has to walk. */
function unaligned(e: ServiceEntry): ServiceEntry {
  const ports = e.ports.map((p) => new PortPiece(p.svcKey, p.plan, { ...p.rules, reuse: p.rules.reuse && { ...p.rules.reuse, from: undefined, reusedAt: undefined } }, p.endpoints));
  return { ...e, ports };
}

const diffOf = (d: ReturnType<typeof chainDiff>) => ({ write: [...d.write.values()].map((w) => ({ chains: w.chains, rules: w.rules.map((r) => [r.chain, ...r.args]) })), removed: d.removed });

const ipsArb = fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 25 }).map((xs) => xs.map((x) => `10.180.${x % 7}.${x}`));

describe('chain diff: the recorded alignment and the walk agree', () => {
  it('on random endpoint changes (affinity, large-cluster mode)', () => {
    fc.assert(
      fc.property(ipsArb, ipsArb, fc.boolean(), fc.boolean(), (before, after, affinity, large) => {
        const a = entry(before, affinity, large);
        const b = entry(after, affinity, large, a);
        const walkB = unaligned(b);
        // The alignment is there to be used (a has rules to reuse whenever it had endpoints).
        if (before.length > 0 && after.length > 0) expect(b.ports[0]!.rules.reuse?.from).toBe(a.ports[0]!.rules);
        const walked = diffOf(chainDiff(a, walkB));
        const aligned = diffOf(chainDiff(a, b));
        expect(aligned).toEqual(walked);
        // Used once, then let go.
        expect(b.ports[0]!.rules.reuse?.from).toBeUndefined();
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });

  it('a new version takes the declarations of the SEP chains it reused, and only when the old one made them', () => {
    fc.assert(
      fc.property(ipsArb, ipsArb, fc.boolean(), fc.boolean(), fc.boolean(), (before, after, affinity, large, declared) => {
        const a = entry(before, affinity, large);
        const oldDecls = declared ? a.ports[0]?.chainDecls : undefined;
        const b = entry(after, affinity, large, a);
        const port = b.ports[0];
        if (!port) return;
        const decls = port.chainDecls;
        // The same declarations a fresh port makes: the port's chains, in order, vetted alike.
        expect(decls.map((d) => [d.name, isVetted(d)])).toEqual(port.rules.natChains.map((n) => [n, port.rules.vetted]));
        const olds = new Map((oldDecls ?? []).map((d) => [d.name, d]));
        const sep = port.rules.sepChainStart;
        decls.forEach((d, i) => {
          const old = olds.get(d.name);
          // Shared exactly for the reused SEP chains of a version that had declared its chains.
          if (i >= sep && old) expect(d).toBe(old);
          else if (old) expect(d).not.toBe(old);
        });
        if (!declared && a.ports[0]) expect(decls.some((d) => a.ports[0]!.chainDecls.includes(d))).toBe(false);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });
});
