import { serviceWithDefaults } from '@svcrules/testkit';
import type { EndpointSlice } from '../src/model.js';

/** A ClusterIP Service with API-server defaults (172.30.0.41 unless given); override what the test is about. */
export const service = serviceWithDefaults;

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
