import { tracePacket, type TraceFrom } from '@svcrules/iptables';
import { KUBE_PROXY_HOOKS } from '../src/kube-proxy/hooks.js';
import { compile } from '../src/compile.js';
import { explainTrace } from '../src/explain.js';
import type { Snapshot } from '../src/model.js';
import { service, slice } from './helpers.js';

const NODE_IP = '192.168.0.2';

const snapshot: Snapshot = {
  config: { clusterCIDRs: ['10.0.0.0/8'] },
  nodes: [{ name: 'test-node', addresses: [{ type: 'InternalIP', address: NODE_IP }], podCIDRs: [], labels: {} }],
  services: [
    service('ns1', 'svc1', { clusterIP: '172.30.0.41' }),
    service('ns2', 'svc2', {
      clusterIP: '172.30.0.42',
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3001 }],
      loadBalancerIngress: [{ ip: '1.2.3.4' }],
      healthCheckNodePort: 30000,
    }),
    service('ns5', 'svc5', {
      clusterIP: '172.30.0.45',
      type: 'LoadBalancer',
      ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 3002 }],
      loadBalancerIngress: [{ ip: '5.6.7.8' }],
      loadBalancerSourceRanges: ['203.0.113.0/25'],
      sessionAffinity: 'ClientIP',
      affinityTimeoutSeconds: 600,
    }),
    service('ns6', 'svc6', { clusterIP: '172.30.0.46' }),
  ],
  endpointSlices: [
    slice('ns1', 'svc1', {
      endpoints: [
        { addresses: ['10.180.0.1'], nodeName: 'test-node' },
        { addresses: ['10.180.0.2'], nodeName: 'other' },
        { addresses: ['10.180.0.3'] },
      ],
    }),
    slice('ns2', 'svc2', { endpoints: [{ addresses: ['10.180.1.2'], nodeName: 'other' }] }),
    slice('ns5', 'svc5', { endpoints: [{ addresses: ['10.180.5.1'] }, { addresses: ['10.180.5.2'] }] }),
  ],
  pods: [
    {
      namespace: 'ns1',
      name: 'web-a',
      labels: {},
      nodeName: 'test-node',
      podIPs: ['10.180.0.1'],
      ready: true,
      terminating: false,
      containerPorts: [],
    },
  ],
};

const { ruleset, diagnostics } = compile(snapshot, { masqueradeMark: '0x4000' });

function explain(src: string, dst: string, dport: number, from?: TraceFrom) {
  const r = tracePacket(ruleset, { src, dst, protocol: 'tcp', dport }, { from: from ?? (src === NODE_IP ? 'node' : 'pod'), localAddresses: [NODE_IP], hooks: KUBE_PROXY_HOOKS });
  return { r, e: explainTrace(r, snapshot) };
}

test('the snapshot compiles cleanly', () => {
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
});

test('no endpoints → REJECT', () => {
  const { e } = explain('10.0.0.9', '172.30.0.46', 80);
  expect(e.outcomes).toEqual([['ns6/svc6:p80 has no endpoints → REJECT']]);
});

test('externalTrafficPolicy Local without local endpoints → DROP, for node ports and LoadBalancer IPs', () => {
  for (const [dst, port] of [
    [NODE_IP, 3001],
    ['1.2.3.4', 80],
  ] as const) {
    const { r, e } = explain('203.0.113.7', dst, port, 'external');
    expect(r.outcomes.map((o) => o.verdict)).toEqual(['DROP']);
    expect(e.outcomes[0]).toContain('ns2/svc2:p80 has no local endpoints and externalTrafficPolicy is Local → DROP');
  }
  const { e } = explain('203.0.113.7', NODE_IP, 3001, 'external');
  expect(e.outcomes[0]![0]).toBe(`port 3001 is a NodePort of ns2/svc2:p80 on a node address (${NODE_IP})`);
});

test('masqueraded because the source is outside the cluster CIDR; endpoints named from the snapshot', () => {
  const { r, e } = explain(NODE_IP, '172.30.0.41', 80);
  expect(r.outcomes).toHaveLength(3);
  expect(e.outcomes[0]).toEqual([
    '172.30.0.41:80/tcp is the cluster IP of ns1/svc1:p80',
    `masqueraded because the source ${NODE_IP} is outside the cluster CIDR 10.0.0.0/8`,
    "source NAT: KUBE-POSTROUTING MASQUERADEs packets carrying kube-proxy's masquerade mark; the source becomes the node's address on the outgoing interface",
    '→ 10.180.0.1:80 (pod ns1/web-a on node test-node)',
  ]);
  expect(e.outcomes[1]!.at(-1)).toBe('→ 10.180.0.2:80 (on node other)');
  expect(e.outcomes[2]!.at(-1)).toBe('→ 10.180.0.3:80');
  expect(e.summary).toEqual(['ns1/svc1:p80 load-balances new connections across 3 endpoints at random (33.3% each)']);
});

test('a pod source is kept', () => {
  const { e } = explain('10.0.0.9', '172.30.0.41', 80);
  expect(e.outcomes[0]).toEqual(['172.30.0.41:80/tcp is the cluster IP of ns1/svc1:p80', '→ 10.180.0.1:80 (pod ns1/web-a on node test-node)', 'the source 10.0.0.9 is kept (not masqueraded)']);
});

test('session affinity and loadBalancerSourceRanges', () => {
  const allowed = explain('203.0.113.7', '5.6.7.8', 80, 'external');
  expect(allowed.r.outcomes.map((o) => o.destination)).toEqual(['10.180.5.1:80', '10.180.5.2:80']);
  expect(allowed.e.outcomes[0]).toEqual(
    expect.arrayContaining([
      '5.6.7.8:80/tcp is a LoadBalancer IP of ns5/svc5:p80',
      'the source 203.0.113.7 is allowed by loadBalancerSourceRanges of ns5/svc5:p80 (203.0.113.0/25)',
      'masqueraded because ns5/svc5:p80 has externalTrafficPolicy Cluster: traffic to its node port / external / LoadBalancer address is SNATed to the node (the client IP is not kept)',
    ]),
  );
  expect(allowed.e.summary).toEqual([
    'ns5/svc5:p80 load-balances new connections across 2 endpoints at random (50.0% each)',
    'session affinity ClientIP on ns5/svc5:p80: this first connection picks an endpoint as shown; later connections from 203.0.113.7 stick to the chosen endpoint for 600s after their last use',
  ]);
  const blocked = explain('203.0.113.200', '5.6.7.8', 80, 'external');
  expect(blocked.r.outcomes.map((o) => o.verdict)).toEqual(['DROP']);
  expect(blocked.e.outcomes[0]).toEqual([
    '5.6.7.8:80/tcp is a LoadBalancer IP of ns5/svc5:p80',
    'the source 203.0.113.200 is not in the loadBalancerSourceRanges of ns5/svc5:p80',
    'ns5/svc5:p80: source 203.0.113.200 is not allowed by loadBalancerSourceRanges → DROP',
  ]);
});

test('health check node port → ACCEPT', () => {
  const { e } = explain('203.0.113.7', NODE_IP, 30000, 'external');
  expect(e.outcomes).toEqual([['port 30000 is the health check node port of ns2/svc2:p80 → ACCEPT']]);
});

test('nothing matched', () => {
  expect(explain('10.0.0.9', '172.30.0.99', 80).e.outcomes).toEqual([
    ['no kube-proxy rule matched 172.30.0.99:80/tcp: it is not a Service address and port on this node, so the packet is routed on unchanged'],
  ]);
  expect(explain('10.0.0.9', NODE_IP, 22).e.outcomes).toEqual([[`no kube-proxy rule matched ${NODE_IP}:22/tcp: delivered to the node itself`]]);
});
