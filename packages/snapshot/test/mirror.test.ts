import { deriveEndpointSlices, formatDiagnostic } from '@svcrules/core';
import { snapshotFromObjects } from '../src/index.js';
import { repackSubsets } from '../src/mirror.js';
import type { EndpointsAddress } from '../src/schemas/endpoints.js';

const service = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns1' },
  spec: { clusterIP: '172.30.0.10', ports: [{ name: 'p80', port: 80 }], ...extra },
});
const endpoints = (name: string, subsets: unknown[], metadata: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name, namespace: 'ns1', ...metadata },
  subsets,
});
const MANAGED = { 'kubernetes.io/service-name': 'svc1', 'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io' };

describe('Endpoints mirroring', () => {
  test('a Service without selector: addresses ready, notReadyAddresses not ready, nodeName and ports kept', () => {
    const r = snapshotFromObjects([
      service('svc1'),
      endpoints(
        'svc1',
        [
          {
            addresses: [{ ip: '1.2.3.4', nodeName: 'node-1' }, { ip: '1.2.3.05' }],
            notReadyAddresses: [{ ip: '1.2.3.6' }],
            ports: [{ name: 'p80', port: 9376 }, { name: 'dns', port: 53, protocol: 'UDP' }],
          },
        ],
        { labels: { app: 'legacy' } },
      ),
    ]);
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.endpointSlices).toEqual([
      {
        namespace: 'ns1',
        name: 'svc1-mirror-1',
        serviceName: 'svc1',
        addressType: 'IPv4',
        ports: [
          { name: 'p80', port: 9376, protocol: 'TCP' },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
        endpoints: [
          { addresses: ['1.2.3.5'], ready: true },
          { addresses: ['1.2.3.4'], ready: true, nodeName: 'node-1' },
          { addresses: ['1.2.3.6'], ready: false },
        ],
        labels: { app: 'legacy', ...MANAGED },
      },
    ]);
  });

  test('one slice per address family', () => {
    const r = snapshotFromObjects([service('svc1'), endpoints('svc1', [{ addresses: [{ ip: 'fd00::1' }, { ip: '10.0.0.1' }], ports: [{ port: 80 }] }])]);
    expect(r.snapshot.endpointSlices.map((s) => [s.name, s.addressType, s.endpoints.map((e) => e.addresses[0]), s.ports])).toEqual([
      ['svc1-mirror-1', 'IPv4', ['10.0.0.1'], [{ name: '', port: 80, protocol: 'TCP' }]],
      ['svc1-mirror-2', 'IPv6', ['fd00::1'], [{ name: '', port: 80, protocol: 'TCP' }]],
    ]);
  });

  test.each([
    ['its Service has a selector', [service('svc1', { selector: { app: 'web' } })], {}, 'its Service has a selector (the EndpointSlice controller owns its slices)'],
    ['there is no Service', [], {}, 'no Service ns1/svc1 in the snapshot'],
    ['it is labelled skip-mirror', [service('svc1')], { labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, 'labelled endpointslice.kubernetes.io/skip-mirror: "true"'],
    ['it is a leader-election record', [service('svc1')], { annotations: { 'control-plane.alpha.kubernetes.io/leader': '{}' } }, 'a leader-election record (control-plane.alpha.kubernetes.io/leader)'],
  ])('with endpointsAsMirrored, not mirrored when %s (listed as ignored)', (_why, services, metadata, reason) => {
    const r = snapshotFromObjects([...services, endpoints('svc1', [{ addresses: [{ ip: '1.2.3.4' }], ports: [{ port: 80 }] }], metadata)], { endpointsAsMirrored: true });
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.endpointSlices).toEqual([]);
    expect(r.ignored).toEqual([{ kind: 'Endpoints', object: 'ns1/svc1', index: services.length, reason: `not mirrored to EndpointSlices: ${reason}` }]);
    expect(r.standIns).toEqual([]);
  });

  test.each([
    ['there is no Service', [], {}, 'no Service ns1/svc1 in the snapshot'],
    ['it is a leader-election record', [service('svc1')], { annotations: { 'control-plane.alpha.kubernetes.io/leader': '{}' } }, 'a leader-election record (control-plane.alpha.kubernetes.io/leader)'],
  ])('never stands in when %s', (_why, services, metadata, reason) => {
    const r = snapshotFromObjects([...services, endpoints('svc1', [{ addresses: [{ ip: '1.2.3.4' }], ports: [{ port: 80 }] }], metadata)]);
    expect(r.snapshot.endpointSlices).toEqual([]);
    expect(r.ignored.map((i) => i.reason)).toEqual([`not mirrored to EndpointSlices: ${reason}`]);
    expect(r.standIns).toEqual([]);
  });

  test('skip-mirror "false" and an empty selector do not stop mirroring', () => {
    const r = snapshotFromObjects([
      service('svc1', { selector: {} }),
      endpoints('svc1', [{ addresses: [{ ip: '1.2.3.4' }], ports: [{ port: 80 }] }], { labels: { 'endpointslice.kubernetes.io/skip-mirror': 'false' } }),
    ]);
    expect(r.snapshot.endpointSlices).toHaveLength(1);
  });

  test('slices already mirrored in the snapshot (a live-cluster dump) win: the Endpoints is not mirrored twice', () => {
    const existing = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'svc1-x7k2p', namespace: 'ns1', labels: MANAGED },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['1.2.3.4'], conditions: { ready: true } }],
      ports: [{ name: '', port: 80, protocol: 'TCP' }],
    };
    const objects = [service('svc1'), endpoints('svc1', [{ addresses: [{ ip: '1.2.3.4' }], ports: [{ port: 80 }] }]), existing];
    const strict = snapshotFromObjects(objects, { endpointsAsMirrored: true });
    expect(strict.snapshot.endpointSlices.map((s) => s.name)).toEqual(['svc1-x7k2p']);
    expect(strict.ignored.map((i) => i.reason)).toEqual(['not mirrored to EndpointSlices: the snapshot already holds EndpointSlices mirrored from it']);
    const r = snapshotFromObjects(objects);
    expect(r.snapshot.endpointSlices.map((s) => s.name)).toEqual(['svc1-x7k2p']);
    expect(r.ignored.map((i) => i.reason)).toEqual(['the input has EndpointSlices of every family of Service ns1/svc1, which take precedence']);
  });

  test('a hand-written slice of another manager does not stop mirroring', () => {
    const own = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'svc1-manual', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } },
      addressType: 'IPv4',
      endpoints: [],
    };
    const r = snapshotFromObjects([service('svc1'), own, endpoints('svc1', [{ addresses: [{ ip: '1.2.3.4' }], ports: [{ port: 80 }] }])]);
    expect(r.snapshot.endpointSlices.map((s) => s.name)).toEqual(['svc1-manual', 'svc1-mirror-1']);
  });

  test('more than 1000 addresses in a subset: 1000 mirrored, ready ones first, and a warning', () => {
    const ips = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.${from}.${Math.floor(i / 250)}.${(i % 250) + 1}` }));
    const r = snapshotFromObjects([service('svc1'), endpoints('svc1', [{ addresses: ips(1, 999), notReadyAddresses: ips(2, 3), ports: [{ port: 80 }] }])]);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      'Endpoints ns1/svc1: subsets: warning: expected at most 1000 addresses per subset, got more: 2 addresses are not mirrored (as the mirroring controller does) [endpoints-truncated]',
    ]);
    const eps = r.snapshot.endpointSlices[0]!.endpoints;
    expect(eps).toHaveLength(1000);
    expect(eps.filter((e) => e.ready === false)).toHaveLength(1);
  });

  test('invalid addresses are errors (the API server refuses them), and the Endpoints is left out', () => {
    const r = snapshotFromObjects([service('svc1'), endpoints('svc1', [{ addresses: [{ ip: '::ffff:1.2.3.4' }, { ip: '1.2.3.4' }], ports: [{ port: 80 }] }])]);
    expect(r.diagnostics.map((d) => [d.code, d.path])).toEqual([['ipv4-mapped-ip', 'subsets[0].addresses[0].ip']]);
    expect(r.snapshot.endpointSlices).toEqual([]);
  });
});

describe('RepackSubsets', () => {
  const a = (ip: string, uid?: string): EndpointsAddress => ({ ip, canonical: ip, family: 'IPv4', ...(uid !== undefined ? { targetRef: { uid } } : {}) });
  const p = (name: string, port: number) => ({ name, port, protocol: 'TCP' as const });

  test('an address both ready and not ready for a port is not ready; duplicates collapse', () => {
    const r = repackSubsets([
      { addresses: [a('1.1.1.1'), a('1.1.1.2')], notReadyAddresses: [], ports: [p('a', 1)] },
      { addresses: [a('1.1.1.2')], notReadyAddresses: [a('1.1.1.1')], ports: [p('a', 1)] },
    ]);
    expect(r).toEqual([{ ports: [p('a', 1)], ready: [a('1.1.1.2')], notReady: [a('1.1.1.1')] }]);
  });

  test('ports serving the same addresses are grouped; different address sets are separate', () => {
    const r = repackSubsets([
      { addresses: [a('1.1.1.1')], notReadyAddresses: [], ports: [p('a', 1)] },
      { addresses: [a('1.1.1.1')], notReadyAddresses: [], ports: [p('b', 2)] },
      { addresses: [a('2.2.2.2')], notReadyAddresses: [], ports: [p('c', 3)] },
    ]);
    expect(r).toEqual([
      { ports: [p('a', 1), p('b', 2)], ready: [a('1.1.1.1')], notReady: [] },
      { ports: [p('c', 3)], ready: [a('2.2.2.2')], notReady: [] },
    ]);
  });

  test('addresses sort by IP text then targetRef UID; the same IP with another UID is another address', () => {
    const r = repackSubsets([{ addresses: [a('1.1.1.10'), a('1.1.1.9', 'b'), a('1.1.1.9', 'a'), a('1.1.1.9')], notReadyAddresses: [], ports: [] }]);
    expect(r).toEqual([{ ports: [], ready: [a('1.1.1.10'), a('1.1.1.9'), a('1.1.1.9', 'a'), a('1.1.1.9', 'b')], notReady: [] }]);
  });
});

describe('Endpoints standing in for missing EndpointSlices (kubectl get svc,ep)', () => {
  const dualStack = { clusterIP: '172.30.0.10', clusterIPs: ['172.30.0.10', 'fd00::10'], ipFamilies: ['IPv4', 'IPv6'] };

  test.each([
    ['its Service has a selector', { selector: { app: 'web' } }, {}, 'its Service has a selector (the EndpointSlice controller owns its slices)'],
    ['it is labelled skip-mirror (default/kubernetes)', {}, { labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } }, 'labelled endpointslice.kubernetes.io/skip-mirror: "true"'],
  ])('%s: the controller\'s slice, with conditions, hostname and the Service\'s labels', (_why, spec, metadata, because) => {
    const r = snapshotFromObjects([
      { ...service('svc1', spec), metadata: { name: 'svc1', namespace: 'ns1', labels: { app: 'web', 'service.kubernetes.io/headless': 'x' } } },
      endpoints(
        'svc1',
        [{ addresses: [{ ip: '10.0.0.2', nodeName: 'node-1', hostname: 'web-0' }], notReadyAddresses: [{ ip: '10.0.0.3' }], ports: [{ name: 'p80', port: 8080 }] }],
        metadata,
      ),
    ]);
    expect(r.diagnostics).toEqual([]);
    expect(r.ignored).toEqual([]);
    expect(r.standIns).toEqual([{ object: 'ns1/svc1', index: 1, families: ['IPv4'], ready: 1, notReady: 1, because }]);
    expect(r.snapshot.endpointSlices).toEqual([
      {
        namespace: 'ns1',
        name: 'svc1-endpoints-1',
        serviceName: 'svc1',
        addressType: 'IPv4',
        ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
        endpoints: [
          { addresses: ['10.0.0.2'], ready: true, serving: true, terminating: false, nodeName: 'node-1', hostname: 'web-0' },
          { addresses: ['10.0.0.3'], ready: false, serving: false, terminating: false },
        ],
        labels: { app: 'web', 'kubernetes.io/service-name': 'svc1', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      },
    ]);
  });

  const sliceOf = (family: string, ip: string) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `svc1-${family.toLowerCase()}`, namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'svc1' } },
    addressType: family,
    endpoints: [{ addresses: [ip] }],
    ports: [{ name: 'p80', port: 80 }],
  });

  test('precedence per family: a given slice wins; the Endpoints fills only the family without one', () => {
    const ep = endpoints('svc1', [{ addresses: [{ ip: '10.0.0.2' }, { ip: 'fd00::2' }], ports: [{ name: 'p80', port: 80 }] }]);
    const r = snapshotFromObjects([service('svc1', { selector: { app: 'web' }, ...dualStack }), ep, sliceOf('IPv4', '10.0.0.9')]);
    expect(r.snapshot.endpointSlices.map((s) => [s.name, s.addressType, s.endpoints.map((e) => e.addresses[0])])).toEqual([
      ['svc1-ipv4', 'IPv4', ['10.0.0.9']],
      ['svc1-endpoints-1', 'IPv6', ['fd00::2']],
    ]);
    expect(r.standIns.map((s) => s.families)).toEqual([['IPv6']]);
    const both = snapshotFromObjects([service('svc1', { selector: { app: 'web' }, ...dualStack }), ep, sliceOf('IPv4', '10.0.0.9'), sliceOf('IPv6', 'fd00::9')]);
    expect(both.snapshot.endpointSlices.map((s) => s.name)).toEqual(['svc1-ipv4', 'svc1-ipv6']);
    expect(both.ignored.map((i) => i.reason)).toEqual(['the input has EndpointSlices of every family of Service ns1/svc1, which take precedence']);
  });

  test('an empty Endpoints stands in as "no endpoints" for the primary family (a placeholder slice)', () => {
    const r = snapshotFromObjects([service('svc1', { selector: { app: 'web' } }), endpoints('svc1', [])]);
    expect(r.snapshot.endpointSlices).toEqual([
      { namespace: 'ns1', name: 'svc1-endpoints-1', serviceName: 'svc1', addressType: 'IPv4', ports: [], endpoints: [], labels: expect.any(Object) },
    ]);
    expect(r.standIns.map((s) => [s.families, s.ready, s.notReady])).toEqual([[['IPv4'], 0, 0]]);
  });

  test('Endpoints win over Pods: the Pod-derived slices are not made for a family the Endpoints covers', () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web-1', namespace: 'ns1', labels: { app: 'web' } },
      spec: { nodeName: 'node-1' },
      status: { phase: 'Running', podIP: '10.0.0.7', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const r = snapshotFromObjects([service('svc1', { selector: { app: 'web' } }), endpoints('svc1', [{ addresses: [{ ip: '10.0.0.2' }], ports: [{ name: 'p80', port: 80 }] }]), pod]);
    expect(r.diagnostics).toEqual([]);
    expect(deriveEndpointSlices(r.snapshot)).toEqual([]);
  });
});

describe('Endpoints of Services kube-proxy never programs', () => {
  test.each([
    ['headless', { clusterIP: 'None', selector: { app: 'db' } }, 'its Service is headless: kube-proxy writes no rules for it'],
    ['ExternalName (with a selector)', { type: 'ExternalName', externalName: 'db.example.com', clusterIP: '', selector: { app: 'db' } }, 'its Service is of type ExternalName: kube-proxy writes no rules for it'],
  ])('%s: no stand-in, ignored with the reason', (_what, spec, reason) => {
    const r = snapshotFromObjects([service('svc1', spec), endpoints('svc1', [{ addresses: [{ ip: '10.0.0.2' }], ports: [{ name: 'p80', port: 80 }] }])]);
    expect([r.snapshot.endpointSlices, r.standIns, r.ignored.map((i) => i.reason)]).toEqual([[], [], [reason]]);
  });
});
