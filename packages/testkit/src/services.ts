import type { Service } from '@svcrules/core';

/**
 * A Service as the API server stores it when only namespace, name and a cluster IP are given
 * (ClusterIP, one TCP port 80 named p80, SessionAffinity None with the 10800 s timeout, Cluster
 * traffic policies); override what the test is about. The IP family follows `clusterIP`.
 */
export function serviceWithDefaults(namespace: string, name: string, over: Partial<Service> = {}): Service {
  const clusterIP = over.clusterIP ?? '172.30.0.41';
  return {
    namespace,
    name,
    type: 'ClusterIP',
    clusterIP,
    clusterIPs: [clusterIP],
    ipFamilies: [clusterIP.includes(':') ? 'IPv6' : 'IPv4'],
    ports: [{ name: 'p80', protocol: 'TCP', port: 80, nodePort: 0 }],
    externalIPs: [],
    loadBalancerIngress: [],
    loadBalancerSourceRanges: [],
    sessionAffinity: 'None',
    affinityTimeoutSeconds: 10800,
    externalTrafficPolicy: 'Cluster',
    internalTrafficPolicy: 'Cluster',
    healthCheckNodePort: 0,
    labels: {},
    ...over,
  };
}
