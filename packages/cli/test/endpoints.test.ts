import type { EndpointSlice } from '@svcrules/core';
import { loadSnapshot } from '@svcrules/snapshot';
import { runCli } from './run-cli.js';

/** Runs `svcrules <argv>` in process over in-memory files. */
const svcrules = (argv: string[], files: Record<string, string>) => runCli(argv, '/in-memory', { files });

const services = `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: ns1}
  spec:
    type: NodePort
    clusterIP: 172.30.0.41
    clusterIPs: [172.30.0.41]
    ipFamilies: [IPv4]
    externalTrafficPolicy: Local
    selector: {app: web}
    ports:
    - {name: http, protocol: TCP, port: 80, targetPort: http, nodePort: 30080}
- apiVersion: v1
  kind: Service
  metadata: {name: api, namespace: ns1}
  spec:
    clusterIP: 172.30.0.42
    clusterIPs: [172.30.0.42]
    ipFamilies: [IPv4]
    selector: {app: api}
    ports:
    - {name: grpc, protocol: TCP, port: 9000}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata:
    name: api-given
    namespace: ns1
    labels: {kubernetes.io/service-name: api}
  addressType: IPv4
  ports: [{name: grpc, protocol: TCP, port: 9000}]
  endpoints:
  - addresses: [10.180.0.99]
    conditions: {ready: true}
- apiVersion: v1
  kind: Node
  metadata: {name: test-node, labels: {topology.kubernetes.io/zone: zone-a}}
  status:
    addresses: [{type: InternalIP, address: 192.168.0.2}]
`;

function webPod(name: string, ip: string, httpPort: number, extra = ''): string {
  return `
- apiVersion: v1
  kind: Pod
  metadata: {name: ${name}, namespace: ns1, labels: {app: web}${extra}}
  spec:
    nodeName: test-node
    containers:
    - name: app
      ports: [{name: http, containerPort: ${httpPort}, protocol: TCP}]
  status:
    phase: Running
    podIPs: [{ip: ${ip}}]
    conditions: [{type: Ready, status: "True"}]
`;
}

const pods = `
apiVersion: v1
kind: List
items:
${webPod('web-1', '10.180.0.1', 8080)}
${webPod('web-2', '10.180.0.2', 8081)}
${webPod('web-3', '10.180.0.3', 8080, ', deletionTimestamp: "2026-11-20T10:00:00Z"')}
`;

/** Reads the printed YAML back with the snapshot loader: it must be a valid snapshot of EndpointSlices. */
function slicesOf(out: string): EndpointSlice[] {
  const { snapshot, diagnostics } = loadSnapshot([{ name: 'out.yaml', text: out }]);
  expect(diagnostics).toEqual([]);
  return [...snapshot.endpointSlices];
}

describe('svcrules endpoints', () => {
  test('prints the slices derived from Pods, one per port mapping, and not the given ones', async () => {
    const { out, err, code } = await svcrules(['endpoints', 'svc.yaml', 'pods.yaml'], { 'svc.yaml': services, 'pods.yaml': pods });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^apiVersion: v1\nkind: List\nitems:\n/);
    expect(out).toContain('name: web-3\n');
    const slices = slicesOf(out);
    expect(slices.map((s) => [s.serviceName, s.ports.map((p) => p.port), s.endpoints.map((e) => e.addresses[0])])).toEqual([
      ['web', [8080], ['10.180.0.1', '10.180.0.3']],
      ['web', [8081], ['10.180.0.2']],
    ]);
    const [first] = slices;
    expect(first!.labels['endpointslice.kubernetes.io/managed-by']).toBe('endpointslice-controller.k8s.io');
    expect(first!.endpoints[1]).toMatchObject({ ready: false, serving: true, terminating: true, nodeName: 'test-node', zone: 'zone-a' });
  });

  test('--all also prints the slices given in the input, first', async () => {
    const { out, code } = await svcrules(['endpoints', '--all', 'svc.yaml', 'pods.yaml'], { 'svc.yaml': services, 'pods.yaml': pods });
    expect(code).toBe(0);
    const slices = slicesOf(out);
    expect(slices.map((s) => s.name)[0]).toBe('api-given');
    expect(slices).toHaveLength(3);
  });

  test('what it prints, given back instead of the Pods, compiles to the same rules', async () => {
    const fromPods = await svcrules(['compile', 'svc.yaml', 'pods.yaml'], { 'svc.yaml': services, 'pods.yaml': pods });
    expect(fromPods.code).toBe(0);
    const slices = await svcrules(['endpoints', 'svc.yaml', 'pods.yaml'], { 'svc.yaml': services, 'pods.yaml': pods });
    const fromSlices = await svcrules(['compile', 'svc.yaml', 'slices.yaml'], { 'svc.yaml': services, 'slices.yaml': slices.out });
    expect(fromSlices.err).toBe(fromPods.err);
    expect(fromSlices.code).toBe(0);
    expect(fromSlices.out).toBe(fromPods.out);
    // and the Pods mattered: web's endpoints are in the rules
    expect(fromPods.out).toContain('10.180.0.2:8081');
  });

  test('without files it is a usage error', async () => {
    const { out, err, code } = await svcrules(['endpoints'], {});
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('no input files');
  });

  test('invalid input: located diagnostics, exit 1, nothing on stdout', async () => {
    const bad = pods.replace('10.180.0.2', '10.180.0.300');
    const { out, err, code } = await svcrules(['endpoints', 'svc.yaml', 'pods.yaml'], { 'svc.yaml': services, 'pods.yaml': bad });
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(/^pods\.yaml:\d+:\d+: .*Pod ns1\/web-2/m);
    expect(err).toContain('10.180.0.300');
  });
});
