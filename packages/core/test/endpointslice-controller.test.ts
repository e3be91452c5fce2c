import { serviceWithDefaults } from '@svcrules/testkit';
import type { EndpointSlice, NodeInfo, Pod, Service, ServicePort, Snapshot } from '../src/model.js';
import {
  deriveEndpointSlices,
  endpointPorts,
  findPort,
  hasControllerManagedSlices,
  podToEndpoint,
  selectorMatches,
  serviceAddressTypes,
  shouldPodBeInEndpoints,
  sliceLabels,
  withDerivedEndpointSlices,
  MAX_ENDPOINTS_PER_SLICE,
  type DerivedEndpointSlice,
} from '../src/endpointslice-controller.js';
import { deriveSlices } from '../src/derive-slices.js';
import { buildModel } from '../src/proxy-model.js';

function port(p: Partial<ServicePort> & { port: number }): ServicePort {
  return { name: '', protocol: 'TCP', nodePort: 0, ...p };
}

function service(s: Partial<Service> = {}): Service {
  return serviceWithDefaults('ns1', 'svc1', { ports: [port({ name: 'p80', port: 80 })], selector: { app: 'web' }, ...s });
}

function pod(p: Partial<Pod> & { name: string }): Pod {
  return {
    namespace: 'ns1',
    labels: { app: 'web' },
    nodeName: 'test-node',
    phase: 'Running',
    podIPs: ['10.180.0.1'],
    ready: true,
    terminating: false,
    containerPorts: [],
    ...p,
  };
}

const testNode: NodeInfo = { name: 'test-node', addresses: [], podCIDRs: [], labels: { 'topology.kubernetes.io/zone': 'zone-a' } };

function snap(s: Partial<Snapshot>): Snapshot {
  return { services: [], endpointSlices: [], nodes: [testNode], pods: [], ...s };
}

/** The slices' endpoints as `ip pod` lines with ports, for compact assertions. */
function summary(slices: readonly DerivedEndpointSlice[]): string[] {
  return slices.map(
    (s) =>
      `${s.namespace}/${s.serviceName} ${s.addressType} [${s.ports.map((p) => `${p.name}:${p.port}/${p.protocol}`).join(' ')}] ` +
      s.endpoints.map((e) => `${e.addresses.join('+')}(${e.targetRef.name})`).join(' '),
  );
}

describe('selector matching', () => {
  test('matchLabels: every pair must be present with the same value; extra Pod labels are fine', () => {
    expect(selectorMatches({ app: 'web' }, { app: 'web', tier: 'x' })).toBe(true);
    expect(selectorMatches({ app: 'web', tier: 'x' }, { app: 'web' })).toBe(false);
    expect(selectorMatches({ app: 'web' }, { app: 'db' })).toBe(false);
    expect(selectorMatches({ app: '' }, {})).toBe(false);
    expect(selectorMatches({ app: '' }, { app: '' })).toBe(true);
  });

  test('inherited object keys are not labels', () => {
    expect(selectorMatches({ toString: 'x' }, {})).toBe(false);
  });

  test('only Pods of the Service namespace are selected', () => {
    const slices = deriveEndpointSlices(
      snap({ services: [service()], pods: [pod({ name: 'a' }), pod({ name: 'b', namespace: 'ns2', podIPs: ['10.180.0.2'] })] }),
    );
    expect(summary(slices)).toEqual(['ns1/svc1 IPv4 [p80:80/TCP] 10.180.0.1(a)']);
  });

  test('Pods whose labels do not match are left out', () => {
    const slices = deriveEndpointSlices(
      snap({ services: [service()], pods: [pod({ name: 'a' }), pod({ name: 'b', labels: { app: 'db' }, podIPs: ['10.180.0.2'] })] }),
    );
    expect(summary(slices)).toEqual(['ns1/svc1 IPv4 [p80:80/TCP] 10.180.0.1(a)']);
  });
});

describe('which Services get slices', () => {
  test('no selector, an empty selector, and ExternalName get none', () => {
    expect(hasControllerManagedSlices(service())).toBe(true);
    const { selector: _omit, ...noSelector } = service();
    expect(hasControllerManagedSlices(noSelector)).toBe(false);
    expect(hasControllerManagedSlices(service({ selector: {} }))).toBe(false);
    expect(hasControllerManagedSlices(service({ type: 'ExternalName', clusterIP: '' }))).toBe(false);
    const slices = deriveEndpointSlices(snap({ services: [noSelector, service({ name: 'empty', selector: {} })], pods: [pod({ name: 'a' })] }));
    expect(slices).toEqual([]);
  });

  test('explicit slices win per address family', () => {
    const explicit: EndpointSlice = {
      namespace: 'ns1',
      name: 'hand-written',
      serviceName: 'svc1',
      addressType: 'IPv4',
      ports: [],
      endpoints: [],
      labels: { 'kubernetes.io/service-name': 'svc1' },
    };
    const dual = service({ ipFamilies: ['IPv4', 'IPv6'], clusterIPs: ['172.30.0.41', 'fd00:172:30::41'] });
    const pods = [pod({ name: 'a', podIPs: ['10.180.0.1', 'fd00:10:180::1'] })];
    const slices = deriveEndpointSlices(snap({ services: [dual], endpointSlices: [explicit], pods }));
    expect(summary(slices)).toEqual(['ns1/svc1 IPv6 [p80:80/TCP] fd00:10:180::1(a)']);
  });

  test('an explicit slice of another Service or namespace does not count', () => {
    const other: EndpointSlice = {
      namespace: 'ns2',
      name: 'x',
      serviceName: 'svc1',
      addressType: 'IPv4',
      ports: [],
      endpoints: [],
      labels: {},
    };
    const slices = deriveEndpointSlices(snap({ services: [service()], endpointSlices: [other], pods: [pod({ name: 'a' })] }));
    expect(summary(slices)).toEqual(['ns1/svc1 IPv4 [p80:80/TCP] 10.180.0.1(a)']);
  });
});

describe('Pod filtering (ShouldPodBeInEndpoints)', () => {
  test('Succeeded and Failed Pods, and Pods without IP, are skipped; Pending and Unknown with an IP are kept', () => {
    expect(shouldPodBeInEndpoints(pod({ name: 'a', phase: 'Succeeded' }))).toBe(false);
    expect(shouldPodBeInEndpoints(pod({ name: 'a', phase: 'Failed' }))).toBe(false);
    expect(shouldPodBeInEndpoints(pod({ name: 'a', podIPs: [] }))).toBe(false);
    expect(shouldPodBeInEndpoints(pod({ name: 'a', phase: 'Pending' }))).toBe(true);
    expect(shouldPodBeInEndpoints(pod({ name: 'a', phase: 'Unknown' }))).toBe(true);
    const { phase: _omit, ...noPhase } = pod({ name: 'a' });
    expect(shouldPodBeInEndpoints(noPhase)).toBe(true);
  });

  test('terminating Pods are included (includeTerminating = true)', () => {
    expect(shouldPodBeInEndpoints(pod({ name: 'a', terminating: true }))).toBe(true);
  });

  test('a Service whose Pods are all filtered out gets the placeholder slice', () => {
    const slices = deriveEndpointSlices(
      snap({
        services: [service()],
        pods: [pod({ name: 'a', phase: 'Succeeded' }), pod({ name: 'b', phase: 'Failed' }), pod({ name: 'c', podIPs: [] })],
      }),
    );
    expect(slices).toHaveLength(1);
    expect(slices[0]!.ports).toEqual([]);
    expect(slices[0]!.endpoints).toEqual([]);
    expect(slices[0]!.addressType).toBe('IPv4');
  });
});

describe('conditions (podToEndpoint)', () => {
  const cond = (p: Pod, s: Service = service()) => {
    const e = podToEndpoint(p, testNode, s, 'IPv4');
    return { ready: e.ready, serving: e.serving, terminating: e.terminating };
  };

  test('a ready Pod: ready, serving, not terminating', () => {
    expect(cond(pod({ name: 'a' }))).toEqual({ ready: true, serving: true, terminating: false });
  });

  test('a not-ready Pod: not ready, not serving', () => {
    expect(cond(pod({ name: 'a', ready: false }))).toEqual({ ready: false, serving: false, terminating: false });
  });

  test('a terminating Pod that is still Ready: serving but never ready', () => {
    expect(cond(pod({ name: 'a', terminating: true }))).toEqual({ ready: false, serving: true, terminating: true });
  });

  test('a terminating Pod that is no longer Ready', () => {
    expect(cond(pod({ name: 'a', terminating: true, ready: false }))).toEqual({ ready: false, serving: false, terminating: true });
  });

  test('publishNotReadyAddresses makes every endpoint ready, serving and terminating unchanged', () => {
    const pnra = service({ publishNotReadyAddresses: true });
    expect(cond(pod({ name: 'a', ready: false }), pnra)).toEqual({ ready: true, serving: false, terminating: false });
    expect(cond(pod({ name: 'a', ready: false, terminating: true }), pnra)).toEqual({ ready: true, serving: false, terminating: true });
  });

  test('nodeName, zone from the Node label, targetRef', () => {
    const e = podToEndpoint(pod({ name: 'a' }), testNode, service(), 'IPv4');
    expect(e).toEqual({
      addresses: ['10.180.0.1'],
      ready: true,
      serving: true,
      terminating: false,
      nodeName: 'test-node',
      zone: 'zone-a',
      targetRef: { kind: 'Pod', namespace: 'ns1', name: 'a' },
    });
  });

  test('no zone when the Node has no zone label or is not in the snapshot', () => {
    const bare: NodeInfo = { name: 'test-node', addresses: [], podCIDRs: [], labels: {} };
    expect(podToEndpoint(pod({ name: 'a' }), bare, service(), 'IPv4').zone).toBeUndefined();
    expect(podToEndpoint(pod({ name: 'a' }), undefined, service(), 'IPv4').zone).toBeUndefined();
  });

  test('addresses: the Pod IPs of the family, canonical', () => {
    const p = pod({ name: 'a', podIPs: ['10.180.00.001', 'FD00:10:180:0::1'] });
    expect(podToEndpoint(p, testNode, service(), 'IPv4').addresses).toEqual(['10.180.0.1']);
    expect(podToEndpoint(p, testNode, service(), 'IPv6').addresses).toEqual(['fd00:10:180::1']);
  });
});

describe('Nodes', () => {
  test('a Pod on another Node keeps its nodeName; the zone comes from that Node when present', () => {
    const other: NodeInfo = { name: 'node-b', addresses: [], podCIDRs: [], labels: { 'topology.kubernetes.io/zone': 'zone-b' } };
    const slices = deriveEndpointSlices(
      snap({
        services: [service()],
        nodes: [testNode, other],
        pods: [pod({ name: 'a' }), pod({ name: 'b', nodeName: 'node-b', podIPs: ['10.180.0.2'] })],
      }),
    );
    expect(slices[0]!.endpoints.map((e) => [e.nodeName, e.zone])).toEqual([
      ['test-node', 'zone-a'],
      ['node-b', 'zone-b'],
    ]);
  });

  test('a Pod on a Node absent from the snapshot is kept without zone', () => {
    const slices = deriveEndpointSlices(snap({ services: [service()], pods: [pod({ name: 'a', nodeName: 'elsewhere' })] }));
    expect(slices[0]!.endpoints).toHaveLength(1);
    expect(slices[0]!.endpoints[0]!.nodeName).toBe('elsewhere');
    expect(slices[0]!.endpoints[0]!.zone).toBeUndefined();
  });

  test('a Pod without nodeName is skipped (its Node cannot exist), unless publishNotReadyAddresses', () => {
    const { nodeName: _omit, ...unscheduled } = pod({ name: 'a' });
    expect(deriveEndpointSlices(snap({ services: [service()], pods: [unscheduled] }))[0]!.endpoints).toEqual([]);
    const kept = deriveEndpointSlices(snap({ services: [service({ publishNotReadyAddresses: true })], pods: [unscheduled] }));
    expect(kept[0]!.endpoints).toHaveLength(1);
    expect(kept[0]!.endpoints[0]!.nodeName).toBeUndefined();
  });
});

describe('ports (FindPort, getEndpointPorts)', () => {
  const web = pod({
    name: 'a',
    containerPorts: [
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'dns', containerPort: 5353, protocol: 'UDP' },
      { name: 'http', containerPort: 9090, protocol: 'TCP' },
    ],
  });

  test('targetPort unset, 0 or empty defaults to port', () => {
    expect(findPort(web, port({ port: 80 }))).toBe(80);
    expect(findPort(web, port({ port: 80, targetPort: 0 }))).toBe(80);
    expect(findPort(web, port({ port: 80, targetPort: '' }))).toBe(80);
  });

  test('a numeric targetPort is used even if no container declares it', () => {
    expect(findPort(web, port({ port: 80, targetPort: 7777 }))).toBe(7777);
  });

  test('a named targetPort resolves by name and protocol, first match wins', () => {
    expect(findPort(web, port({ port: 80, targetPort: 'http' }))).toBe(8080);
    expect(findPort(web, port({ port: 53, targetPort: 'dns', protocol: 'UDP' }))).toBe(5353);
    expect(findPort(web, port({ port: 53, targetPort: 'dns', protocol: 'TCP' }))).toBeNull();
    expect(findPort(web, port({ port: 80, targetPort: 'nope' }))).toBeNull();
  });

  test('a Pod without the named port lacks only that port', () => {
    const svc = service({
      ports: [port({ name: 'http', port: 80, targetPort: 'http' }), port({ name: 'metrics', port: 9100, targetPort: 'metrics' })],
    });
    expect(endpointPorts(svc, web)).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
  });

  test('Pods mapping a named port to different numbers land in different slices', () => {
    const svc = service({ ports: [port({ name: 'http', port: 80, targetPort: 'http' })] });
    const pods = [
      pod({ name: 'a', podIPs: ['10.180.0.1'], containerPorts: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }),
      pod({ name: 'b', podIPs: ['10.180.0.2'], containerPorts: [{ name: 'http', containerPort: 8081, protocol: 'TCP' }] }),
      pod({ name: 'c', podIPs: ['10.180.0.3'], containerPorts: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }),
      pod({ name: 'd', podIPs: ['10.180.0.4'], containerPorts: [] }),
    ];
    expect(summary(deriveEndpointSlices(snap({ services: [svc], pods })))).toEqual([
      'ns1/svc1 IPv4 [] 10.180.0.4(d)',
      'ns1/svc1 IPv4 [http:8080/TCP] 10.180.0.1(a) 10.180.0.3(c)',
      'ns1/svc1 IPv4 [http:8081/TCP] 10.180.0.2(b)',
    ]);
  });

  test('several ports: the slice ports follow the Service order', () => {
    const svc = service({
      ports: [port({ name: 'b', port: 81 }), port({ name: 'a', port: 80, protocol: 'UDP', targetPort: 8053 })],
    });
    const slices = deriveEndpointSlices(snap({ services: [svc], pods: [pod({ name: 'a' })] }));
    expect(slices[0]!.ports).toEqual([
      { name: 'b', port: 81, protocol: 'TCP' },
      { name: 'a', port: 8053, protocol: 'UDP' },
    ]);
  });
});

describe('address families', () => {
  test('serviceAddressTypes: ipFamilies, else the clusterIP family, else both', () => {
    expect(serviceAddressTypes(service({ ipFamilies: ['IPv6', 'IPv4'] }))).toEqual(['IPv6', 'IPv4']);
    expect(serviceAddressTypes(service({ ipFamilies: [], clusterIP: 'fd00:172:30::41' }))).toEqual(['IPv6']);
    expect(serviceAddressTypes(service({ ipFamilies: [], clusterIP: '172.30.0.41' }))).toEqual(['IPv4']);
    expect(serviceAddressTypes(service({ ipFamilies: [], clusterIP: 'None' }))).toEqual(['IPv4', 'IPv6']);
    expect(serviceAddressTypes(service({ ipFamilies: [], clusterIP: '' }))).toEqual(['IPv4', 'IPv6']);
  });

  test('dual-stack: one slice per family with that family\'s Pod IPs; single-stack Pods only in theirs', () => {
    const dual = service({ ipFamilies: ['IPv6', 'IPv4'], clusterIPs: ['fd00:172:30::41', '172.30.0.41'] });
    const pods = [
      pod({ name: 'a', podIPs: ['10.180.0.1', 'fd00:10:180::1'] }),
      pod({ name: 'b', podIPs: ['10.180.0.2'] }),
      pod({ name: 'c', podIPs: ['fd00:10:180::3'] }),
    ];
    expect(summary(deriveEndpointSlices(snap({ services: [dual], pods })))).toEqual([
      'ns1/svc1 IPv6 [p80:80/TCP] fd00:10:180::1(a) fd00:10:180::3(c)',
      'ns1/svc1 IPv4 [p80:80/TCP] 10.180.0.1(a) 10.180.0.2(b)',
    ]);
  });

  test('a single-stack IPv4 Service ignores the IPv6 Pod IPs', () => {
    const slices = deriveEndpointSlices(snap({ services: [service()], pods: [pod({ name: 'a', podIPs: ['fd00:10:180::1'] })] }));
    expect(slices).toHaveLength(1);
    expect(slices[0]!.endpoints).toEqual([]);
  });
});

describe('slices', () => {
  test('labels: Service labels minus reserved ones, service-name, managed-by; headless only for clusterIP None', () => {
    const labels = { team: 'x', 'kubernetes.io/service-name': 'spoof', 'endpointslice.kubernetes.io/managed-by': 'me' };
    expect(sliceLabels(service({ labels }))).toEqual({
      team: 'x',
      'kubernetes.io/service-name': 'svc1',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    expect(sliceLabels(service({ clusterIP: 'None' }))).toEqual({
      'service.kubernetes.io/headless': '',
      'kubernetes.io/service-name': 'svc1',
      'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
    });
    expect(sliceLabels(service({ clusterIP: '', labels: { 'service.kubernetes.io/headless': '' } }))).not.toHaveProperty(
      'service.kubernetes.io/headless',
    );
  });

  test('names: <service>- plus 5 generateName characters, deterministic, unique', () => {
    const s = snap({
      services: [service({ ports: [port({ name: 'http', port: 80, targetPort: 'http' })] })],
      pods: [
        pod({ name: 'a', containerPorts: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }),
        pod({ name: 'b', podIPs: ['10.180.0.2'], containerPorts: [{ name: 'http', containerPort: 8081, protocol: 'TCP' }] }),
      ],
    });
    const names = deriveEndpointSlices(s).map((x) => x.name);
    expect(names).toHaveLength(2);
    for (const n of names) expect(n).toMatch(/^svc1-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    expect(new Set(names).size).toBe(2);
    expect(deriveEndpointSlices(s).map((x) => x.name)).toEqual(names);
  });

  test('long Service names are cut to 58 characters before the suffix, as generateName does', () => {
    const long = 'a'.repeat(63);
    const [slice] = deriveEndpointSlices(snap({ services: [service({ name: long })], pods: [pod({ name: 'a' })] }));
    expect(slice!.name).toHaveLength(63);
    expect(slice!.name.startsWith('a'.repeat(58))).toBe(true);
    expect(slice!.serviceName).toBe(long);
  });

  test('a derived name never reuses an explicit slice name of the namespace', () => {
    const first = deriveEndpointSlices(snap({ services: [service()], pods: [pod({ name: 'a' })] }))[0]!;
    const clash: EndpointSlice = { ...first, serviceName: 'other', labels: {}, endpoints: [], ports: [] };
    const again = deriveEndpointSlices(snap({ services: [service()], endpointSlices: [clash], pods: [pod({ name: 'a' })] }))[0]!;
    expect(again.name).not.toBe(first.name);
    expect(again.name).toMatch(/^svc1-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  test('endpoints sorted bytewise by address; more than 100 split into several slices', () => {
    const pods = Array.from({ length: MAX_ENDPOINTS_PER_SLICE + 5 }, (_, i) =>
      pod({ name: `p${i}`, podIPs: [`10.180.${Math.floor(i / 250)}.${(i % 250) + 1}`] }),
    );
    const slices = deriveEndpointSlices(snap({ services: [service()], pods: [...pods].reverse() }));
    expect(slices.map((s) => s.endpoints.length)).toEqual([MAX_ENDPOINTS_PER_SLICE, 5]);
    const all = slices.flatMap((s) => s.endpoints.map((e) => e.addresses[0]!));
    expect(all).toEqual([...all].sort());
    expect(all[0]).toBe('10.180.0.1');
    expect(all[1]).toBe('10.180.0.10');
    expect(new Set(slices.map((s) => s.name)).size).toBe(2);
  });

  test('the same Pod listed twice is one endpoint', () => {
    const slices = deriveEndpointSlices(snap({ services: [service()], pods: [pod({ name: 'a' }), pod({ name: 'a' })] }));
    expect(slices[0]!.endpoints).toHaveLength(1);
  });

  test('output is independent of input order', () => {
    const services = [service(), service({ name: 'svc0', selector: { app: 'db' } }), service({ namespace: 'ns0' })];
    const pods = [
      pod({ name: 'a' }),
      pod({ name: 'b', podIPs: ['10.180.0.2'] }),
      pod({ name: 'c', podIPs: ['10.180.0.3'], labels: { app: 'db' } }),
      pod({ name: 'd', namespace: 'ns0', podIPs: ['10.180.0.4'] }),
    ];
    const a = deriveEndpointSlices(snap({ services, pods }));
    const b = deriveEndpointSlices(snap({ services: [...services].reverse(), pods: [...pods].reverse() }));
    expect(b).toEqual(a);
    expect(a.map((s) => `${s.namespace}/${s.serviceName}`)).toEqual(['ns0/svc1', 'ns1/svc0', 'ns1/svc1']);
  });
});

describe('withDerivedEndpointSlices', () => {
  test('appends derived slices and keeps explicit ones; applying it twice changes nothing', () => {
    const s = snap({ services: [service(), service({ name: 'svc2', selector: { app: 'db' } })], pods: [pod({ name: 'a' })] });
    const once = withDerivedEndpointSlices(s);
    expect(once.endpointSlices).toHaveLength(2);
    expect(once.services).toBe(s.services);
    expect(withDerivedEndpointSlices(once)).toBe(once);
  });

  test('returns the same snapshot when no Service has a selector', () => {
    const { selector: _omit, ...noSelector } = service();
    const s = snap({ services: [noSelector], pods: [pod({ name: 'a' })] });
    expect(withDerivedEndpointSlices(s)).toBe(s);
  });
});

describe('deriveSlices (the step before buildModel)', () => {
  const explicit: EndpointSlice = {
    namespace: 'ns1',
    name: 'hand-written',
    serviceName: 'svc1',
    addressType: 'IPv4',
    ports: [{ name: 'p80', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: ['10.180.0.9'], ready: true }],
    labels: { 'kubernetes.io/service-name': 'svc1' },
  };
  const dual = service({ ipFamilies: ['IPv4', 'IPv6'], clusterIPs: ['172.30.0.41', 'fd00:172:30::41'] });
  const withPods = snap({ services: [dual], endpointSlices: [explicit], pods: [pod({ name: 'a', podIPs: ['10.180.0.1', 'fd00:10:180::1'] })] });

  test('Pods go; the given slices come first, then those derived for the families without one', () => {
    const input = deriveSlices(withPods);
    expect('pods' in input).toBe(false);
    expect(input.services).toBe(withPods.services);
    expect(input.endpointSlices.map((s) => `${s.name} ${s.addressType}`)).toEqual(['hand-written IPv4', expect.stringMatching(/^svc1-[a-z0-9]{5} IPv6$/)]);
    expect(deriveSlices(input)).toEqual(input);
  });

  test('buildModel reads slices only: Pods it is handed are not endpoints (and its type refuses them)', () => {
    const endpointsOf = (model: ReturnType<typeof buildModel>) => model.plans.map((p) => p.endpoints.allReachable.map((e) => e.endpoint));
    const v6 = { family: 'IPv6', nodeName: 'test-node' } as const;
    // @ts-expect-error a snapshot with Pods is not a compiler input: derive its slices first
    expect(endpointsOf(buildModel(withPods, v6))).toEqual([[]]);
    expect(endpointsOf(buildModel(deriveSlices(withPods), v6))).toEqual([['[fd00:10:180::1]:80']]);
    expect(endpointsOf(buildModel(deriveSlices(withPods), { nodeName: 'test-node' }))).toEqual([['10.180.0.9:8080']]);
  });
});
