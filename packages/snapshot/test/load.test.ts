import { formatDiagnostic } from '@svcrules/core';
import type { Diagnostic } from '@svcrules/core';
import { loadSnapshot, snapshotFromObjects } from '../src/index.js';
import { serviceWithDefaults } from '@svcrules/testkit';

const lines = (ds: readonly Diagnostic[]) => ds.map(formatDiagnostic);
const load = (text: string, name = 'in.yaml') => loadSnapshot([{ name, text }]);

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: svc1
  namespace: ns1
  labels: {app: web}
spec:
  clusterIP: 172.30.0.041
  selector: {app: web}
  ports:
  - name: p80
    port: 80
    targetPort: http
  - name: p81
    port: 81
    protocol: UDP
`;

describe('Service', () => {
  test('API defaults are filled and sloppy IPs stored canonical, silently', () => {
    const r = load(SERVICE);
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.services).toEqual([
      serviceWithDefaults('ns1', 'svc1', {
        clusterIP: '172.30.0.41',
        ports: [
          { name: 'p80', protocol: 'TCP', port: 80, nodePort: 0, targetPort: 'http' },
          { name: 'p81', protocol: 'UDP', port: 81, nodePort: 0, targetPort: 81 },
        ],
        labels: { app: 'web' },
        selector: { app: 'web' },
        origin: { file: 'in.yaml', line: 1, column: 1 },
      }),
    ]);
  });

  test('every field kube-proxy reads, in canonical form', () => {
    const r = load(`apiVersion: v1
kind: Service
metadata: {name: lb}
spec:
  type: LoadBalancer
  clusterIPs: ["FD00:172:30:0:0:0:0:0A", 172.30.0.9]
  externalIPs: [192.168.099.1, 192.168.99.1]
  loadBalancerSourceRanges: [" 203.0.113.7/25 ", 10.1.2.3/8, "203.000.113.000/025"]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 86400}}
  externalTrafficPolicy: Local
  internalTrafficPolicy: Local
  healthCheckNodePort: 30001
  publishNotReadyAddresses: true
  selector: {}
  ports: [{port: 53, nodePort: 30053, protocol: SCTP}]
status:
  loadBalancer:
    ingress: [{ip: 1.2.3.4}, {hostname: lb.example.com}, {ip: 5.6.7.8, ipMode: Proxy}]
`);
    expect(r.diagnostics).toEqual([]);
    const { origin, ...svc } = r.snapshot.services[0]!;
    expect(origin).toEqual({ file: 'in.yaml', line: 1, column: 1 });
    expect(svc).toEqual({
      namespace: 'default',
      name: 'lb',
      type: 'LoadBalancer',
      clusterIP: 'fd00:172:30::a',
      clusterIPs: ['fd00:172:30::a', '172.30.0.9'],
      ipFamilies: ['IPv6', 'IPv4'],
      ports: [{ name: '', protocol: 'SCTP', port: 53, nodePort: 30053, targetPort: 53 }],
      externalIPs: ['192.168.99.1', '192.168.99.1'],
      loadBalancerIngress: [{ ip: '1.2.3.4' }, { ip: '' }, { ip: '5.6.7.8', ipMode: 'Proxy' }],
      loadBalancerSourceRanges: ['203.0.113.0/25', '10.0.0.0/8', '203.0.113.0/25'],
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 86400,
      externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Local',
      healthCheckNodePort: 30001,
      labels: {},
      publishNotReadyAddresses: true,
    });
  });

  test('headless and ExternalName services are kept (the compiler skips them)', () => {
    const r = load(`apiVersion: v1
kind: Service
metadata: {name: headless, namespace: ns1}
spec: {clusterIP: None, ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: ext, namespace: ns1}
spec: {type: ExternalName, externalName: example.com}
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.services.map((s) => [s.name, s.type, s.clusterIP, s.clusterIPs, s.ipFamilies])).toEqual([
      ['headless', 'ClusterIP', 'None', ['None'], []],
      ['ext', 'ExternalName', '', [], []],
    ]);
  });

  test('all problems of one object are reported, each at its own position', () => {
    const r = load(`apiVersion: v1
kind: Service
metadata: {name: svc1, namespace: ns1}
spec:
  clusterIP: 1.2.3
  ports:
  - {name: "a b", port: 0, protocol: tcp}
`);
    expect(lines(r.diagnostics)).toEqual([
      'in.yaml:5:14: Service ns1/svc1: spec.clusterIP: expected an IP address, "None" or "", got "1.2.3" [invalid-ip]',
      `in.yaml:7:12: Service ns1/svc1: spec.ports[0].name: expected a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters) or "", got "a b" [invalid-port-name]`,
      'in.yaml:7:25: Service ns1/svc1: spec.ports[0].port: expected an integer from 1 to 65535, got 0 [invalid-port]',
      'in.yaml:7:38: Service ns1/svc1: spec.ports[0].protocol: expected one of TCP, UDP, SCTP, got "tcp" [invalid-protocol]',
    ]);
    expect(r.snapshot.services).toEqual([]);
  });

  test('a long hostile value is shown escaped and shortened on one line', () => {
    const long = `x"\n${'y'.repeat(200)}`;
    const r = snapshotFromObjects([{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: long }, spec: {} }]);
    const [d] = r.diagnostics;
    expect(d!.message).toBe(`expected a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters), got "x\\"\\n${'y'.repeat(57)}"... (203 characters)`);
    expect(formatDiagnostic(d!)).not.toMatch(/\n/);
  });
});

describe('documents', () => {
  test('kind: List and typed lists are unwrapped; items keep their own positions', () => {
    const r = load(`apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: node-1}
- apiVersion: v1
  kind: ServiceList
  items:
  - metadata: {name: svc2, namespace: ns1}
    spec: {clusterIP: 172.30.0.2, ports: [{port: 70000}]}
`);
    expect(r.snapshot.nodes.map((n) => [n.name, n.origin])).toEqual([['node-1', { file: 'in.yaml', line: 4, column: 3 }]]);
    expect(lines(r.diagnostics)).toEqual(['in.yaml:11:50: Service ns1/svc2: spec.ports[0].port: expected an integer from 1 to 65535, got 70000 [invalid-port]']);
  });

  test('JSON (a stream of values, as kubectl reads it) gets positions too', () => {
    const r = load('{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}\n{\n  "apiVersion": "v1",\n  "kind": "Node",\n  "metadata": {"name": "N2"}\n}\n', 'in.json');
    expect(r.snapshot.nodes.map((n) => n.name)).toEqual(['n1']);
    expect(lines(r.diagnostics)).toEqual([
      'in.json:5:24: Node N2: metadata.name: expected a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters), got "N2" [invalid-name]',
    ]);
  });

  test('JSON strings decode as JSON.parse decodes them', () => {
    const text = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a\\u00e9\\ud83d\\ude00\\/\\n\\"\\\\", "namespace": "ns1"}}';
    const r = load(text, 'in.json');
    expect(r.ignored.map((i) => i.object)).toEqual([`ns1/${JSON.stringify(JSON.parse(text).metadata.name).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}`]);
  });

  test('a byte-order mark, CRLF line ends and empty documents are fine', () => {
    const r = load('\uFEFF---\r\napiVersion: v1\r\nkind: Node\r\nmetadata:\r\n  name: Bad\r\n---\r\n---\r\n');
    expect(lines(r.diagnostics)).toEqual([
      'in.yaml:5:9: Node Bad: metadata.name: expected a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters), got "Bad" [invalid-name]',
    ]);
  });

  test('several sources: diagnostics in source order, each naming its file', () => {
    const bad = (name: string) => `apiVersion: v1\nkind: Node\nmetadata: {name: ${name}}\n`;
    const r = loadSnapshot([
      { name: 'b.yaml', text: bad('B1') },
      { name: 'a.yaml', text: `${bad('ok')}---\n${bad('A1')}` },
    ]);
    expect(r.diagnostics.map((d) => `${d.origin?.file}:${d.origin?.line} ${d.object}`)).toEqual(['b.yaml:3 Node B1', 'a.yaml:7 Node A1']);
    expect(r.snapshot.nodes.map((n) => n.name)).toEqual(['ok']);
  });

  test('other kinds are ignored and listed; known kinds at other versions are ignored with a warning', () => {
    const r = load(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns1}
---
apiVersion: discovery.k8s.io/v1alpha1
kind: EndpointSlice
metadata: {name: s, namespace: ns1}
`);
    expect(r.ignored).toEqual([
      { kind: 'Deployment', object: 'ns1/web', origin: { file: 'in.yaml', line: 1, column: 1 }, reason: 'svcrules does not read this kind' },
      { kind: 'EndpointSlice', object: 'ns1/s', origin: { file: 'in.yaml', line: 5, column: 1 }, reason: 'apiVersion discovery.k8s.io/v1alpha1 is not read (svcrules reads discovery.k8s.io/v1)' },
    ]);
    expect(r.diagnostics.map((d) => [d.severity, d.code])).toEqual([['warning', 'unsupported-api-version']]);
  });

  test('duplicate objects: an error naming both positions, and neither copy is kept', () => {
    const node = 'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\n';
    const r = loadSnapshot([
      { name: 'a.yaml', text: node },
      { name: 'b.yaml', text: `apiVersion: v1\nkind: Node\nmetadata: {name: n2}\n---\n${node}` },
    ]);
    expect(lines(r.diagnostics)).toEqual(['b.yaml:7:18: Node n1: metadata.name: expected each Node once, got a second definition (the first is at a.yaml:1:1) [duplicate-object]']);
    expect(r.snapshot.nodes.map((n) => n.name)).toEqual(['n2']);
  });

  test('objects of the same name in different namespaces or kinds are not duplicates', () => {
    const r = snapshotFromObjects([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'a' }, spec: {} },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'b' }, spec: {} },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: {} },
      { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 's', namespace: 'a' } },
    ]);
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.services.map((s) => `${s.namespace}/${s.name}`)).toEqual(['a/s', 'b/s', 'default/s']);
  });
});

describe('strict and skipInvalid', () => {
  const text = `apiVersion: v1
kind: Node
metadata: {name: good}
---
apiVersion: v1
kind: Node
metadata: {name: "bad node"}
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: ns1}
spec: {ports: [{port: 0}]}
`;
  test('strict: errors, and the snapshot holds only the valid objects', () => {
    const r = load(text);
    expect(r.diagnostics.map((d) => [d.severity, d.code])).toEqual([
      ['error', 'invalid-name'],
      ['error', 'invalid-port'],
    ]);
    expect(r.snapshot.nodes.map((n) => n.name)).toEqual(['good']);
    expect(r.snapshot.services).toEqual([]);
  });

  test('skipInvalid: the same reports as warnings, the same snapshot', () => {
    const strict = load(text);
    const skip = loadSnapshot([{ name: 'in.yaml', text }], { skipInvalid: true });
    expect(skip.diagnostics).toEqual(strict.diagnostics.map((d) => ({ ...d, severity: 'warning' })));
    expect(skip.snapshot).toEqual(strict.snapshot);
    expect(lines(skip.diagnostics)[0]).toBe(
      'in.yaml:7:18: Node "bad node": metadata.name: warning: expected a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters), got "bad node" [invalid-name]',
    );
  });

  test('a syntax error spoils only its document', () => {
    const r = load('apiVersion: v1\nkind: Node\nmetadata: {name: [}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n2}\n');
    expect(r.diagnostics.map((d) => [d.code, d.origin?.line])).toEqual([['syntax', 3]]);
    expect(r.snapshot.nodes.map((n) => n.name)).toEqual(['n2']);
  });
});

describe('snapshotFromObjects', () => {
  test('no positions; object names and paths in diagnostics; null means absent', () => {
    const r = snapshotFromObjects([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc1', namespace: 'ns1', labels: null }, spec: { clusterIP: '10.0.0.1', ports: [{ port: 80, protocol: null, name: null }], selector: null } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'svc2', namespace: 'ns1' }, spec: { ports: [{ port: 80 }, null] } },
      'nope',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'ns1' } },
    ]);
    expect(lines(r.diagnostics)).toEqual([
      'Service ns1/svc2: spec.ports[1]: expected a mapping, got null [invalid-type]',
      'expected a Kubernetes object (a mapping with apiVersion and kind), got "nope" [not-an-object]',
    ]);
    expect(r.snapshot.services.map((s) => [s.name, s.ports, s.labels, s.selector, s.origin])).toEqual([
      ['svc1', [{ name: '', protocol: 'TCP', port: 80, nodePort: 0, targetPort: 80 }], {}, undefined, undefined],
    ]);
    expect(r.ignored).toEqual([{ kind: 'ConfigMap', object: 'ns1/c', index: 3, reason: 'not kube-proxy\'s ConfigMap (svcrules reads a ConfigMap only for its data["config.conf"])' }]);
  });

  test('a __proto__ label key is refused and pollutes nothing', () => {
    const labels = JSON.parse('{"__proto__": {"polluted": "yes"}, "ok": "v"}') as object;
    const r = snapshotFromObjects([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels } }]);
    expect(r.diagnostics.map((d) => [d.code, d.path])).toEqual([
      ['invalid-label', 'metadata.labels.__proto__'],
      ['invalid-label', 'metadata.labels.__proto__'],
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('EndpointSlice, Node, Pod, KubeProxyConfiguration', () => {
  test('EndpointSlice: conditions and hints as written, an absent port name "" and an absent port null, FQDN accepted', () => {
    const r = load(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: svc1-abc
  namespace: ns1
  labels: {kubernetes.io/service-name: svc1}
addressType: IPv6
endpoints:
- addresses: ["FD00:10:180::01", "fd00:10:180::2"]
  conditions: {ready: false, serving: true, terminating: true}
  nodeName: node-1
  zone: zone-a
  hints: {forZones: [{name: zone-a}], forNodes: [{name: node-1}]}
- addresses: []
ports:
- {name: p80, port: 8080}
- {port: 8081, protocol: UDP}
- {name: p82}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: svc2-fqdn, namespace: ns1}
addressType: FQDN
endpoints: [{addresses: [example.com]}]
`);
    expect(r.diagnostics).toEqual([]);
    const [a, b] = r.snapshot.endpointSlices;
    expect({ ...a, origin: undefined }).toEqual({
      namespace: 'ns1',
      name: 'svc1-abc',
      serviceName: 'svc1',
      addressType: 'IPv6',
      ports: [
        { name: 'p80', port: 8080, protocol: 'TCP' },
        { name: '', port: 8081, protocol: 'UDP' },
        { name: 'p82', port: null, protocol: 'TCP' },
      ],
      endpoints: [
        { addresses: ['fd00:10:180::1', 'fd00:10:180::2'], ready: false, serving: true, terminating: true, nodeName: 'node-1', zone: 'zone-a', zoneHints: ['zone-a'], nodeHints: ['node-1'] },
        { addresses: [] },
      ],
      labels: { 'kubernetes.io/service-name': 'svc1' },
      origin: undefined,
    });
    expect([b!.serviceName, b!.addressType, b!.endpoints]).toEqual(['', 'FQDN', [{ addresses: ['example.com'] }]]);
  });

  test('EndpointSlice discovery.k8s.io/v1beta1 (kubectl of 1.19-1.20): read as the API server converts it to v1', () => {
    // From a kind 1.20 dump: topology instead of nodeName/zone. The zone moves to `zone` (v1beta1/conversion.go);
    // the hostname is the node when nodeName is absent (kube-proxy 1.20 read it there), never over nodeName.
    const r = load(`apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata:
  name: echo-2j87f
  namespace: default
  labels: {kubernetes.io/service-name: echo}
addressType: IPv6
endpoints:
- addresses: [fd00:10:244:2::e073]
  conditions: {ready: true}
  topology: {kubernetes.io/hostname: worker2, topology.kubernetes.io/zone: zone-b}
- addresses: [fd00:10:244:1::ab29]
  conditions: {ready: false}
  nodeName: worker
  topology: {kubernetes.io/hostname: other}
ports:
- {name: http, port: 80, protocol: TCP}
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.ignored).toEqual([]);
    expect(r.snapshot.endpointSlices.map((s) => [s.name, s.serviceName, s.addressType, s.endpoints, s.ports])).toEqual([
      [
        'echo-2j87f',
        'echo',
        'IPv6',
        [
          { addresses: ['fd00:10:244:2::e073'], ready: true, nodeName: 'worker2', zone: 'zone-b' },
          { addresses: ['fd00:10:244:1::ab29'], ready: false, nodeName: 'worker' },
        ],
        [{ name: 'http', port: 80, protocol: 'TCP' }],
      ],
    ]);
  });

  test('EndpointSlice v1beta1: a bad topology zone is an error at its key; the v1 checks apply', () => {
    const r = load(`apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: s, namespace: ns1}
addressType: IPv4
endpoints:
- addresses: [10.0.0.1]
  topology: {topology.kubernetes.io/zone: "-bad-", kubernetes.io/hostname: Node_1}
- addresses: [fd00::1]
`);
    expect(lines(r.diagnostics)).toEqual([
      'in.yaml:7:43: EndpointSlice ns1/s: endpoints[0].topology["topology.kubernetes.io/zone"]: expected a zone name (a non-empty label value: at most 63 letters, digits, \'-\', \'_\', \'.\', starting and ending with a letter or digit), got "-bad-" [invalid-zone]',
      'in.yaml:7:76: EndpointSlice ns1/s: endpoints[0].topology["kubernetes.io/hostname"]: expected a DNS-1123 subdomain (dot-separated DNS-1123 labels, at most 253 characters), got "Node_1" [invalid-node-name]',
      'in.yaml:8:15: EndpointSlice ns1/s: endpoints[1].addresses[0]: expected an IPv4 address (the slice\'s addressType), got "fd00::1" [family-mismatch]',
    ]);
    expect(r.snapshot.endpointSlices).toEqual([]);
  });

  test('Node: canonical IPs and CIDRs, podCIDR as fallback', () => {
    const r = load(`apiVersion: v1
kind: Node
metadata:
  name: node-1
  labels: {topology.kubernetes.io/zone: zone-a}
spec: {podCIDR: 10.0.1.7/24}
status:
  addresses:
  - {type: InternalIP, address: 192.168.000.002}
  - {type: InternalIP, address: "FD00::2"}
  - {type: Hostname, address: node-1.example.com}
`);
    expect(r.diagnostics).toEqual([]);
    expect({ ...r.snapshot.nodes[0], origin: undefined }).toEqual({
      name: 'node-1',
      addresses: [
        { type: 'InternalIP', address: '192.168.0.2' },
        { type: 'InternalIP', address: 'fd00::2' },
        { type: 'Hostname', address: 'node-1.example.com' },
      ],
      podCIDRs: ['10.0.1.0/24'],
      labels: { 'topology.kubernetes.io/zone': 'zone-a' },
      origin: undefined,
    });
  });

  test('Pod: Ready condition, deletionTimestamp, podIP fallback, sidecar ports only', () => {
    const r = load(`apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: ns1
  labels: {app: web}
  deletionTimestamp: "2026-11-24T10:00:00Z"
spec:
  nodeName: node-1
  initContainers:
  - {name: init, ports: [{name: init, containerPort: 1}]}
  - {name: sidecar, restartPolicy: Always, ports: [{name: metrics, containerPort: 9090}]}
  containers:
  - name: web
    ports: [{name: http, containerPort: 8080}, {containerPort: 53, protocol: UDP}]
status:
  phase: Running
  podIP: 10.180.0.05
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-2, namespace: ns1}
status:
  podIPs: [{ip: 10.180.0.6}, {ip: "fd00::6"}]
  conditions: [{type: Ready, status: "False"}]
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.pods!.map((p) => ({ ...p, origin: undefined }))).toEqual([
      {
        namespace: 'ns1',
        name: 'web-1',
        labels: { app: 'web' },
        nodeName: 'node-1',
        phase: 'Running',
        podIPs: ['10.180.0.5'],
        ready: true,
        terminating: true,
        containerPorts: [
          { name: 'http', containerPort: 8080, protocol: 'TCP' },
          { containerPort: 53, protocol: 'UDP' },
          { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
        ],
        origin: undefined,
      },
      { namespace: 'ns1', name: 'web-2', labels: {}, podIPs: ['10.180.0.6', 'fd00::6'], ready: false, terminating: false, containerPorts: [], origin: undefined },
    ]);
  });

  test('no Pods: the snapshot has no pods field', () => {
    expect(load(SERVICE).snapshot.pods).toBeUndefined();
  });

  test('KubeProxyConfiguration: the fields the iptables proxier uses, kube-proxy style', () => {
    const r = load(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
hostnameOverride: "  Node-1 "
clusterCIDR: 10.0.0.1/8,fd00:10::/48
detectLocalMode: InterfaceNamePrefix
detectLocal: {bridgeInterface: "", interfaceNamePrefix: veth}
iptables: {masqueradeBit: 14, masqueradeAll: true, localhostNodePorts: false}
nodePortAddresses: [127.0.0.1/8, "fd00::1/64"]
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.config).toEqual({
      hostnameOverride: 'node-1',
      clusterCIDRs: ['10.0.0.0/8', 'fd00:10::/48'],
      detectLocalMode: 'InterfaceNamePrefix',
      interfaceNamePrefix: 'veth',
      masqueradeBit: 14,
      masqueradeAll: true,
      localhostNodePorts: false,
      nodePortAddresses: ['127.0.0.0/8', 'fd00::/64'],
      mode: 'iptables',
      origin: { file: 'in.yaml', line: 1, column: 1 },
    });
    const empty = load('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\ndetectLocalMode: ""\nclusterCIDR: ""\nnodePortAddresses: [primary]\n');
    expect(empty.diagnostics).toEqual([]);
    expect({ ...empty.snapshot.config, origin: undefined }).toEqual({ nodePortAddresses: ['primary'], origin: undefined });
  });
});

describe('nftables mode inputs', () => {
  test('mode nftables and the nftables section are kept beside the iptables one', () => {
    const r = load(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
iptables: {masqueradeBit: 14}
nftables: {masqueradeBit: 3, masqueradeAll: true}
`);
    expect(r.diagnostics).toEqual([]);
    expect({ ...r.snapshot.config, origin: undefined }).toEqual({ mode: 'nftables', masqueradeBit: 14, nftables: { masqueradeBit: 3, masqueradeAll: true }, origin: undefined });
  });

  test('ServiceCIDR objects: canonical CIDRs; two of one family or a bad CIDR is an error naming the field', () => {
    const r = load('apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: kubernetes}\nspec: {cidrs: [172.30.0.1/16, "fd00:10:96::/112"]}\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.snapshot.serviceCIDRs).toEqual([{ name: 'kubernetes', cidrs: ['172.30.0.0/16', 'fd00:10:96::/112'], origin: { file: 'in.yaml', line: 1, column: 1 } }]);
    const two = load('apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: a}\nspec: {cidrs: [172.30.0.0/16, 10.96.0.0/12]}\n');
    expect(two.diagnostics.map((d) => [d.severity, d.code, d.object, d.path])).toEqual([['error', 'invalid-cidr', 'ServiceCIDR a', 'spec.cidrs[1]']]);
    expect(two.snapshot.serviceCIDRs).toBeUndefined();
    const bad = load('apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: a}\nspec: {cidrs: ["172.30.0.0/16 } drop"]}\n');
    expect(bad.diagnostics.map((d) => [d.severity, d.object, d.path])).toEqual([['error', 'ServiceCIDR a', 'spec.cidrs[0]']]);
  });
});

describe("kube-proxy's ConfigMap (kubectl get cm -n kube-system kube-proxy -o yaml)", () => {
  const cm = (body: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-proxy
  namespace: kube-system
data:
  config.conf: |-
${body
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
  kubeconfig.conf: |-
    apiVersion: v1
    kind: Config
`;

  test('data["config.conf"] is read as the KubeProxyConfiguration; the ConfigMap itself is not ignored', () => {
    const r = load(cm('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nclusterCIDR: 10.244.0.0/16\nmode: ""\niptables:\n  masqueradeBit: 14'));
    expect(r.diagnostics).toEqual([]);
    expect(r.ignored).toEqual([]);
    expect(r.snapshot.config).toEqual({ clusterCIDRs: ['10.244.0.0/16'], masqueradeBit: 14, origin: { file: 'in.yaml', line: 8, column: 5 } });
  });

  test('an error inside the embedded text is located at its line in the outer file', () => {
    const r = load(cm('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables:\n  masqueradeBit: 40'));
    expect(r.diagnostics.map(formatDiagnostic)).toEqual(['in.yaml:11:22: KubeProxyConfiguration: iptables.masqueradeBit: expected an integer from 0 to 31, got 40 [invalid-masquerade-bit]']);
  });

  test('a syntax error in the embedded text too; in JSON output the value is the place', () => {
    expect(load(cm('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: "iptables')).diagnostics.map(formatDiagnostic)).toEqual(['in.yaml:10:20: invalid YAML: Missing closing "quote [syntax]']);
    const json = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\niptables: {masqueradeBit: 99}' } }, null, 2);
    const r = load(json);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([`in.yaml:9:20: KubeProxyConfiguration: iptables.masqueradeBit: expected an integer from 0 to 31, got 99 [invalid-masquerade-bit]`]);
  });

  test("EKS's kube-proxy-config keeps it under data.config; other ConfigMaps are ignored", () => {
    const eks = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kube-proxy-config, namespace: kube-system}\ndata:\n  config: |\n    apiVersion: kubeproxy.config.k8s.io/v1alpha1\n    kind: KubeProxyConfiguration\n    clusterCIDR: 10.0.0.0/16\n`;
    expect(load(eks).snapshot.config?.clusterCIDRs).toEqual(['10.0.0.0/16']);
    const other = load(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: x}\ndata:\n  config: "a: b"\n`);
    expect([other.snapshot.config, other.ignored.map((i) => i.reason)]).toEqual([undefined, ['not kube-proxy\'s ConfigMap (svcrules reads a ConfigMap only for its data["config.conf"])']]);
  });
});
