/**
 * The incremental compiler's per-Service endpoint index against buildEndpointsMap: after any sequence
 * of slice updates and removals (endpoints shared between slices, terminating or not, ports appearing
 * and going, slices out of scope), it holds exactly what buildEndpointsMap computes from the slices.
 */
import fc from 'fast-check';
import { ServiceEndpointIndex } from '../src/endpoint-index.js';
import { buildEndpointsMap } from '../src/endpoints.js';
import type { EndpointSlice } from '../src/model.js';
import { scaledRuns } from '@svcrules/testkit';

const NODE = 'node-a';

const sliceArb = (name: string): fc.Arbitrary<EndpointSlice> =>
  fc.record({
    addressType: fc.constantFrom('IPv4' as const, 'IPv4' as const, 'IPv6' as const),
    ports: fc.array(fc.record({ name: fc.constantFrom('http', 'dns', ''), port: fc.constantFrom(80, 53, 0), protocol: fc.constantFrom('TCP', 'UDP') }), { maxLength: 2 }),
    endpoints: fc.array(
      fc.record({
        addresses: fc.constantFrom(['10.0.0.1'], ['10.0.0.2'], ['10.0.0.3'], ['10.0.0.10'], []),
        ready: fc.boolean(),
        terminating: fc.boolean(),
        nodeName: fc.constantFrom(NODE, 'node-b'),
      }),
      { maxLength: 5 },
    ),
    skip: fc.boolean(),
  }).map(({ addressType, ports, endpoints, skip }) => ({
    namespace: 'ns',
    name,
    serviceName: 'svc',
    addressType,
    ports,
    endpoints,
    labels: skip && endpoints.length === 4 ? { 'service.kubernetes.io/headless': '' } : {},
  }));

const opArb = fc.oneof(
  fc.tuple(fc.constantFrom('g:a', 'g:b', 'g:c', 'd:a'), fc.option(fc.constant(0), { nil: undefined })).chain(([key, del]) =>
    del === undefined ? sliceArb(key.slice(2)).map((s) => ({ key, slice: s as EndpointSlice | undefined })) : fc.constant({ key, slice: undefined }),
  ),
);

test('any sequence of slice changes: the index equals buildEndpointsMap of the current slices', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 4 }), fc.array(opArb, { minLength: 1, maxLength: 12 }), (initial, ops) => {
      const current = new Map<string, EndpointSlice>();
      for (const { key, slice } of initial) {
        if (slice) current.set(key, slice);
        else current.delete(key);
      }
      const rank = (k: string) => (k[0] === 'g' ? 0 : 1);
      const index = new ServiceEndpointIndex('IPv4', NODE, new Map(current), rank);
      const expected = () => {
        // compile() order: given slices before derived ones (stable sort by namespace/name).
        const keys = [...current.keys()].sort((x, y) => rank(x) - rank(y));
        return buildEndpointsMap(keys.map((k) => current.get(k)!), 'IPv4', NODE);
      };
      expect(index.map()).toEqual(expected());
      for (const { key, slice } of ops) {
        if (slice) current.set(key, slice);
        else current.delete(key);
        index.set(key, slice);
        expect(index.map()).toEqual(expected());
      }
    }),
    { numRuns: scaledRuns(500, 100) },
  );
});
