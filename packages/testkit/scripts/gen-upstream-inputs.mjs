// Writes the inputs (input.yaml, cmd, existing.rules, incremental step-NN.yaml, steps.yaml) of
// the fixtures transcribed from kube-proxy's whole-dump tests in
// pkg/proxy/iptables/proxier_test.go @531be812 (see each case's SOURCE). Deterministic; rerun
// after editing and commit the output:
//   node packages/testkit/scripts/gen-upstream-inputs.mjs
// expected.out / expected-NN.out and SOURCE files are hand-transcribed, not generated.

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import YAML from 'yaml';
import {
  FAKE_FLAGS,
  endpointSlice,
  node,
  port,
  proxyConfig,
  service,
  toYAML,
  writeText,
} from './upstream-objects.mjs';

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const compileDir = join(fixtures, 'compile', 'upstream');
const incrementalDir = join(fixtures, 'incremental', 'upstream');

function writeCompileCase(name, objects, extraFlags = '') {
  const dir = join(compileDir, name);
  writeText(join(dir, 'input.yaml'), toYAML(objects));
  const flags = extraFlags ? `${FAKE_FLAGS} ${extraFlags}` : FAKE_FLAGS;
  writeText(join(dir, 'cmd'), `compile ${flags} input.yaml\n`);
}

// ---------------------------------------------------------------- TestOverallIPTablesRules

function overallIPTablesRules() {
  return [
    proxyConfig(),
    node(),
    // create ClusterIP service (Type left "" by the test; the API defaults it to ClusterIP)
    service('ns1', 'svc1', { clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] }),
    // create LoadBalancer service with Local traffic policy
    service('ns2', 'svc2', {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Local',
      clusterIP: '172.30.0.42',
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }],
      ingress: [{ ip: '1.2.3.4' }],
      externalIPs: ['192.168.99.22'],
      healthCheckNodePort: 30000,
    }),
    // create NodePort service
    service('ns3', 'svc3', {
      type: 'NodePort',
      clusterIP: '172.30.0.43',
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3003 }],
    }),
    // create ExternalIP service (type NodePort but no nodePort set)
    service('ns4', 'svc4', {
      type: 'NodePort',
      clusterIP: '172.30.0.44',
      externalIPs: ['192.168.99.33'],
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 }],
    }),
    // create LoadBalancer service with Cluster traffic policy, source ranges, and session affinity
    service('ns5', 'svc5', {
      type: 'LoadBalancer',
      externalTrafficPolicy: 'Cluster',
      clusterIP: '172.30.0.45',
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3002 }],
      ingress: [{ ip: '5.6.7.8' }],
      healthCheckNodePort: 30000,
      // Extra whitespace kept verbatim: kube-proxy TrimSpace()s it.
      loadBalancerSourceRanges: [' 203.0.113.0/25'],
      sessionAffinity: 'ClientIP',
      timeoutSeconds: 10800,
    }),
    // create ClusterIP service with no endpoints
    service('ns6', 'svc6', {
      type: 'ClusterIP',
      clusterIP: '172.30.0.46',
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', targetPort: 80 }],
    }),
    endpointSlice('ns1', 'svc1', 1, { endpoints: [{ addresses: ['10.180.0.1'] }], ports: [port('p80', 80)] }),
    // no NodeName: non-local
    endpointSlice('ns2', 'svc2', 1, { endpoints: [{ addresses: ['10.180.0.2'] }], ports: [port('p80', 80)] }),
    endpointSlice('ns3', 'svc3', 1, { endpoints: [{ addresses: ['10.180.0.3'] }], ports: [port('p80', 80)] }),
    endpointSlice('ns4', 'svc4', 1, {
      endpoints: [{ addresses: ['10.180.0.4'] }, { addresses: ['10.180.0.5'], nodeName: 'test-node' }],
      ports: [port('p80', 80)],
    }),
    endpointSlice('ns5', 'svc5', 1, { endpoints: [{ addresses: ['10.180.0.3'] }], ports: [port('p80', 80)] }),
  ];
}

// ---------------------------------------------------------------- TestBadIPs

function badIPs() {
  return [
    proxyConfig(),
    node(),
    service('ns1', 'svc1', {
      type: 'LoadBalancer',
      clusterIP: '172.30.0.041',
      ports: [{ name: 'p80', port: 80, protocol: 'TCP', nodePort: 3001 }],
      ingress: [{ ip: '1.2.3.004' }],
      externalIPs: ['192.168.099.022'],
      loadBalancerSourceRanges: ['203.0.113.000/025'],
    }),
    endpointSlice('ns1', 'svc1', 1, { endpoints: [{ addresses: ['10.180.00.001'] }], ports: [port('p80', 80)] }),
  ];
}

// ---------------------------------------------------------------- TestSyncProxyRulesRepeated

const repeated = {
  svc1: service('ns1', 'svc1', { type: 'ClusterIP', clusterIP: '172.30.0.41', ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] }),
  svc2: service('ns2', 'svc2', { type: 'ClusterIP', clusterIP: '172.30.0.42', ports: [{ name: 'p8080', port: 8080, protocol: 'TCP' }] }),
  svc3: service('ns3', 'svc3', { type: 'ClusterIP', clusterIP: '172.30.0.43', ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] }),
  svc4: service('ns4', 'svc4', { type: 'ClusterIP', clusterIP: '172.30.0.44', ports: [{ name: 'p80', port: 80, protocol: 'TCP' }] }),
  eps1: endpointSlice('ns1', 'svc1', 1, { endpoints: [{ addresses: ['10.0.1.1'] }], ports: [port('p80', 80)] }),
  eps2: endpointSlice('ns2', 'svc2', 1, { endpoints: [{ addresses: ['10.0.2.1'] }], ports: [port('p8080', 8080)] }),
  eps3: endpointSlice('ns3', 'svc3', 1, { endpoints: [{ addresses: ['10.0.3.1'] }], ports: [port('p80', 80)] }),
  eps3update: endpointSlice('ns3', 'svc3', 1, { endpoints: [{ addresses: ['10.0.3.2'] }], ports: [port('p80', 80)] }),
  eps3update2: endpointSlice('ns3', 'svc3', 1, {
    endpoints: [{ addresses: ['10.0.3.2'] }, { addresses: ['10.0.3.3'] }],
    ports: [port('p80', 80)],
  }),
  eps4: endpointSlice('ns4', 'svc4', 1, { endpoints: [{ addresses: ['10.0.4.1'] }], ports: [port('p80', 80)] }),
};

/** Each step: the complete snapshot after the Go test's changes, and how that sync runs. */
function repeatedSteps() {
  const r = repeated;
  const base = [proxyConfig(), node()];
  return [
    { objects: [...base, r.svc1, r.svc2, r.eps1, r.eps2], sync: 'full', change: 'initial state: svc1 and svc2 with one endpoint each (first sync is always full)' },
    { objects: [...base, r.svc1, r.svc2, r.svc3, r.eps1, r.eps2, r.eps3], sync: 'partial', change: 'add svc3 and its EndpointSlice (10.0.3.1)' },
    { objects: [...base, r.svc1, r.svc3, r.eps1, r.eps2, r.eps3], sync: 'partial', change: 'delete Service svc2 (its EndpointSlice stays)' },
    { objects: [...base, r.svc1, r.svc3, r.svc4, r.eps1, r.eps2, r.eps3], sync: 'partial', change: 'add svc4 without endpoints' },
    { objects: [...base, r.svc1, r.svc3, r.svc4, r.eps1, r.eps2, r.eps3, r.eps4], sync: 'partial', change: "add svc4's EndpointSlice (10.0.4.1)" },
    { objects: [...base, r.svc1, r.svc3, r.svc4, r.eps1, r.eps2, r.eps3update, r.eps4], sync: 'partial', change: "change svc3's endpoint 10.0.3.1 -> 10.0.3.2" },
    { objects: [...base, r.svc1, r.svc3, r.svc4, r.eps1, r.eps2, r.eps3update2, r.eps4], sync: 'partial', change: "add endpoint 10.0.3.3 to svc3's slice" },
    { objects: [...base, r.svc1, r.svc3, r.svc4, r.eps1, r.eps2, r.eps3update2, r.eps4], sync: 'partial', change: 'no change' },
    // Not a step: the Go test injects "-A KUBE-SVC-X27LE4BHSL4DOUIK -j KUBE-SEP-AYCN5HPXMIRJNJXU"
    // into the live ruleset, deletes svc4 and syncs; that partial restore fails (dangling jump)
    // and sets needFullSync. Its payload is not checked.
    { objects: [...base, r.svc1, r.svc3, r.eps1, r.eps2, r.eps3update2, r.eps4], sync: 'full', change: 'svc4 deleted; after the failed partial sync above, the retry is a full sync' },
  ];
}

/** nat chains the fake iptables held after step 07 (the input of the retried full sync). */
const existingAfterStep7 = `# Constructed for the svcrules fixture (not from the Go test): the nat chains kube-proxy's
# FakeIPTables held before the full resync of TestSyncProxyRulesRepeated. Only chain names
# matter to stale-chain detection, so rules are omitted.
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-AYCN5HPXMIRJNJXU - [0:0]
:KUBE-SEP-DKCFIS26GWF2WLWC - [0:0]
:KUBE-SEP-JVVZVJ7BSEPPRNBS - [0:0]
:KUBE-SEP-SNQ3ZNILQDEJNDQO - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-4SW47YFZTEDKD3PK - [0:0]
:KUBE-SVC-X27LE4BHSL4DOUIK - [0:0]
:KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
COMMIT
`;

// ---------------------------------------------------------------- write

writeCompileCase('TestOverallIPTablesRules', overallIPTablesRules());
writeCompileCase('TestBadIPs', badIPs());

const steps = repeatedSteps();
writeCompileCase('TestSyncProxyRulesRepeated', steps[0].objects);
writeCompileCase('TestSyncProxyRulesRepeated-full-resync', steps[8].objects, '--existing existing.rules');
writeText(join(compileDir, 'TestSyncProxyRulesRepeated-full-resync', 'existing.rules'), existingAfterStep7);

const repDir = join(incrementalDir, 'TestSyncProxyRulesRepeated');
steps.forEach((s, i) => {
  const nn = String(i).padStart(2, '0');
  writeText(join(repDir, `step-${nn}.yaml`), toYAML(s.objects));
});
writeText(
  join(repDir, 'steps.yaml'),
  YAML.stringify(
    {
      // compile flags reproducing the Go fake (same as the compile/upstream cases)
      flags: FAKE_FLAGS,
      steps: steps.map((s, i) => {
        const nn = String(i).padStart(2, '0');
        return { step: i, snapshot: `step-${nn}.yaml`, expected: `expected-${nn}.out`, sync: s.sync, sort: true, change: s.change };
      }),
    },
    { lineWidth: 0 },
  ),
);
