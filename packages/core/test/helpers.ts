import type { EndpointSlice, Service, ServicePort } from '../src/model.js';

/** A ClusterIP Service with API-server defaults; override what the test is about. */
export function service(ns: string, name: string, over: Partial<Service> & { ports?: ServicePort[] } = {}): Service {
  const clusterIP = over.clusterIP ?? '172.30.0.41';
  return {
    namespace: ns,
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

export function slice(ns: string, svc: string, over: Partial<EndpointSlice> = {}): EndpointSlice {
  return {
    namespace: ns,
    name: `${svc}-slice`,
    serviceName: svc,
    addressType: 'IPv4',
    ports: [{ name: 'p80', port: 80, protocol: 'TCP' }],
    endpoints: [],
    labels: { 'kubernetes.io/service-name': svc },
    ...over,
  };
}
