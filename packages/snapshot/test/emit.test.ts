import { parse } from 'yaml';
import type { EndpointSlice } from '@svcrules/core';
import { endpointSlicesToYaml } from '../src/emit.js';
import { loadSnapshot } from '../src/load.js';

const derived: EndpointSlice = {
  namespace: 'ns1',
  name: 'svc1-bcdfg',
  serviceName: 'svc1',
  addressType: 'IPv4',
  labels: { 'kubernetes.io/service-name': 'svc1', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
  ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
  endpoints: [
    {
      addresses: ['10.180.0.1'],
      ready: false,
      serving: true,
      terminating: true,
      nodeName: 'test-node',
      zone: 'zone-a',
      targetRef: { kind: 'Pod', namespace: 'ns1', name: 'web-1' },
    } as EndpointSlice['endpoints'][number],
  ],
};

describe('endpointSlicesToYaml', () => {
  test('writes a kind: List of discovery.k8s.io/v1 EndpointSlices, byte for byte', () => {
    expect(endpointSlicesToYaml([derived])).toBe(
      [
        'apiVersion: v1',
        'kind: List',
        'items:',
        '  - apiVersion: discovery.k8s.io/v1',
        '    kind: EndpointSlice',
        '    metadata:',
        '      name: svc1-bcdfg',
        '      namespace: ns1',
        '      labels:',
        '        endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io',
        '        kubernetes.io/service-name: svc1',
        '    addressType: IPv4',
        '    endpoints:',
        '      - addresses:',
        '          - 10.180.0.1',
        '        conditions:',
        '          ready: false',
        '          serving: true',
        '          terminating: true',
        '        nodeName: test-node',
        '        zone: zone-a',
        '        targetRef:',
        '          kind: Pod',
        '          namespace: ns1',
        '          name: web-1',
        '    ports:',
        '      - name: p80',
        '        port: 8080',
        '        protocol: TCP',
        '',
      ].join('\n'),
    );
  });

  test('an empty list and a placeholder slice are valid YAML with empty arrays', () => {
    expect(parse(endpointSlicesToYaml([]))).toEqual({ apiVersion: 'v1', kind: 'List', items: [] });
    const placeholder: EndpointSlice = { ...derived, ports: [], endpoints: [] };
    const doc = parse(endpointSlicesToYaml([placeholder]));
    expect(doc.items[0].endpoints).toEqual([]);
    expect(doc.items[0].ports).toEqual([]);
  });

  test('label values YAML 1.1 reads as booleans or numbers stay strings for kubectl', () => {
    const labels = { a: 'yes', b: 'on', c: '010', d: 'true', e: '', y: 'n' };
    const text = endpointSlicesToYaml([{ ...derived, labels: { ...derived.labels, ...labels } }]);
    const doc = parse(text, { version: '1.1' });
    expect(doc.items[0].metadata.labels).toMatchObject(labels);
    expect(text).toContain('a: "yes"');
  });

  test('the service-name label is written from serviceName; unset conditions, null port fields and hints', () => {
    const explicit: EndpointSlice = {
      namespace: 'ns1',
      name: 'hand',
      serviceName: 'svc1',
      addressType: 'IPv6',
      labels: {},
      ports: [{ name: null, port: null, protocol: 'UDP' }],
      endpoints: [{ addresses: ['fd00:10:180::1'], zoneHints: ['zone-a'], nodeHints: ['test-node'] }],
    };
    const doc = parse(endpointSlicesToYaml([explicit]));
    expect(doc.items[0].metadata.labels).toEqual({ 'kubernetes.io/service-name': 'svc1' });
    expect(doc.items[0].ports).toEqual([{ protocol: 'UDP' }]);
    expect(doc.items[0].endpoints).toEqual([
      {
        addresses: ['fd00:10:180::1'],
        conditions: {},
        hints: { forZones: [{ name: 'zone-a' }], forNodes: [{ name: 'test-node' }] },
      },
    ]);
  });

  test('several slices keep their order', () => {
    const b = { ...derived, name: 'svc1-zzzzz' };
    const doc = parse(endpointSlicesToYaml([b, derived]));
    expect(doc.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['svc1-zzzzz', 'svc1-bcdfg']);
  });

  test('reads back through loadSnapshot as the same slices (the Pod reference aside)', () => {
    const explicit: EndpointSlice = {
      namespace: 'ns2',
      name: 'hand',
      serviceName: 'svc2',
      addressType: 'IPv6',
      labels: { 'kubernetes.io/service-name': 'svc2', team: 'yes' },
      ports: [{ name: '', port: 53, protocol: 'UDP' }],
      endpoints: [{ addresses: ['fd00:10:180::1'], ready: true, zoneHints: ['zone-a'] }],
    };
    const { snapshot, diagnostics } = loadSnapshot([{ name: 'out.yaml', text: endpointSlicesToYaml([derived, explicit]) }]);
    expect(diagnostics).toEqual([]);
    const strip = (s: EndpointSlice) => ({
      ...s,
      origin: undefined,
      endpoints: s.endpoints.map(({ targetRef: _t, ...e }: EndpointSlice['endpoints'][number] & { targetRef?: unknown }) => e),
    });
    expect(snapshot.endpointSlices.map(strip)).toEqual([derived, explicit].map(strip));
  });
});
