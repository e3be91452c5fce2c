import fc from 'fast-check';
import { MAX_COMMENT_LENGTH, isVetted, parseRuleset, render } from '@svcrules/iptables';
import type { Ruleset } from '@svcrules/iptables';
import { scaledRuns } from '@svcrules/testkit';
import { compile } from '../src/compile.js';
import { createIncrementalCompiler } from '../src/incremental.js';
import type { Snapshot } from '../src/model.js';
import { service, slice } from './helpers.js';

/**
 * Service rules are built with `vettedAppend` (their words checked once per service port, not again
 * by the renderer). A snapshot built by code, not the loader, may hold anything: whatever it holds,
 * rendering either refuses (throws) or writes text that reads back as exactly the rules compile
 * built, every comment within iptables' limit.
 */
const hostile = fc.oneof(
  fc.constantFrom(
    'a" -j ACCEPT "',
    'x\n-A KUBE-SERVICES -j ACCEPT',
    'COMMIT\n*filter',
    "it's",
    'back\\slash',
    'tab\there',
    'ünïcode',
    ' ',
    '',
    'a'.repeat(200),
    'a'.repeat(300),
    '10.180.0.1 -j ACCEPT',
    '10.0.0.0/8" ! -s "1.1.1.1',
  ),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

type Field = (s: Snapshot, v: string) => Snapshot;
const svc = (s: Snapshot, over: object): Snapshot => ({ ...s, services: [{ ...s.services[0]!, ...over }] });
const FIELDS: Record<string, Field> = {
  name: (s, v) => ({ ...svc(s, { name: v }), endpointSlices: [{ ...s.endpointSlices[0]!, serviceName: v }] }),
  namespace: (s, v) => ({ ...svc(s, { namespace: v }), endpointSlices: [{ ...s.endpointSlices[0]!, namespace: v }] }),
  portName: (s, v) => ({
    ...svc(s, { ports: [{ ...s.services[0]!.ports[0]!, name: v }] }),
    endpointSlices: [{ ...s.endpointSlices[0]!, ports: [{ name: v, port: 80, protocol: 'TCP' }] }],
  }),
  clusterIP: (s, v) => svc(s, { clusterIP: v, clusterIPs: [v] }),
  externalIP: (s, v) => svc(s, { externalIPs: [v] }),
  ingress: (s, v) => svc(s, { loadBalancerIngress: [{ ip: v }] }),
  sourceRange: (s, v) => svc(s, { loadBalancerSourceRanges: [v] }),
  endpoint: (s, v) => ({ ...s, endpointSlices: [{ ...s.endpointSlices[0]!, endpoints: [{ addresses: [v], nodeName: 'test-node' }, ...s.endpointSlices[0]!.endpoints] }] }),
  clusterCIDR: (s, v) => ({ ...s, config: { ...s.config, clusterCIDRs: [v] } }),
  interfacePrefix: (s, v) => ({ ...s, config: { ...s.config, detectLocalMode: 'InterfaceNamePrefix', interfaceNamePrefix: v } }),
};

function snapshot(affinity: boolean, local: boolean): Snapshot {
  const s = service('ns1', 'svc1', {
    type: 'LoadBalancer',
    ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 30001 }],
    externalIPs: ['192.168.99.11'],
    loadBalancerIngress: [{ ip: '1.2.3.4' }],
    loadBalancerSourceRanges: ['203.0.113.0/25', '192.168.0.0/16'],
    sessionAffinity: affinity ? 'ClientIP' : 'None',
    externalTrafficPolicy: local ? 'Local' : 'Cluster',
    healthCheckNodePort: local ? 30002 : 0,
  });
  const ep = (ip: string, nodeName: string) => ({ addresses: [ip], nodeName });
  return {
    services: [s],
    endpointSlices: [slice('ns1', 'svc1', { endpoints: [ep('10.180.0.1', 'test-node'), ep('10.180.0.2', 'other')] })],
    nodes: [{ name: 'test-node', addresses: [{ type: 'InternalIP', address: '192.168.0.2' }], podCIDRs: [], labels: {} }],
    config: { hostnameOverride: 'test-node', clusterCIDRs: ['10.0.0.0/8'] },
  };
}

const rules = (r: Ruleset) => r.tables.map((t) => ({ name: t.name, chains: t.chains.map((c) => c.name), commands: t.commands.map((c) => (c.kind === 'append' ? [c.chain, ...c.args] : ['-X', c.chain])) }));

describe('words of service rules are checked once, where they are built', () => {
  test('the unmodified snapshot gives vetted service rules that render and read back', () => {
    const r = compile(snapshot(true, true));
    expect(r.serviceRules[0]!.natRules.length).toBeGreaterThan(10);
    expect(r.serviceRules.every((p) => p.vetted && [...p.natRules, ...p.filterRules].every(isVetted))).toBe(true);
    const nat = r.ruleset.tables.find((t) => t.name === 'nat')!;
    expect(nat.chains.filter(isVetted).map((c) => c.name)).toEqual(r.serviceRules.flatMap((p) => p.natChains));
    expect(rules(parseRuleset(render(r.ruleset)))).toEqual(rules(r.ruleset));
  });

  test('hostile text in any field is refused by the renderer or reads back as exactly the rules built', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.keys(FIELDS)), hostile, fc.boolean(), fc.boolean(), (field, value, affinity, local) => {
        let result;
        try {
          result = compile(FIELDS[field]!(snapshot(affinity, local), value));
        } catch {
          return; // refused before any rule exists
        }
        let text: string;
        try {
          text = render(result.ruleset);
        } catch (e) {
          expect(String(e)).toMatch(/cannot render table/);
          return;
        }
        expect(rules(parseRuleset(text))).toEqual(rules(result.ruleset));
        for (const line of text.split('\n')) {
          const comment = /--comment (?:"([^"]*)"|(\S+))/.exec(line);
          if (comment) expect((comment[1] ?? comment[2]!).length).toBeLessThanOrEqual(MAX_COMMENT_LENGTH);
        }
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });

  test('an endpoint added by an incremental update is checked although the port\'s other endpoints are not checked again', () => {
    fc.assert(
      fc.property(hostile, fc.boolean(), fc.boolean(), fc.constantFrom<'always' | 'when-changed'>('always', 'when-changed'), (value, affinity, local, topLevelChains) => {
        const inc = createIncrementalCompiler({ topLevelChains });
        const clean = snapshot(affinity, local);
        inc.replace(clean);
        let result;
        try {
          result = inc.replace(FIELDS.endpoint!(clean, value));
        } catch {
          return;
        }
        for (const ruleset of [result.payload, result.ruleset]) {
          let text: string;
          try {
            text = render(ruleset);
          } catch (e) {
            expect(String(e)).toMatch(/cannot render table/);
            continue;
          }
          expect(rules(parseRuleset(text))).toEqual(rules(ruleset));
        }
      }),
      { numRuns: scaledRuns(200, 60) },
    );
  });
});
