import { buildEndpointsMap, categorizeEndpoints, portKey } from '../src/endpoints.js';
import type { EndpointInfo } from '../src/endpoints.js';
import { servicePortInfos } from '../src/service-port.js';
import { planServicePort } from '../src/service-plan.js';
import type { Endpoint } from '../src/model.js';
import { service, slice } from './helpers.js';

const NODE = 'test-node';

function eps(list: Endpoint[], svcOver = {}): { infos: EndpointInfo[]; svc: ReturnType<typeof servicePortInfos>[number] } {
  const svc = servicePortInfos(service('ns1', 'svc1', svcOver), 'IPv4')[0]!;
  const map = buildEndpointsMap([slice('ns1', 'svc1', { endpoints: list })], 'IPv4', NODE);
  return { infos: map.get(portKey('ns1/svc1:p80', 'tcp')) ?? [], svc };
}
const names = (xs: readonly EndpointInfo[]) => xs.map((e) => e.endpoint);

describe('endpoint cache', () => {
  test('sorted bytewise by ip:port, so 10.1.1.11 sorts before 10.1.1.1', () => {
    const { infos } = eps([{ addresses: ['10.1.1.1'] }, { addresses: ['10.1.1.11'] }, { addresses: ['10.1.1.2'] }]);
    expect(names(infos)).toEqual(['10.1.1.11:80', '10.1.1.1:80', '10.1.1.2:80']);
  });

  test('only addresses[0] is used, and a duplicate that is not terminating wins', () => {
    const a = slice('ns1', 'svc1', { name: 'a', endpoints: [{ addresses: ['10.0.0.1', '10.0.0.9'], terminating: false, ready: true }] });
    const b = slice('ns1', 'svc1', { name: 'b', endpoints: [{ addresses: ['10.0.0.1'], terminating: true, ready: false }] });
    const infos = buildEndpointsMap([b, a], 'IPv4', NODE).get(portKey('ns1/svc1:p80', 'tcp'))!;
    expect(infos).toHaveLength(1);
    expect(infos[0]).toMatchObject({ ip: '10.0.0.1', ready: true, terminating: false });
  });

  test('a port matches only with the same name and protocol; ports without name or number are skipped', () => {
    const s = slice('ns1', 'svc1', {
      ports: [
        { name: 'p80', port: 80, protocol: 'UDP' },
        { name: null, port: 81, protocol: 'TCP' },
        { name: 'p82', port: null, protocol: 'TCP' },
      ],
      endpoints: [{ addresses: ['10.0.0.1'] }],
    });
    const map = buildEndpointsMap([s], 'IPv4', NODE);
    expect(map.has(portKey('ns1/svc1:p80', 'tcp'))).toBe(false);
    expect(names(map.get(portKey('ns1/svc1:p80', 'udp'))!)).toEqual(['10.0.0.1:80']);
    expect(map.size).toBe(1);
  });

  test('slices of the other family, without service name, or with skip labels are ignored', () => {
    const list = [
      slice('ns1', 'svc1', { name: 'v6', addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1'] }] }),
      slice('ns1', '', { name: 'orphan', endpoints: [{ addresses: ['10.0.0.2'] }] }),
      slice('ns1', 'svc1', { name: 'other', labels: { 'service.kubernetes.io/service-proxy-name': 'x' }, endpoints: [{ addresses: ['10.0.0.3'] }] }),
    ];
    expect(buildEndpointsMap(list, 'IPv4', NODE).size).toBe(0);
  });
});

describe('CategorizeEndpoints', () => {
  test('cluster policy: ready endpoints only', () => {
    const { infos, svc } = eps([{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'], ready: false }]);
    const c = categorizeEndpoints(infos, svc, NODE, '');
    expect(names(c.cluster)).toEqual(['10.0.0.1:80']);
    expect(c.local).toEqual([]);
    expect(c.hasAny).toBe(true);
  });

  test('cluster policy falls back to serving+terminating endpoints', () => {
    const { infos, svc } = eps([
      { addresses: ['10.0.0.1'], ready: false, serving: true, terminating: true },
      { addresses: ['10.0.0.2'], ready: false, serving: false, terminating: true },
    ]);
    const c = categorizeEndpoints(infos, svc, NODE, '');
    expect(names(c.cluster)).toEqual(['10.0.0.1:80']);
    expect(c.hasAny).toBe(true);
  });

  test('nothing usable: no endpoints at all', () => {
    const { infos, svc } = eps([{ addresses: ['10.0.0.1'], ready: false, serving: false }]);
    expect(categorizeEndpoints(infos, svc, NODE, '').hasAny).toBe(false);
  });

  test('internalTrafficPolicy Local: only local ready endpoints, remote ones still count for hasAny', () => {
    const { infos, svc } = eps(
      [
        { addresses: ['10.0.0.1'], nodeName: NODE },
        { addresses: ['10.0.0.2'], nodeName: 'other' },
      ],
      { internalTrafficPolicy: 'Local' },
    );
    const c = categorizeEndpoints(infos, svc, NODE, '');
    expect(c.cluster).toEqual([]);
    expect(names(c.local)).toEqual(['10.0.0.1:80']);
    expect(names(c.allReachable)).toEqual(['10.0.0.1:80']);
  });

  test('iTP Local without local endpoints: hasAny but no internal endpoints -> DROP', () => {
    const { infos, svc } = eps([{ addresses: ['10.0.0.2'], nodeName: 'other' }], { internalTrafficPolicy: 'Local' });
    const c = categorizeEndpoints(infos, svc, NODE, '');
    const plan = planServicePort(svc, c);
    expect(plan.hasEndpoints).toBe(true);
    expect(plan.hasInternalEndpoints).toBe(false);
    expect(plan.internalFilter).toEqual({ target: 'DROP', comment: 'ns1/svc1:p80 has no local endpoints' });
  });

  test('eTP Local with a node port: cluster and local chains, local falls back to serving-terminating, union reachable', () => {
    const { infos, svc } = eps(
      [
        { addresses: ['10.0.0.1'], nodeName: 'other' },
        { addresses: ['10.0.0.2'], nodeName: NODE, ready: false, serving: true, terminating: true },
      ],
      { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }] },
    );
    const c = categorizeEndpoints(infos, svc, NODE, '');
    expect(names(c.cluster)).toEqual(['10.0.0.1:80']);
    expect(names(c.local)).toEqual(['10.0.0.2:80']);
    expect(names(c.allReachable)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
    const plan = planServicePort(svc, c);
    expect(plan.externalPolicyChain).toBe(plan.chains.svl);
    expect(plan.usesLocalPolicyChain && plan.usesClusterPolicyChain && plan.hasExternalEndpoints).toBe(true);
  });

  test('zone hints restrict cluster endpoints when every ready endpoint has hints and one is for this zone', () => {
    const { infos, svc } = eps([
      { addresses: ['10.0.0.1'], zoneHints: ['zone-a'] },
      { addresses: ['10.0.0.2'], zoneHints: ['zone-b'] },
    ]);
    expect(names(categorizeEndpoints(infos, svc, NODE, 'zone-a').cluster)).toEqual(['10.0.0.1:80']);
    expect(names(categorizeEndpoints(infos, svc, NODE, 'zone-c').cluster)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  test('zone hints are ignored when one ready endpoint has none', () => {
    const { infos, svc } = eps([{ addresses: ['10.0.0.1'], zoneHints: ['zone-a'] }, { addresses: ['10.0.0.2'] }]);
    expect(names(categorizeEndpoints(infos, svc, NODE, 'zone-a').cluster)).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });

  test('node hints win over zone hints (PreferSameNode)', () => {
    const { infos, svc } = eps([
      { addresses: ['10.0.0.1'], zoneHints: ['zone-a'], nodeHints: ['other'] },
      { addresses: ['10.0.0.2'], zoneHints: ['zone-a'], nodeHints: [NODE] },
    ]);
    expect(names(categorizeEndpoints(infos, svc, NODE, 'zone-a').cluster)).toEqual(['10.0.0.2:80']);
  });
});

describe('service port info', () => {
  test('the Service is skipped for a family without a cluster IP, even with external IPs of it', () => {
    const svc = service('ns1', 'svc1', { externalIPs: ['fd00::5'] });
    expect(servicePortInfos(svc, 'IPv6')).toEqual([]);
  });
  test('headless, ExternalName and service-proxy-name services are skipped', () => {
    expect(servicePortInfos(service('a', 'b', { clusterIP: 'None', clusterIPs: ['None'] }), 'IPv4')).toEqual([]);
    expect(servicePortInfos(service('a', 'b', { type: 'ExternalName' }), 'IPv4')).toEqual([]);
    expect(servicePortInfos(service('a', 'b', { labels: { 'service.kubernetes.io/service-proxy-name': 'x' } }), 'IPv4')).toEqual([]);
  });
  test('LB ingress: hostname-only and ipMode Proxy are not VIPs; other families are dropped', () => {
    const info = servicePortInfos(
      service('a', 'b', { type: 'LoadBalancer', loadBalancerIngress: [{ ip: '' }, { ip: '1.2.3.4', ipMode: 'Proxy' }, { ip: '5.6.7.8', ipMode: 'VIP' }, { ip: 'fd00::1' }, { ip: '9.9.9.9' }] }),
      'IPv4',
    )[0]!;
    expect(info.loadBalancerVIPs).toEqual(['5.6.7.8', '9.9.9.9']);
  });
  test('eTP Local counts for a ClusterIP service only when it has external IPs; health-check port only for LoadBalancer', () => {
    expect(servicePortInfos(service('a', 'b', { externalTrafficPolicy: 'Local' }), 'IPv4')[0]!.externalPolicyLocal).toBe(false);
    expect(servicePortInfos(service('a', 'b', { externalTrafficPolicy: 'Local', externalIPs: ['1.1.1.1'] }), 'IPv4')[0]!.externalPolicyLocal).toBe(true);
    expect(servicePortInfos(service('a', 'b', { type: 'NodePort', externalTrafficPolicy: 'Local', healthCheckNodePort: 30000 }), 'IPv4')[0]!.healthCheckNodePort).toBe(0);
    expect(servicePortInfos(service('a', 'b', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: 30000 }), 'IPv4')[0]!.healthCheckNodePort).toBe(30000);
  });
});
