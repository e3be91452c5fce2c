// Writes fixtures/incremental/upstream/TestSyncProxyRulesLargeClusterMode/ (step-NN.yaml and
// steps.yaml) from TestSyncProxyRulesLargeClusterMode in kube-proxy's
// pkg/proxy/iptables/proxier_test.go @531be812, whose slices are built in loops
// (largeClusterEndpointsThreshold/2 - 1 = 499 endpoints each). Deterministic; rerun and commit:
//   node packages/testkit/scripts/gen-upstream-large-cluster.mjs
// The Go test checks single lines and counts, not whole dumps, so steps.yaml carries those checks
// instead of expected-NN.out files (see SOURCE in the case folder).

import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import YAML from 'yaml';
import { FAKE_FLAGS, endpointSlice, node, port, proxyConfig, service, toYAML, writeText } from './upstream-objects.mjs';

const dir = fileURLToPath(new URL('../../../fixtures/incremental/upstream/TestSyncProxyRulesLargeClusterMode/', import.meta.url));

const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000; // proxier.go: largeClusterEndpointsThreshold
const perSlice = LARGE_CLUSTER_ENDPOINTS_THRESHOLD / 2 - 1; // 499

// fp.masqueradeAll = true; fp.syncPeriod = 30 * time.Second
const config = { ...proxyConfig({ masqueradeAll: true }) };
config.iptables = { ...config.iptables, syncPeriod: '30s' };

const clusterIPService = (ns, name, ip, portName, portNumber) =>
  service(ns, name, { type: 'ClusterIP', clusterIP: ip, ports: [{ name: portName, port: portNumber, protocol: 'TCP' }] });

const svc1 = clusterIPService('ns1', 'svc1', '172.30.0.41', 'p80', 80);
const svc2 = clusterIPService('ns2', 'svc2', '172.30.0.42', 'p8080', 8080);
const svc3 = clusterIPService('ns3', 'svc3', '172.30.0.43', 'p8081', 8081);
const svc4 = clusterIPService('ns4', 'svc4', '172.30.0.44', 'p8082', 8082);

// eps.Endpoints[i].Addresses = []string{fmt.Sprintf("10.0.%d.%d", i%256, i/256)}
const loopEndpoints = (second) =>
  Array.from({ length: perSlice }, (_, i) => ({ addresses: [`10.${second}.${i % 256}.${Math.floor(i / 256)}`] }));

const eps1 = endpointSlice('ns1', 'svc1', 1, { endpoints: loopEndpoints(0), ports: [port('p80', 80)] });
const eps2 = endpointSlice('ns2', 'svc2', 1, { endpoints: loopEndpoints(1), ports: [port('p8080', 8080)] });
const eps3 = endpointSlice('ns3', 'svc3', 1, {
  endpoints: [{ addresses: ['203.0.113.4'] }, { addresses: ['203.0.113.8'] }, { addresses: ['203.0.113.12'] }],
  ports: [port('p8081', 8081)],
});
const eps4 = endpointSlice('ns4', 'svc4', 1, { endpoints: [{ addresses: ['10.4.0.1'] }], ports: [port('p8082', 8082)] });

const base = [config, node()];
const expectedEndpoints = 2 * perSlice; // 998

const steps = [
  {
    objects: [...base, svc1, svc2, svc3, eps1, eps2],
    sync: 'full',
    change: 'initial: svc1, svc2 with 499 endpoints each, svc3 without endpoints (998 endpoints: not large-cluster mode)',
    checks: {
      dnatLine: { containing: '10.0.0.0', equals: '-A KUBE-SEP-DKGQUZGBKLTPAR56 -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80' },
      dnatCount: expectedEndpoints,
      dnatWithCommentCount: expectedEndpoints,
    },
  },
  {
    objects: [...base, svc1, svc2, svc3, eps1, eps2, eps3],
    sync: 'partial',
    change: "add svc3's slice (3 endpoints): 1001 endpoints, large-cluster mode; only svc3 is rewritten",
    checks: {
      dnatLine: { containing: '203.0.113.4', equals: '-A KUBE-SEP-RUVVH7YV3PHQBDOS -m tcp -p tcp -j DNAT --to-destination 203.0.113.4:8081' },
      dnatCount: 3,
      dnatWithCommentCount: 0,
    },
  },
  {
    objects: [...base, svc1, svc2, svc3, eps1, eps2, eps3],
    sync: 'full',
    change: 'no change; forceSyncProxyRules(): full sync rewrites every service without comments',
    checks: {
      dnatLine: { containing: '10.0.0.0', equals: '-A KUBE-SEP-DKGQUZGBKLTPAR56 -m tcp -p tcp -j DNAT --to-destination 10.0.0.0:80' },
      dnatCount: expectedEndpoints + 3,
      dnatWithCommentCount: 0,
    },
  },
  {
    objects: [...base, svc1, svc2, svc3, svc4, eps1, eps2, eps3, eps4],
    sync: 'partial',
    change: 'add svc4 (172.30.0.44 p8082) and its slice (10.4.0.1)',
    checks: {
      dnatLine: { containing: '10.4.0.1', equals: '-A KUBE-SEP-SU5STNODRYEWJAUF -m tcp -p tcp -j DNAT --to-destination 10.4.0.1:8082' },
      dnatCount: 1,
    },
  },
  {
    objects: [...base, svc1, svc2, svc3, eps1, eps2, eps3, eps4],
    sync: 'partial',
    cleanupDue: false,
    change: 'delete Service svc4 (slice stays) with lastIPTablesCleanup = now: large-cluster mode defers stale-chain deletion',
    checks: {
      dnatLine: { containing: '10.4.0.1', equals: '' },
      dnatCount: 0,
      notContains: ['-X '],
    },
  },
  {
    objects: [...base, svc1, svc2, svc3, eps1, eps2, eps3, eps4],
    sync: 'partial',
    cleanupDue: true,
    change: 'no change, lastIPTablesCleanup = now - syncPeriod - 1ns: the deferred deletion happens',
    checks: {
      dnatLine: { containing: '10.4.0.1', equals: '' },
      dnatCount: 0,
      contains: ['-X KUBE-SVC-EBDQOQU5SJFXRIL3', '-X KUBE-SEP-SU5STNODRYEWJAUF'],
    },
  },
  {
    objects: [...base, svc1, svc2, svc3, eps1, eps2, eps3, eps4],
    sync: 'full',
    change: 'no change; forceSyncProxyRules()',
    checks: { dnatCount: expectedEndpoints + 3 },
  },
];

steps.forEach((s, i) => writeText(join(dir, `step-${String(i).padStart(2, '0')}.yaml`), toYAML(s.objects)));
writeText(
  join(dir, 'steps.yaml'),
  YAML.stringify(
    {
      flags: FAKE_FLAGS,
      // What the checks count, as countEndpointsAndComments does on the payload (raw or sorted):
      // dnat lines = lines starting "-A KUBE-SEP-" that contain "-j DNAT"; dnatWithCommentCount =
      // those also containing "--comment"; dnatLine = the LAST dnat line containing `containing`
      // ("" when none) must equal `equals`; contains / notContains are substrings of the payload.
      steps: steps.map((s, i) => {
        const nn = String(i).padStart(2, '0');
        return {
          step: i,
          snapshot: `step-${nn}.yaml`,
          sync: s.sync,
          ...(s.cleanupDue !== undefined ? { cleanupDue: s.cleanupDue } : {}),
          change: s.change,
          checks: s.checks,
        };
      }),
    },
    { lineWidth: 0 },
  ),
);
