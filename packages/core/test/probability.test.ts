import fc from 'fast-check';
import { compile } from '../src/compile.js';
import type { Snapshot } from '../src/model.js';
import { probability } from '../src/probability.js';
import { service, slice } from './helpers.js';

describe('probability (Go %0.10f of 1/k)', () => {
  test.each([
    [1, '1.0000000000'],
    [2, '0.5000000000'],
    [3, '0.3333333333'],
    [4, '0.2500000000'],
    [5, '0.2000000000'],
    [6, '0.1666666667'],
    [7, '0.1428571429'],
    [10, '0.1000000000'],
    [1000, '0.0010000000'],
    [2048, '0.0004882812'],
    [100000, '0.0000100000'],
    [100001, '0.0000099999'],
  ])('k=%i -> %s', (k, s) => expect(probability(k)).toBe(s));

  test('agrees with toFixed except on exact binary ties, where it rounds half to even', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), (k) => {
        const ours = probability(k);
        const js = (1 / k).toFixed(10);
        if (ours !== js) {
          // The only legitimate difference: the double is exactly halfway, which needs k a power of two.
          expect(k & (k - 1)).toBe(0);
        }
      }),
    );
  });
});

/**
 * The ladder the compiler writes, read back from its rules (not rebuilt from probability()): kube-proxy's
 * writeServiceToEndpointRules gives endpoint i of n `--probability` 1/(n-i) printed with Go's %0.10f, and
 * the last endpoint none. The literal values are Go's output.
 */
describe('the probability ladder in compiled KUBE-SVC / KUBE-SVL chains', () => {
  const LADDERS: Record<number, string[]> = {
    1: [],
    2: ['0.5000000000'],
    3: ['0.3333333333', '0.5000000000'],
    4: ['0.2500000000', '0.3333333333', '0.5000000000'],
    7: ['0.1428571429', '0.1666666667', '0.2000000000', '0.2500000000', '0.3333333333', '0.5000000000'],
    10: ['0.1000000000', '0.1111111111', '0.1250000000', '0.1428571429', '0.1666666667', '0.2000000000', '0.2500000000', '0.3333333333', '0.5000000000'],
  };

  /** Per endpoint rule of the chain with `prefix`, in order: its --probability, or null for none. */
  function ladder(n: number, prefix: 'KUBE-SVC-' | 'KUBE-SVL-', over: Parameters<typeof service>[2] = {}): (string | null)[] {
    const ips = Array.from({ length: n }, (_, i) => `10.180.0.${i + 1}`);
    const snap: Snapshot = {
      services: [service('ns1', 'svc1', over)],
      endpointSlices: [slice('ns1', 'svc1', { endpoints: ips.map((ip) => ({ addresses: [ip], nodeName: 'test-node' })) })],
      nodes: [{ name: 'test-node', addresses: [{ type: 'InternalIP', address: '192.168.0.2' }], podCIDRs: [], labels: {} }],
      config: { hostnameOverride: 'test-node', clusterCIDRs: ['10.0.0.0/8'], detectLocalMode: 'ClusterCIDR' },
    };
    const nat = compile(snap).ruleset.tables.find((t) => t.name === 'nat')!;
    const rules = nat.commands.filter((c) => c.kind === 'append' && c.chain.startsWith(prefix) && c.args.includes('-j') && c.args[c.args.indexOf('-j') + 1]!.startsWith('KUBE-SEP-'));
    expect(rules).toHaveLength(n);
    return rules.map((c) => (c.kind === 'append' && c.args.includes('--probability') ? c.args[c.args.indexOf('--probability') + 1]! : null));
  }

  test.each(Object.entries(LADDERS).map(([n, l]) => [Number(n), l] as const))('%i endpoints: kube-proxy\'s values, the last rule without one', (n, values) => {
    expect(ladder(n, 'KUBE-SVC-')).toEqual([...values, null]);
  });

  test('the local chain (externalTrafficPolicy Local) has the same ladder', () => {
    const etpLocal = { type: 'NodePort' as const, externalTrafficPolicy: 'Local' as const, ports: [{ name: 'p80', protocol: 'TCP' as const, port: 80, nodePort: 30080 }] };
    expect(ladder(3, 'KUBE-SVL-', etpLocal)).toEqual([...LADDERS[3]!, null]);
  });

  test.each([2, 3, 7, 10, 64, 100])('%i endpoints: the written probabilities give each endpoint 1/n', (n) => {
    let remaining = 1;
    const shares = ladder(n, 'KUBE-SVC-').map((p) => {
      const share = remaining * (p === null ? 1 : Number(p));
      remaining -= share;
      return share;
    });
    for (const s of shares) expect(s).toBeCloseTo(1 / n, 9);
  });
});
