import { formatDiagnostic } from '@svcrules/core';
import { snapshotFromObjects } from '../src/index.js';

/**
 * API defaulting, field by field, against kubernetes pkg/apis/core/v1/defaults.go (SetDefaults_Service,
 * SetDefaults_Endpoints, SetDefaults_ContainerPort), pkg/apis/discovery/v1/defaults.go
 * (SetDefaults_EndpointPort) and pkg/proxy/apis/config/v1alpha1/defaults.go: an absent field, a null
 * and the field's empty value all read as the default (Helm-rendered manifests are full of "").
 */
const svc = (spec: Record<string, unknown>, port: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'ns1' },
  spec: { clusterIP: '172.30.0.10', ports: [{ name: 'http', port: 80, ...port }], ...spec },
});

function loadOne(objects: unknown[]) {
  const r = snapshotFromObjects(objects);
  expect(r.diagnostics.map(formatDiagnostic)).toEqual([]);
  return r.snapshot;
}

describe('Service defaulting (SetDefaults_Service)', () => {
  test.each([
    ['type', 'type', 'ClusterIP'],
    ['sessionAffinity', 'sessionAffinity', 'None'],
    ['externalTrafficPolicy', 'externalTrafficPolicy', 'Cluster'],
    ['internalTrafficPolicy', 'internalTrafficPolicy', 'Cluster'],
  ] as const)('spec.%s: absent, null and "" read as the default', (field, key, expected) => {
    for (const value of [undefined, null, '']) {
      const s = loadOne([svc(value === undefined ? {} : { [field]: value })]).services[0]!;
      expect([field, value, s[key]]).toEqual([field, value, expected]);
    }
  });

  test('spec.ports[].protocol: absent, null and "" are TCP', () => {
    for (const protocol of [undefined, null, '']) expect(loadOne([svc({}, protocol === undefined ? {} : { protocol })]).services[0]!.ports[0]!.protocol).toBe('TCP');
  });

  test('spec.ports[].targetPort: absent, null, 0 and "" are the port', () => {
    for (const targetPort of [undefined, null, 0, '']) expect([targetPort, loadOne([svc({}, targetPort === undefined ? {} : { targetPort })]).services[0]!.ports[0]!.targetPort]).toEqual([targetPort, 80]);
  });

  test('sessionAffinityConfig.clientIP.timeoutSeconds: absent with ClientIP is 10800', () => {
    expect(loadOne([svc({ sessionAffinity: 'ClientIP' })]).services[0]!.affinityTimeoutSeconds).toBe(10800);
  });

  test('a value that is not empty is still checked: "tcp" is not a protocol, -1 not a targetPort', () => {
    const r = snapshotFromObjects([svc({}, { protocol: 'tcp', targetPort: -1 })]);
    expect(r.diagnostics.map((d) => [d.path, d.code])).toEqual([
      ['spec.ports[0].protocol', 'invalid-protocol'],
      ['spec.ports[0].targetPort', 'invalid-target-port'],
    ]);
  });

  test('a Helm-rendered Service with every defaulted field empty compiles like one without them', () => {
    const helm = loadOne([svc({ type: '', sessionAffinity: '', externalTrafficPolicy: '', internalTrafficPolicy: '' }, { protocol: '', targetPort: '' })]);
    expect(helm.services).toEqual(loadOne([svc({})]).services);
  });
});

describe('Endpoints, EndpointSlice and Pod defaulting', () => {
  test('Endpoints subsets[].ports[].protocol: absent, null and "" are TCP (SetDefaults_Endpoints)', () => {
    for (const protocol of [undefined, null, '']) {
      const ep = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'web', namespace: 'ns1' }, subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ name: 'http', port: 8080, ...(protocol === undefined ? {} : { protocol }) }] }] };
      const slices = loadOne([svc({ selector: { app: 'web' } }), ep]).endpointSlices;
      expect(slices[0]!.ports).toEqual([{ name: 'http', port: 8080, protocol: 'TCP' }]);
    }
  });

  test('EndpointSlice ports[].name absent is "" and protocol absent is TCP (SetDefaults_EndpointPort)', () => {
    const slice = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 's', namespace: 'ns1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [], ports: [{ port: 80 }] };
    expect(loadOne([slice]).endpointSlices[0]!.ports).toEqual([{ name: '', port: 80, protocol: 'TCP' }]);
  });

  test('Pod containers[].ports[].protocol: "" is TCP (SetDefaults_ContainerPort)', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'ns1' }, spec: { containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080, protocol: '' }] }] }, status: { podIP: '10.0.0.1' } };
    expect(loadOne([pod]).pods![0]!.containerPorts).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
  });
});

describe('KubeProxyConfiguration defaulting (v1alpha1 SetDefaults_KubeProxyConfiguration and kube-proxy flags)', () => {
  const kpc = (fields: Record<string, unknown>) => ({ apiVersion: 'kubeproxy.config.k8s.io/v1alpha1', kind: 'KubeProxyConfiguration', ...fields });
  test.each([
    ['mode: "" (the platform default, iptables)', { mode: '' }],
    ['hostnameOverride: "" (the host name)', { hostnameOverride: '' }],
    ['clusterCIDR: "" (none)', { clusterCIDR: '' }],
    ['detectLocalMode: "" (ClusterCIDR, kube-proxy\'s default)', { detectLocalMode: '' }],
    ['iptables.masqueradeBit: null (14)', { iptables: { masqueradeBit: null } }],
    ['iptables.localhostNodePorts: null (true)', { iptables: { localhostNodePorts: null } }],
    ['detectLocal.bridgeInterface: "" (none)', { detectLocal: { bridgeInterface: '', interfaceNamePrefix: '' } }],
  ])('%s reads as unset', (_what, fields) => {
    expect(loadOne([kpc(fields)]).config).toEqual({});
  });
});
