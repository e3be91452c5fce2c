// Transcribes the proxier_test.go@531be812 tests that check BEHAVIOUR (runPacketFlowTests) or
// ONE CHAIN (assertIPTablesChainEqual) but never a whole dump, so they have no expected.out and do
// not belong in fixtures/compile/upstream (whose cases are byte-compared). Each case gets
// input.yaml, cmd, SOURCE, and flows.yaml (packet-flow expectations, verbatim from the Go test)
// and/or chains.yaml (exact rule lists of single chains, verbatim). Usage:
//   node packages/testkit/scripts/gen-upstream-flow-tests.mjs <output-dir>
// e.g. fixtures/trace/upstream. Deterministic.

import { join, resolve } from 'node:path';
import YAML from 'yaml';
import {
  FAKE_FLAGS,
  FAKE_INTERFACE_ADDRESSES,
  TEST_EXTERNAL_CLIENT as EXT,
  TEST_EXTERNAL_CLIENT_BLOCKED as EXT_BLOCKED,
  TEST_NODE_IP as NODE,
  TEST_NODE_IP_ALT,
  TEST_NODE_IPS,
  TEST_NODE_IPV6,
  TEST_NODE_IPV6_ALT,
  UPSTREAM_COMMIT,
  endpointSlice,
  flowsYAML,
  node,
  port,
  proxyConfig,
  service,
  toYAML,
  writeText,
} from './upstream-objects.mjs';

const outRoot = process.argv[2];
if (!outRoot) {
  process.stderr.write('usage: gen-upstream-flow-tests.mjs <output-dir>\n');
  process.exit(2);
}

const FIREWALL_RULE =
  '-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP';

/**
 * @param c.name folder name; c.test Go test; c.subtest Go t.Run name (if any); c.read where in the
 *   file; c.objects snapshot; c.flags extra compile flags; c.flows packet flows; c.chains chain
 *   assertions; c.notes mapping notes.
 */
function writeCase(c) {
  const dir = join(resolve(outRoot), c.name);
  writeText(join(dir, 'input.yaml'), toYAML(c.objects));
  const base = c.fakeFlags ?? FAKE_FLAGS;
  writeText(join(dir, 'cmd'), `compile ${[base, ...(c.flags ?? [])].join(' ')} input.yaml\n`);
  if (c.flows) writeText(join(dir, 'flows.yaml'), flowsYAML(c.flows));
  if (c.chains) writeText(join(dir, 'chains.yaml'), YAML.stringify(c.chains, { lineWidth: 0 }));
  const lines = [
    `Go test:  ${c.test}${c.subtest ? ` / t.Run(${JSON.stringify(c.subtest)})` : ''} (kubernetes/kubernetes pkg/proxy/iptables/proxier_test.go)`,
    `Commit:   ${UPSTREAM_COMMIT} (that exact commit was read; read_file offsets ${c.read})`,
    'Kind:     behaviour only. The Go test never compares a whole dump here, so there is no',
    '          expected.out: kube-proxy has no golden for it. Do not invent one from svcrules output',
    '          without review; check it with the files below.',
  ];
  if (c.flows) {
    lines.push(
      'flows.yaml: every packetFlowTest of this sync, values verbatim (protocol "" in Go -> TCP,',
      '          masq unset -> false). runPacketFlowTests traced the fake iptables state after the sync',
      '          (payload plus the jump rules of full syncs) with nodeIPs = testNodeIPs =',
      `          [${TEST_NODE_IPS.join(', ')}]; the tracer adds 127.0.0.1 and ::1 as LOCAL.`,
    );
  }
  if (c.chains) {
    lines.push(
      'chains.yaml: assertIPTablesChainEqual checks - the exact, ordered rule list of one chain of the',
      '          payload (an empty list: the chain is absent or has no rules).',
    );
  }
  lines.push('', ...c.notes, '');
  writeText(join(dir, 'SOURCE'), lines.join('\n'));
}

const FAKE_NOTE = [
  'Fake defaults (NewFakeProxier; subtest overrides are stated above): node test-node, InternalIP',
  '192.168.0.2; clusterCIDR 10.0.0.0/8',
  '(IPv6: fd00:10::/64) with detectLocalMode ClusterCIDR; --masquerade-mark 0x4000; --no-random-fully;',
  'nfacct counters on; localhostNodePorts true; masqueradeAll false; nodePortAddresses match-all;',
  'tcp_be_liberal off; --sort (harmless for flows). Objects: API defaults added as kubectl prints them',
  '(type ClusterIP when the test leaves it "", clusterIPs/ipFamilies, targetPort = port, sessionAffinity',
  'None, iTP Cluster, eTP Cluster on NodePort/LoadBalancer); nodePort/healthCheckNodePort only as set.',
];
const interfaceFlags = FAKE_INTERFACE_ADDRESSES.map((a) => `--interface-address ${a}`);
const INTERFACE_NOTE = [
  "nodePortAddresses is set, so the node's interface addresses matter: the --interface-address flags",
  `list the fake's interfaces (lo: 127.0.0.1, ::1; eth0: ${TEST_NODE_IPS.join(', ')}), assuming the`,
  "flags replace (not extend) the default of the Node's addresses plus loopback.",
];

// ---------------------------------------------------------------- TestNoEndpointsReject

writeCase({
  name: 'TestNoEndpointsReject',
  test: 'TestNoEndpointsReject',
  read: '~81000-84000',
  objects: [
    proxyConfig(),
    node(),
    service('ns1', 'svc1', {
      type: 'LoadBalancer',
      clusterIP: '172.30.0.41',
      externalIPs: ['192.168.99.11'],
      ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }],
      ingress: [{ ip: '1.2.3.4' }],
    }),
  ],
  flows: [
    { name: 'pod to cluster IP with no endpoints', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: 'REJECT' },
    { name: 'external to external IP with no endpoints', sourceIP: EXT, destIP: '192.168.99.11', destPort: 80, output: 'REJECT' },
    { name: 'pod to NodePort with no endpoints', sourceIP: '10.0.0.2', destIP: NODE, destPort: 3001, output: 'REJECT' },
    { name: 'external to NodePort with no endpoints', sourceIP: EXT, destIP: NODE, destPort: 3001, output: 'REJECT' },
    { name: 'pod to LoadBalancer IP with no endpoints', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
    { name: 'external to LoadBalancer IP with no endpoints', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
  ],
  notes: ['No EndpointSlice at all.', ...FAKE_NOTE],
});

// ---------------------------------------------------------------- TestClusterIPGeneral

writeCase({
  name: 'TestClusterIPGeneral',
  test: 'TestClusterIPGeneral',
  read: '~84000-92000',
  objects: [
    proxyConfig(),
    node(),
    service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }),
    service('ns2', 'svc2', {
      clusterIP: '172.30.0.42',
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'https', port: 443, protocol: 'TCP', targetPort: 8443 },
        { name: 'dns-udp', port: 53, protocol: 'UDP' },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 },
        { name: 'dns-sctp', port: 53, protocol: 'SCTP' },
      ],
    }),
    endpointSlice('ns1', 'svc1', 1, { endpoints: [{ addresses: ['10.180.0.1'], nodeName: 'test-node' }], ports: [port('http', 80)] }),
    endpointSlice('ns2', 'svc2', 1, {
      endpoints: [
        { addresses: ['10.180.0.1'], nodeName: 'test-node' },
        { addresses: ['10.180.2.1'], nodeName: 'node2' },
      ],
      ports: [port('http', 80), port('https', 8443), port('dns-udp', 53, 'UDP'), port('dns-tcp', 5353), port('dns-sctp', 53, 'SCTP')],
    }),
  ],
  flows: [
    { name: 'simple clusterIP', sourceIP: '10.180.0.2', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80', masq: false },
    { name: 'hairpin to cluster IP', sourceIP: '10.180.0.1', destIP: '172.30.0.41', destPort: 80, output: '10.180.0.1:80', masq: true },
    { name: 'clusterIP with multiple endpoints', sourceIP: '10.180.0.2', destIP: '172.30.0.42', destPort: 80, output: '10.180.0.1:80, 10.180.2.1:80', masq: false },
    { name: 'clusterIP with TargetPort', sourceIP: '10.180.0.2', destIP: '172.30.0.42', destPort: 443, output: '10.180.0.1:8443, 10.180.2.1:8443', masq: false },
    { name: 'clusterIP with TCP, UDP, and SCTP on same port (TCP)', sourceIP: '10.180.0.2', protocol: 'TCP', destIP: '172.30.0.42', destPort: 53, output: '10.180.0.1:5353, 10.180.2.1:5353', masq: false },
    { name: 'clusterIP with TCP, UDP, and SCTP on same port (UDP)', sourceIP: '10.180.0.2', protocol: 'UDP', destIP: '172.30.0.42', destPort: 53, output: '10.180.0.1:53, 10.180.2.1:53', masq: false },
    { name: 'clusterIP with TCP, UDP, and SCTP on same port (SCTP)', sourceIP: '10.180.0.2', protocol: 'SCTP', destIP: '172.30.0.42', destPort: 53, output: '10.180.0.1:53, 10.180.2.1:53', masq: false },
    { name: 'TCP-only port does not match UDP traffic', sourceIP: '10.180.0.2', protocol: 'UDP', destIP: '172.30.0.42', destPort: 80, output: '' },
    { name: "svc1 does not accept svc2's ports", sourceIP: '10.180.0.2', destIP: '172.30.0.41', destPort: 443, output: '' },
  ],
  notes: [
    'Both Services leave spec.type "" (written as ClusterIP). svc2 has five ports; the slice ports',
    'carry the target port numbers (https 8443, dns-tcp 5353). Multi-port Service: its KUBE-SERVICES',
    "rules have no upstream-defined order after --sort (one sort key per Service), one reason there's",
    'no whole-dump golden.',
    ...FAKE_NOTE,
  ],
});

// ---------------------------------------------------------------- TestLoadBalancer

{
  const ep = '10.180.0.1:80';
  writeCase({
    name: 'TestLoadBalancer',
    test: 'TestLoadBalancer',
    read: '~92000-98000',
    objects: [
      proxyConfig(),
      node(),
      service('ns1', 'svc1', {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.41',
        ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }],
        ingress: [{ ip: '1.2.3.4' }, { ip: '5.6.7.8' }],
        loadBalancerSourceRanges: ['192.168.0.0/24', ' 203.0.113.0/25'],
      }),
      endpointSlice('ns1', 'svc1', 1, { endpoints: [{ addresses: ['10.180.0.1'] }], ports: [port('p80', 80)] }),
    ],
    flows: [
      { name: 'pod to cluster IP', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: ep, masq: false },
      { name: 'external to nodePort', sourceIP: EXT, destIP: NODE, destPort: 3001, output: ep, masq: true },
      { name: 'nodePort bypasses LoadBalancerSourceRanges', sourceIP: EXT_BLOCKED, destIP: NODE, destPort: 3001, output: ep, masq: true },
      { name: 'accepted external to LB1', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: ep, masq: true },
      { name: 'accepted external to LB2', sourceIP: EXT, destIP: '5.6.7.8', destPort: 80, output: ep, masq: true },
      { name: 'blocked external to LB1', sourceIP: EXT_BLOCKED, destIP: '1.2.3.4', destPort: 80, output: 'DROP' },
      { name: 'blocked external to LB2', sourceIP: EXT_BLOCKED, destIP: '5.6.7.8', destPort: 80, output: 'DROP' },
      { name: 'pod to LB1 (blocked by LoadBalancerSourceRanges)', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: 'DROP' },
      { name: 'pod to LB2 (blocked by LoadBalancerSourceRanges)', sourceIP: '10.0.0.2', destIP: '5.6.7.8', destPort: 80, output: 'DROP' },
      { name: 'node to LB1 (allowed by LoadBalancerSourceRanges)', sourceIP: NODE, destIP: '1.2.3.4', destPort: 80, output: ep, masq: true },
      { name: 'node to LB2 (allowed by LoadBalancerSourceRanges)', sourceIP: NODE, destIP: '5.6.7.8', destPort: 80, output: ep, masq: true },
      { name: 'same node to LB1, SNATted to LB1 (implicitly allowed)', sourceIP: '1.2.3.4', destIP: '1.2.3.4', destPort: 80, output: ep, masq: true },
      { name: 'same node to LB2, SNATted to LB2 (implicitly allowed)', sourceIP: '5.6.7.8', destIP: '5.6.7.8', destPort: 80, output: ep, masq: true },
    ],
    notes: [
      'Source range 192.168.0.0/24 contains the nodeIP 192.168.0.2 (Node InternalIP), so the FW chain',
      'also accepts "-s <LB IP>" for both LB IPs. " 203.0.113.0/25" keeps its leading space (trimmed by',
      'kube-proxy). eTP unset -> API default Cluster. Endpoint without nodeName.',
      ...FAKE_NOTE,
    ],
  });
}

// ---------------------------------------------------------------- TestNodePorts

const nodePortCases = [
  { sub: 'ipv4, localhost-nodeports enabled', family: 'IPv4', lnp: true, npa: null, allowAlt: true, fw: true },
  { sub: 'ipv4, localhost-nodeports disabled', family: 'IPv4', lnp: false, npa: null, allowAlt: true, fw: false },
  { sub: 'ipv4, localhost-nodeports disabled, localhost in nodeport-addresses', family: 'IPv4', lnp: false, npa: ['192.168.0.0/24', '127.0.0.1/32'], allowAlt: false, fw: false },
  // (sic) the Go subtest is named "enabled" but sets localhostNodePorts: false
  { sub: 'ipv4, localhost-nodeports enabled, multiple nodeport-addresses', family: 'IPv4', lnp: false, npa: ['192.168.0.0/24', '192.168.1.0/24', '2001:db8::/64'], allowAlt: true, fw: false },
  { sub: 'ipv6, localhost-nodeports enabled', family: 'IPv6', lnp: true, npa: null, allowAlt: true, fw: false },
  { sub: 'ipv6, localhost-nodeports disabled', family: 'IPv6', lnp: false, npa: null, allowAlt: true, fw: false },
  { sub: 'ipv6, localhost-nodeports disabled, multiple nodeport-addresses', family: 'IPv6', lnp: false, npa: ['192.168.0.0/24', '192.168.1.0/24', '2001:db8::/64'], allowAlt: false, fw: false },
];

const slug = (s) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
const joinHostPort = (ip, p) => (ip.includes(':') ? `[${ip}]:${p}` : `${ip}:${p}`);

for (const tc of nodePortCases) {
  const v4 = tc.family === 'IPv4';
  const svcIP = v4 ? '172.30.0.41' : 'fd00:172:30::41';
  const epIP1 = v4 ? '10.180.0.1' : 'fd00:10:180::1';
  const epIP2 = v4 ? '10.180.2.1' : 'fd00:10:180::2:1';
  const podIP = v4 ? '10.0.0.2' : 'fd00:10::2';
  const externalClientIP = v4 ? EXT : '2600:5200::1';
  const nodeIP = v4 ? NODE : TEST_NODE_IPV6;
  const altNodeIP = v4 ? TEST_NODE_IP_ALT : TEST_NODE_IPV6_ALT;
  const localhostIP = v4 ? '127.0.0.1' : '::1';
  const output = `${joinHostPort(epIP1, '80')}, ${joinHostPort(epIP2, '80')}`;
  const flows = [
    { name: 'pod to cluster IP', sourceIP: podIP, destIP: svcIP, destPort: 80, output, masq: false },
    { name: 'external to nodePort', sourceIP: externalClientIP, destIP: nodeIP, destPort: 3001, output, masq: true },
    { name: 'node to nodePort', sourceIP: nodeIP, destIP: nodeIP, destPort: 3001, output, masq: true },
  ];
  if (v4 && tc.lnp) {
    flows.push({ name: 'localhost to nodePort gets masqueraded', sourceIP: localhostIP, destIP: localhostIP, destPort: 3001, output, masq: true });
  } else {
    flows.push({ name: 'localhost to nodePort is ignored', sourceIP: localhostIP, destIP: localhostIP, destPort: 3001, output: '' });
  }
  if (tc.allowAlt) {
    flows.push({ name: 'external to nodePort on secondary IP', sourceIP: externalClientIP, destIP: altNodeIP, destPort: 3001, output, masq: true });
  } else {
    flows.push({ name: 'secondary nodeIP ignores NodePorts', sourceIP: externalClientIP, destIP: altNodeIP, destPort: 3001, output: '' });
  }
  const flags = [];
  if (!v4) flags.push('--family ipv6');
  if (tc.npa) flags.push(...interfaceFlags);
  writeCase({
    name: `TestNodePorts-${slug(tc.sub)}`,
    test: 'TestNodePorts',
    subtest: tc.sub,
    read: '~98000-104000',
    objects: [
      proxyConfig({ family: tc.family, localhostNodePorts: tc.lnp, nodePortAddresses: tc.npa }),
      node(),
      service('ns1', 'svc1', { type: 'NodePort', clusterIP: svcIP, ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }] }),
      endpointSlice('ns1', 'svc1', 1, {
        addressType: tc.family,
        endpoints: [{ addresses: [epIP1] }, { addresses: [epIP2], nodeName: 'test-node' }],
        ports: [port('p80', 80)],
      }),
    ],
    flags,
    flows,
    chains: [{ table: 'filter', chain: 'KUBE-FIREWALL', rules: tc.fw ? [FIREWALL_RULE] : [] }],
    notes: [
      `Subtest settings: family ${tc.family}, fp.localhostNodePorts = ${tc.lnp}, nodePortAddresses = ${tc.npa ? JSON.stringify(tc.npa) : 'nil (match all)'},`,
      `allowAltNodeIP ${tc.allowAlt}, expectFirewall ${tc.fw}.`,
      ...(tc.sub.includes('enabled, multiple') ? ['(sic) The subtest name says "enabled" but it sets localhostNodePorts false; transcribed as set.'] : []),
      'The test sets fp.localhostNodePorts directly on the fake, bypassing NewProxier\'s rule that forces it',
      'false when nodePortAddresses has no IPv4 loopback; every subtest here agrees with that rule anyway.',
      ...(tc.family === 'IPv6'
        ? ['IPv6: NewIPv6Fake, pod CIDR fd00:10::/64, --family ipv6. The fake keeps nodeIP 192.168.0.2 even for', 'IPv6 (used only for LB source ranges, none here).', 'flows: the Go tracer, after a DNAT, takes destIP = text before the first ":" of "[ip]:port" (i.e. "[fd00"),', 'only affecting later filter-chain matching; a faithful harness may need to mimic or note that.']
        : []),
      ...(tc.npa ? INTERFACE_NOTE : []),
      ...FAKE_NOTE,
    ],
  });
}

// ---------------------------------------------------------------- TestHealthCheckNodePort

{
  const cfg = proxyConfig({ nodePortAddresses: ['127.0.0.0/8'] });
  const notes = [
    'fp.nodePortAddresses = NewNodePortAddresses(IPv4, ["127.0.0.0/8"]); localhostNodePorts stays true.',
    ...INTERFACE_NOTE,
    ...FAKE_NOTE,
  ];
  writeCase({
    name: 'TestHealthCheckNodePort',
    test: 'TestHealthCheckNodePort',
    read: '~104000-106000',
    objects: [
      cfg,
      node(),
      service('ns1', 'svc1', {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.42',
        ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }],
        healthCheckNodePort: 30000,
        externalTrafficPolicy: 'Local',
      }),
    ],
    flags: interfaceFlags,
    flows: [{ name: 'firewall accepts HealthCheckNodePort', sourceIP: '1.2.3.4', destIP: NODE, destPort: 30000, output: 'ACCEPT', masq: false }],
    notes: ['First sync: the LoadBalancer Service (no ingress IPs, no EndpointSlice).', ...notes],
  });
  writeCase({
    name: 'TestHealthCheckNodePort-service-deleted',
    test: 'TestHealthCheckNodePort',
    read: '~104000-106000',
    objects: [cfg, node()],
    flags: interfaceFlags,
    flows: [{ name: 'HealthCheckNodePort no longer has any rule', sourceIP: '1.2.3.4', destIP: NODE, destPort: 30000, output: '' }],
    notes: [
      'Second sync, after fp.OnServiceDelete(svc): no Services. Upstream this is a partial sync on top of the',
      'first; traced state is the same as a full compile of the empty snapshot (the filter chains are',
      'always rewritten whole).',
      ...notes,
    ],
  });
}

// ---------------------------------------------------------------- TestExternalTrafficPolicyLocal / Cluster

for (const policy of ['Local', 'Cluster']) {
  const local = policy === 'Local';
  const both = '10.180.0.1:80, 10.180.2.1:80';
  const only = '10.180.2.1:80';
  writeCase({
    name: `TestExternalTrafficPolicy${policy}`,
    test: `TestExternalTrafficPolicy${policy}`,
    read: local ? '~108000-112500' : '~112500-115000',
    objects: [
      proxyConfig(),
      node(),
      service('ns1', 'svc1', {
        type: 'LoadBalancer',
        externalTrafficPolicy: policy,
        clusterIP: '172.30.0.41',
        externalIPs: ['192.168.99.11'],
        ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001, targetPort: 80 }],
        ...(local ? { healthCheckNodePort: 30000 } : {}),
        ingress: [{ ip: '1.2.3.4' }],
      }),
      endpointSlice('ns1', 'svc1', 1, {
        endpoints: [{ addresses: ['10.180.0.1'] }, { addresses: ['10.180.2.1'], nodeName: 'test-node' }],
        ports: [port('p80', 80)],
      }),
    ],
    flows: local
      ? [
          { name: 'pod to cluster IP hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: both, masq: false },
          { name: 'pod to external IP hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '192.168.99.11', destPort: 80, output: both, masq: false },
          { name: 'external to external IP hits only local endpoint, unmasqueraded', sourceIP: EXT, destIP: '192.168.99.11', destPort: 80, output: only, masq: false },
          { name: 'pod to LB IP hits only both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: both, masq: false },
          { name: 'external to LB IP hits only local endpoint, unmasqueraded', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: only, masq: false },
          { name: 'pod to NodePort hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: NODE, destPort: 3001, output: both, masq: false },
          { name: 'external to NodePort hits only local endpoint, unmasqueraded', sourceIP: EXT, destIP: NODE, destPort: 3001, output: only, masq: false },
        ]
      : [
          { name: 'pod to cluster IP hits both endpoints, unmasqueraded', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: both, masq: false },
          { name: 'pod to external IP hits both endpoints, masqueraded', sourceIP: '10.0.0.2', destIP: '192.168.99.11', destPort: 80, output: both, masq: true },
          { name: 'external to external IP hits both endpoints, masqueraded', sourceIP: EXT, destIP: '192.168.99.11', destPort: 80, output: both, masq: true },
          { name: 'pod to LB IP hits both endpoints, masqueraded', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: both, masq: true },
          { name: 'external to LB IP hits both endpoints, masqueraded', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: both, masq: true },
          { name: 'pod to NodePort hits both endpoints, masqueraded', sourceIP: '10.0.0.2', destIP: NODE, destPort: 3001, output: both, masq: true },
          { name: 'external to NodePort hits both endpoints, masqueraded', sourceIP: EXT, destIP: NODE, destPort: 3001, output: both, masq: true },
        ],
    notes: [
      `LoadBalancer, externalTrafficPolicy ${policy}${local ? ', healthCheckNodePort 30000' : ''}; endpoint 10.180.0.1 remote`,
      '(no nodeName), 10.180.2.1 on test-node. Note the external IP 192.168.99.11 is also one of the fake',
      "node's own interface addresses (testExternalIP) and so LOCAL to the tracer.",
      ...FAKE_NOTE,
    ],
  });
}

// ---------------------------------------------------------------- TestInternalTrafficPolicy

const itpCases = [
  { sub: 'internalTrafficPolicy is cluster', itp: 'Cluster', eps: [['10.0.1.1', 'test-node'], ['10.0.1.2', 'node1'], ['10.0.1.3', 'node2']], flows: [{ name: 'pod to ClusterIP hits all endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80', masq: false }] },
  { sub: 'internalTrafficPolicy is local and there is one local endpoint', itp: 'Local', eps: [['10.0.1.1', 'test-node'], ['10.0.1.2', 'node1'], ['10.0.1.3', 'node2']], flows: [{ name: 'pod to ClusterIP hits only local endpoint', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80', masq: false }] },
  { sub: 'internalTrafficPolicy is local and there are multiple local endpoints', itp: 'Local', eps: [['10.0.1.1', 'test-node'], ['10.0.1.2', 'test-node'], ['10.0.1.3', 'node2']], flows: [{ name: 'pod to ClusterIP hits all local endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80', masq: false }] },
  { sub: 'internalTrafficPolicy is local and there are no local endpoints', itp: 'Local', eps: [['10.0.1.1', 'node0'], ['10.0.1.2', 'node1'], ['10.0.1.3', 'node2']], flows: [{ name: 'no endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'DROP' }] },
];

for (const tc of itpCases) {
  const svc = service('ns1', 'svc1', { clusterIP: '172.30.1.1', selector: { foo: 'bar' }, ports: [{ name: '', port: 80, protocol: 'TCP' }], internalTrafficPolicy: tc.itp });
  const notes = [
    `spec.internalTrafficPolicy ${tc.itp} (set explicitly by the test); unnamed port; selector foo=bar; every`,
    'endpoint has conditions.ready true and a nodeName.',
    ...FAKE_NOTE,
  ];
  writeCase({
    name: `TestInternalTrafficPolicy-${slug(tc.sub)}`,
    test: 'TestInternalTrafficPolicy',
    subtest: tc.sub,
    read: '~160000-166000',
    objects: [
      proxyConfig(),
      node(),
      svc,
      endpointSlice('ns1', 'svc1', 1, {
        endpoints: tc.eps.map(([ip, n]) => ({ addresses: [ip], conditions: { ready: true }, nodeName: n })),
        ports: [port('', 80)],
      }),
    ],
    flows: tc.flows,
    notes,
  });
  writeCase({
    name: `TestInternalTrafficPolicy-${slug(tc.sub)}-endpoints-deleted`,
    test: 'TestInternalTrafficPolicy',
    subtest: tc.sub,
    read: '~160000-166000',
    objects: [proxyConfig(), node(), svc],
    flows: [{ name: 'endpoints deleted', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' }],
    notes: ['Second sync of the subtest, after fp.OnEndpointSliceDelete: the Service without endpoints.', ...notes],
  });
}

// ---------------------------------------------------------------- TestTerminatingEndpointsTrafficPolicy{Local,Cluster}

const cond = (ready, serving, terminating) => ({ ready, serving, terminating });
const terminatingCases = {
  Local: [
    {
      sub: 'ready endpoints exist',
      eps: [
        ['10.0.1.1', cond(true, true, false), 'test-node'],
        ['10.0.1.2', cond(true, true, false), 'test-node'],
        ['10.0.1.3', cond(false, true, true), 'test-node'],
        ['10.0.1.4', cond(false, false, true), 'test-node'],
        ['10.0.1.5', cond(true, true, false), 'node-1'],
      ],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', masq: false },
        { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80', masq: false },
      ],
    },
    {
      sub: 'only terminating endpoints exist',
      eps: [
        ['10.0.1.2', cond(false, true, true), 'test-node'],
        ['10.0.1.3', cond(false, true, true), 'test-node'],
        ['10.0.1.4', cond(false, false, true), 'test-node'],
        ['10.0.1.5', cond(true, true, false), 'node-1'],
      ],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80', masq: false },
        { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.2:80, 10.0.1.3:80', masq: false },
      ],
    },
    {
      sub: 'terminating endpoints on remote node',
      eps: [['10.0.1.5', cond(false, true, true), 'node-1']],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80' },
        { name: 'external to LB, no locally-usable endpoints', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: 'DROP' },
      ],
    },
    {
      sub: 'no usable endpoints on any node',
      eps: [
        ['10.0.1.5', cond(false, false, true), 'test-node'],
        ['10.0.1.5', cond(false, false, true), 'node-1'],
      ],
      flows: [
        { name: 'pod to clusterIP, no usable endpoints', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
        { name: 'external to LB, no usable endpoints', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
      ],
    },
  ],
  Cluster: [
    {
      sub: 'ready endpoints exist',
      eps: [
        ['10.0.1.1', cond(true, true, false), 'test-node'],
        ['10.0.1.2', cond(true, true, false), 'test-node'],
        ['10.0.1.3', cond(false, true, true), 'another-node'],
        ['10.0.1.4', cond(false, false, true), 'another-node'],
        ['10.0.1.5', cond(true, true, false), 'another-node'],
      ],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', masq: false },
        { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80', masq: true },
      ],
    },
    {
      sub: 'only terminating endpoints exist',
      eps: [
        ['10.0.1.2', cond(false, true, true), 'test-node'],
        ['10.0.1.3', cond(false, true, true), 'test-node'],
        ['10.0.1.4', cond(false, false, true), 'another-node'],
        ['10.0.1.5', cond(false, true, true), 'another-node'],
      ],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80', masq: false },
        { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80', masq: true },
      ],
    },
    {
      sub: 'terminating endpoints on remote node',
      eps: [['10.0.1.5', cond(false, true, true), 'node-1']],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: '10.0.1.5:80', masq: false },
        { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: '10.0.1.5:80', masq: true },
      ],
    },
    {
      sub: 'no usable endpoints on any node',
      eps: [
        ['10.0.1.5', cond(false, false, true), 'test-node'],
        ['10.0.1.5', cond(false, false, true), 'node-1'],
      ],
      flows: [
        { name: 'pod to clusterIP', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
        { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
      ],
    },
  ],
};

for (const policy of ['Local', 'Cluster']) {
  const test = `TestTerminatingEndpointsTrafficPolicy${policy}`;
  const svc = service('ns1', 'svc1', {
    type: 'LoadBalancer',
    clusterIP: '172.30.1.1',
    externalTrafficPolicy: policy,
    ports: [{ name: '', targetPort: 80, port: 80, protocol: 'TCP' }],
    healthCheckNodePort: 30000,
    ingress: [{ ip: '1.2.3.4' }],
  });
  const notes = [
    `LoadBalancer, externalTrafficPolicy ${policy}, healthCheckNodePort 30000, no nodePort, unnamed port, LB 1.2.3.4.`,
    'Endpoint conditions are transcribed exactly (ready/serving/terminating all set by the test).',
    ...FAKE_NOTE,
  ];
  for (const tc of terminatingCases[policy]) {
    const dupNote = tc.sub === 'no usable endpoints on any node' ? ['Both endpoints have the SAME address 10.0.1.5 (one local, one remote), as in the Go test: exercises the duplicate rule.'] : [];
    writeCase({
      name: `${test}-${slug(tc.sub)}`,
      test,
      subtest: tc.sub,
      read: policy === 'Local' ? '~166000-173000' : '~173000-182000',
      objects: [
        proxyConfig(),
        node(),
        svc,
        endpointSlice('ns1', 'svc1', 1, {
          endpoints: tc.eps.map(([ip, c, n]) => ({ addresses: [ip], conditions: c, nodeName: n })),
          ports: [port('', 80)],
        }),
      ],
      flows: tc.flows,
      notes: [...dupNote, ...notes],
    });
    writeCase({
      name: `${test}-${slug(tc.sub)}-endpoints-deleted`,
      test,
      subtest: tc.sub,
      read: policy === 'Local' ? '~166000-173000' : '~173000-182000',
      objects: [proxyConfig(), node(), svc],
      flows: [
        { name: 'pod to clusterIP after endpoints deleted', sourceIP: '10.0.0.2', destIP: '172.30.1.1', destPort: 80, output: 'REJECT' },
        { name: 'external to LB after endpoints deleted', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: 'REJECT' },
      ],
      notes: ['Second sync of the subtest, after fp.OnEndpointSliceDelete: the Service without endpoints.', ...notes],
    });
  }
}

// ---------------------------------------------------------------- TestInternalExternalMasquerade

{
  const a = '10.180.0.1:80, 10.180.1.1:80';
  const b = '10.180.0.2:80, 10.180.1.2:80';
  const c = '10.180.0.3:80, 10.180.1.3:80';
  const baseFlows = [
    { name: 'pod to ClusterIP', sourceIP: '10.0.0.2', destIP: '172.30.0.41', destPort: 80, output: a, masq: false },
    { name: 'pod to NodePort', sourceIP: '10.0.0.2', destIP: NODE, destPort: 3001, output: a, masq: true },
    { name: 'pod to LB', sourceIP: '10.0.0.2', destIP: '1.2.3.4', destPort: 80, output: a, masq: true },
    { name: 'node to ClusterIP', sourceIP: NODE, destIP: '172.30.0.41', destPort: 80, output: a, masq: true },
    { name: 'node to NodePort', sourceIP: NODE, destIP: NODE, destPort: 3001, output: a, masq: true },
    { name: 'localhost to NodePort', sourceIP: '127.0.0.1', destIP: '127.0.0.1', destPort: 3001, output: a, masq: true },
    { name: 'node to LB', sourceIP: NODE, destIP: '1.2.3.4', destPort: 80, output: a, masq: true },
    { name: 'external to ClusterIP', sourceIP: EXT, destIP: '172.30.0.41', destPort: 80, output: a, masq: true },
    { name: 'external to NodePort', sourceIP: EXT, destIP: NODE, destPort: 3001, output: a, masq: true },
    { name: 'external to LB', sourceIP: EXT, destIP: '1.2.3.4', destPort: 80, output: a, masq: true },
    { name: 'pod to ClusterIP with eTP:Local', sourceIP: '10.0.0.2', destIP: '172.30.0.42', destPort: 80, output: b, masq: false },
    { name: 'pod to NodePort with eTP:Local', sourceIP: '10.0.0.2', destIP: NODE, destPort: 3002, output: b, masq: false },
    { name: 'pod to LB with eTP:Local', sourceIP: '10.0.0.2', destIP: '5.6.7.8', destPort: 80, output: b, masq: false },
    { name: 'node to ClusterIP with eTP:Local', sourceIP: NODE, destIP: '172.30.0.42', destPort: 80, output: b, masq: true },
    // (sic) destPort 3001 and svc1's endpoints, exactly as the Go test has it
    { name: 'node to NodePort with eTP:Local', sourceIP: NODE, destIP: NODE, destPort: 3001, output: a, masq: true },
    { name: 'localhost to NodePort with eTP:Local', sourceIP: '127.0.0.1', destIP: '127.0.0.1', destPort: 3002, output: b, masq: true },
    { name: 'node to LB with eTP:Local', sourceIP: NODE, destIP: '5.6.7.8', destPort: 80, output: b, masq: true },
    { name: 'external to ClusterIP with eTP:Local', sourceIP: EXT, destIP: '172.30.0.42', destPort: 80, output: b, masq: true },
    { name: 'external to NodePort with eTP:Local', sourceIP: EXT, destIP: NODE, destPort: 3002, output: '10.180.0.2:80', masq: false },
    { name: 'external to LB with eTP:Local', sourceIP: EXT, destIP: '5.6.7.8', destPort: 80, output: '10.180.0.2:80', masq: false },
    { name: 'pod to ClusterIP with iTP:Local', sourceIP: '10.0.0.2', destIP: '172.30.0.43', destPort: 80, output: '10.180.0.3:80', masq: false },
    { name: 'pod to NodePort with iTP:Local', sourceIP: '10.0.0.2', destIP: NODE, destPort: 3003, output: c, masq: true },
    { name: 'pod to LB with iTP:Local', sourceIP: '10.0.0.2', destIP: '9.10.11.12', destPort: 80, output: c, masq: true },
    { name: 'node to ClusterIP with iTP:Local', sourceIP: NODE, destIP: '172.30.0.43', destPort: 80, output: '10.180.0.3:80', masq: true },
    { name: 'node to NodePort with iTP:Local', sourceIP: NODE, destIP: NODE, destPort: 3003, output: c, masq: true },
    { name: 'localhost to NodePort with iTP:Local', sourceIP: '127.0.0.1', destIP: '127.0.0.1', destPort: 3003, output: c, masq: true },
    { name: 'node to LB with iTP:Local', sourceIP: NODE, destIP: '9.10.11.12', destPort: 80, output: c, masq: true },
    { name: 'external to ClusterIP with iTP:Local', sourceIP: EXT, destIP: '172.30.0.43', destPort: 80, output: '10.180.0.3:80', masq: true },
    { name: 'external to NodePort with iTP:Local', sourceIP: EXT, destIP: NODE, destPort: 3003, output: c, masq: true },
    { name: 'external to LB with iTP:Local', sourceIP: EXT, destIP: '9.10.11.12', destPort: 80, output: c, masq: true },
  ];
  const noDetector = {
    'node to ClusterIP': { masq: false },
    'node to ClusterIP with eTP:Local': { masq: false },
    'node to ClusterIP with iTP:Local': { masq: false },
    'external to ClusterIP': { masq: false },
    'external to ClusterIP with eTP:Local': { masq: false },
    'external to ClusterIP with iTP:Local': { masq: false },
    'pod to NodePort with eTP:Local': { output: '10.180.0.2:80' },
    'pod to LB with eTP:Local': { output: '10.180.0.2:80' },
  };
  const masqAll = {
    'pod to ClusterIP': { masq: true },
    'pod to ClusterIP with eTP:Local': { masq: true },
    'pod to ClusterIP with iTP:Local': { masq: true },
  };
  const cases = [
    { sub: 'base', masqueradeAll: false, detector: true, overrides: {} },
    { sub: 'no LocalTrafficDetector', masqueradeAll: false, detector: false, overrides: noDetector },
    { sub: 'masqueradeAll', masqueradeAll: true, detector: true, overrides: masqAll },
    {
      sub: 'masqueradeAll, no LocalTrafficDetector',
      masqueradeAll: true,
      detector: false,
      overrides: { ...masqAll, 'pod to NodePort with eTP:Local': noDetector['pod to NodePort with eTP:Local'], 'pod to LB with eTP:Local': noDetector['pod to LB with eTP:Local'] },
    },
  ];
  for (const tc of cases) {
    const names = new Set(baseFlows.map((f) => f.name));
    for (const k of Object.keys(tc.overrides)) if (!names.has(k)) throw new Error(`override ${k} matches no flow`);
    writeCase({
      name: `TestInternalExternalMasquerade-${slug(tc.sub)}`,
      test: 'TestInternalExternalMasquerade',
      subtest: tc.sub,
      read: '~182000-197000',
      objects: [
        proxyConfig({ masqueradeAll: tc.masqueradeAll, ...(tc.detector ? {} : { clusterCIDR: null }) }),
        node(),
        service('ns1', 'svc1', { type: 'LoadBalancer', clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }], healthCheckNodePort: 30001, ingress: [{ ip: '1.2.3.4' }] }),
        service('ns2', 'svc2', { type: 'LoadBalancer', clusterIP: '172.30.0.42', ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3002 }], healthCheckNodePort: 30002, externalTrafficPolicy: 'Local', ingress: [{ ip: '5.6.7.8' }] }),
        service('ns3', 'svc3', { type: 'LoadBalancer', clusterIP: '172.30.0.43', ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3003 }], healthCheckNodePort: 30003, internalTrafficPolicy: 'Local', ingress: [{ ip: '9.10.11.12' }] }),
        ...['1', '2', '3'].map((i) =>
          endpointSlice(`ns${i}`, `svc${i}`, 1, {
            endpoints: [
              { addresses: [`10.180.0.${i}`], nodeName: 'test-node' },
              { addresses: [`10.180.1.${i}`], nodeName: 'remote' },
            ],
            ports: [port('p80', 80)],
          }),
        ),
      ],
      flows: baseFlows.map((f) => ({ ...f, ...(tc.overrides[f.name] ?? {}) })),
      notes: [
        `Subtest settings: fp.masqueradeAll = ${tc.masqueradeAll}; local detector ${tc.detector ? 'by CIDR 10.0.0.0/8' : 'replaced with NewNoOpLocalDetector()'}.`,
        ...(tc.detector ? [] : ['No-op detector expressed as detectLocalMode ClusterCIDR with NO clusterCIDR (kube-proxy then builds a no-op detector).']),
        'flows.yaml = the shared flowTests with this subtest\'s overrides applied (the Go test merges them the same way).',
        '(sic) "node to NodePort with eTP:Local" targets port 3001 (svc1) in the Go test; kept as written.',
        'svc1 healthCheckNodePort 30001 with eTP unset (-> Cluster): kept, ignored by kube-proxy; same for svc3 (30003).',
        ...FAKE_NOTE,
      ],
    });
  }
}

// ---------------------------------------------------------------- chain-only tests (no Services)

for (const randomFully of [false, true]) {
  writeCase({
    name: `TestMasqueradeRule-randomfully-${randomFully}`,
    test: 'TestMasqueradeRule',
    subtest: `randomFully ${randomFully}`,
    read: '~106000-108000',
    objects: [proxyConfig(), node()],
    fakeFlags: randomFully ? '--sort --masquerade-mark 0x4000' : FAKE_FLAGS,
    chains: [
      {
        table: 'nat',
        chain: 'KUBE-POSTROUTING',
        rules: [
          '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
          '-A KUBE-POSTROUTING -j MARK --xor-mark 0x4000',
          `-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${randomFully ? ' --random-fully' : ''}`,
        ],
      },
    ],
    notes: [`iptablestest.NewFake().SetHasRandomFully(${randomFully}); ${randomFully ? 'so no --no-random-fully flag' : '--no-random-fully'}. No Services.`, ...FAKE_NOTE],
  });
}

const forwardTail = [
  '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
  '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
];
for (const tc of [
  { nfacct: false, liberal: false, drop: '-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP' },
  { nfacct: true, liberal: false, drop: '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP' },
  { nfacct: false, liberal: true, drop: null },
]) {
  const flags = [...(tc.nfacct ? [] : ['--no-nfacct']), ...(tc.liberal ? ['--tcp-be-liberal'] : [])];
  writeCase({
    name: `TestDropInvalidRule-tcpliberal-${tc.liberal}-nfacct-${tc.nfacct}`,
    test: 'TestDropInvalidRule',
    subtest: `tcpLiberal is ${tc.liberal} and nfacctEnsured is ${tc.nfacct}`,
    read: '~105500-107000',
    objects: [proxyConfig(), node()],
    flags,
    chains: [{ table: 'filter', chain: 'KUBE-FORWARD', rules: [...(tc.drop ? [tc.drop] : []), ...forwardTail] }],
    notes: [
      `fp.conntrackTCPLiberal = ${tc.liberal}; fp.nfAcctCounters = ${tc.nfacct ? '{ct_state_invalid_dropped_pkts: true} (localhost_nps_accepted_pkts absent)' : '{} (no counter)'}.`,
      '--no-nfacct turns off both counters; with no Services the localhost NodePort counter is never used, so',
      'that difference does not show. No Services.',
      ...FAKE_NOTE,
    ],
  });
}
