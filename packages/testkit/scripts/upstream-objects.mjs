// Builders for kube-proxy's proxier_test.go fixtures, shaped as `kubectl get -o yaml` prints
// the objects. Shared by the gen-upstream-*.mjs scripts. Plain Node ESM; only `yaml`.
//
// The Go test fake (NewFakeProxier in pkg/proxy/iptables/proxier_test.go @531be812):
// node "test-node", nodeIP 192.168.0.2, local detector by CIDR 10.0.0.0/8 (IPv6:
// fd00:10::/64), mark "0x4000", no --random-fully, both nfacct counters ensured,
// localhostNodePorts true, nodePortAddresses nil (match all), conntrackTCPLiberal false,
// interfaces lo {127.0.0.1/8, ::1/128} and eth0 {192.168.0.2/24, 192.168.1.2/24,
// 192.168.99.11/24, 2001:db8::1/64, 2001:db8:1::2/64}.

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import YAML from 'yaml';

export const UPSTREAM_COMMIT = '531be81208e2274ef42e72525a26610a9622bcdf';
export const TEST_NODE_NAME = 'test-node';
export const TEST_NODE_IP = '192.168.0.2';
export const TEST_NODE_IP_ALT = '192.168.1.2';
export const TEST_EXTERNAL_IP = '192.168.99.11';
export const TEST_NODE_IPV6 = '2001:db8::1';
export const TEST_NODE_IPV6_ALT = '2001:db8:1::2';
export const TEST_EXTERNAL_CLIENT = '203.0.113.2';
export const TEST_EXTERNAL_CLIENT_BLOCKED = '203.0.113.130';
/** testNodeIPs: the nodeIPs every runPacketFlowTests call passes (the tracer adds 127.0.0.1 and ::1). */
export const TEST_NODE_IPS = [TEST_NODE_IP, TEST_NODE_IP_ALT, TEST_EXTERNAL_IP, TEST_NODE_IPV6, TEST_NODE_IPV6_ALT];
/** The fake's network interface addresses (lo then eth0), for per-IP nodePortAddresses. */
export const FAKE_INTERFACE_ADDRESSES = ['127.0.0.1', '::1', ...TEST_NODE_IPS];

/** The base `cmd` reproducing the fake: its mark and no --random-fully. */
export const FAKE_FLAGS = '--sort --masquerade-mark 0x4000 --no-random-fully';

/**
 * KubeProxyConfiguration carrying the fake's settings.
 * `clusterCIDR: null` means the test replaced the detector with a no-op one.
 */
export function proxyConfig({
  family = 'IPv4',
  clusterCIDR,
  localhostNodePorts = true,
  masqueradeAll = false,
  nodePortAddresses = null,
} = {}) {
  const cidr = clusterCIDR === undefined ? (family === 'IPv6' ? 'fd00:10::/64' : '10.0.0.0/8') : clusterCIDR;
  const cfg = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    hostnameOverride: TEST_NODE_NAME,
  };
  if (cidr !== null) cfg.clusterCIDR = cidr;
  cfg.detectLocalMode = 'ClusterCIDR';
  cfg.iptables = { masqueradeAll, masqueradeBit: 14, localhostNodePorts };
  if (nodePortAddresses !== null) cfg.nodePortAddresses = [...nodePortAddresses];
  return cfg;
}

/** The fake's node: named test-node, InternalIP = testNodeIP (the fake keeps the IPv4 nodeIP even for IPv6). */
export function node() {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: TEST_NODE_NAME },
    status: { addresses: [{ type: 'InternalIP', address: TEST_NODE_IP }] },
  };
}

function isIPv6(ip) {
  return ip.includes(':');
}

/**
 * A Service as the API server would hold it after defaulting, without inventing allocations:
 * type defaults to ClusterIP (makeTestService leaves it ""), clusterIPs/ipFamilies mirror
 * clusterIP, targetPort defaults to port, sessionAffinity None, internalTrafficPolicy Cluster,
 * externalTrafficPolicy Cluster for NodePort/LoadBalancer. nodePort and healthCheckNodePort
 * appear only when the Go test sets them (the fake never allocates).
 */
export function service(namespace, name, s) {
  const type = s.type ?? 'ClusterIP';
  const spec = { type, clusterIP: s.clusterIP, clusterIPs: [s.clusterIP] };
  spec.ipFamilies = [isIPv6(s.clusterIP) ? 'IPv6' : 'IPv4'];
  spec.ipFamilyPolicy = 'SingleStack';
  if (s.selector) spec.selector = { ...s.selector };
  spec.ports = s.ports.map((p) => {
    const out = {};
    if (p.name !== undefined && p.name !== '') out.name = p.name;
    out.protocol = p.protocol;
    out.port = p.port;
    out.targetPort = p.targetPort ?? p.port;
    if (p.nodePort) out.nodePort = p.nodePort;
    return out;
  });
  if (s.externalIPs) spec.externalIPs = [...s.externalIPs];
  if (s.loadBalancerSourceRanges) spec.loadBalancerSourceRanges = [...s.loadBalancerSourceRanges];
  const etp = s.externalTrafficPolicy ?? (type === 'NodePort' || type === 'LoadBalancer' ? 'Cluster' : undefined);
  if (etp) spec.externalTrafficPolicy = etp;
  spec.internalTrafficPolicy = s.internalTrafficPolicy ?? 'Cluster';
  if (s.healthCheckNodePort) spec.healthCheckNodePort = s.healthCheckNodePort;
  spec.sessionAffinity = s.sessionAffinity ?? 'None';
  if (s.sessionAffinity === 'ClientIP') {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: s.timeoutSeconds } };
  }
  const status = { loadBalancer: {} };
  if (s.ingress) {
    status.loadBalancer.ingress = s.ingress.map((i) => {
      const out = { ip: i.ip };
      if (i.ipMode) out.ipMode = i.ipMode;
      return out;
    });
  }
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec, status };
}

/**
 * An EndpointSlice as makeTestEndpointSlice builds it: name "<service>-<sliceNum>", the
 * kubernetes.io/service-name label. Endpoint conditions/nodeName appear only when the test sets
 * them (unset conditions mean ready/serving true, terminating false to kube-proxy).
 */
export function endpointSlice(namespace, serviceName, sliceNum, e) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${serviceName}-${sliceNum}`,
      namespace,
      labels: { 'kubernetes.io/service-name': serviceName },
    },
    addressType: e.addressType ?? 'IPv4',
    endpoints: e.endpoints.map((ep) => {
      const out = { addresses: [...ep.addresses] };
      if (ep.conditions) out.conditions = { ...ep.conditions };
      if (ep.nodeName !== undefined) out.nodeName = ep.nodeName;
      return out;
    }),
    ports: e.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
  };
}

/** A single-port EndpointSlice port list entry. */
export function port(name, portNumber, protocol = 'TCP') {
  return { name, port: portNumber, protocol };
}

/** Serialises objects as one multi-document YAML stream (deterministic). */
export function toYAML(objects) {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join('---\n');
}

export function writeText(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** Flow tests as flows.yaml: protocol "" in Go means TCP; masq unset means false. */
export function flowsYAML(flows) {
  return YAML.stringify(
    flows.map((f) => ({
      name: f.name,
      sourceIP: f.sourceIP,
      protocol: f.protocol ?? 'TCP',
      destIP: f.destIP,
      destPort: f.destPort,
      output: f.output,
      masq: f.masq ?? false,
    })),
    { lineWidth: 0 },
  );
}
