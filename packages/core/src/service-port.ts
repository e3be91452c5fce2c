import type { IPFamily, Protocol, Service, ServicePort } from './model.js';
import { ipFamilyOf } from './ip.js';

/**
 * One service port as the iptables proxier sees it for one IP family (kube-proxy's
 * `newBaseServiceInfo` + the per-family filtering of its change tracker).
 */
export interface ServicePortInfo {
  readonly service: Service;
  readonly port: ServicePort;
  /** `ns/name` or `ns/name:port` (kube-proxy's ServicePortName.String()). */
  readonly name: string;
  /** Lower case, as used in rules. */
  readonly protocol: 'tcp' | 'udp' | 'sctp';
  readonly clusterIP: string;
  readonly externalIPs: readonly string[];
  readonly loadBalancerVIPs: readonly string[];
  readonly sourceRanges: readonly string[];
  readonly sessionAffinity: boolean;
  readonly stickyMaxAgeSeconds: number;
  readonly externalPolicyLocal: boolean;
  readonly internalPolicyLocal: boolean;
  readonly healthCheckNodePort: number;
  readonly externallyAccessible: boolean;
  readonly usesClusterEndpoints: boolean;
  readonly usesLocalEndpoints: boolean;
}

const SKIP_LABELS = ['service.kubernetes.io/service-proxy-name', 'service.kubernetes.io/headless'];

/** The label that hides an object from kube-proxy's informers, or undefined. */
export function proxySkipLabel(labels: Readonly<Record<string, string>>): string | undefined {
  return SKIP_LABELS.find((l) => Object.prototype.hasOwnProperty.call(labels, l));
}

/** kube-proxy's informers never see objects with these labels. */
export const hasProxySkipLabel = (labels: Readonly<Record<string, string>>): boolean => proxySkipLabel(labels) !== undefined;

/** `proxyutil.ShouldSkipService` plus the informer's label selector. */
export function shouldSkipService(svc: Service): boolean {
  return svc.clusterIP === 'None' || svc.clusterIP === '' || svc.type === 'ExternalName' || hasProxySkipLabel(svc.labels);
}

/** Why a Service yields no rules for a family (kube-proxy skips it or it has no port), or undefined. */
export function serviceSkipReason(svc: Service, family: IPFamily): string | undefined {
  if (svc.type === 'ExternalName') return 'type ExternalName (a DNS name only; kube-proxy writes no rules)';
  const label = proxySkipLabel(svc.labels);
  if (label !== undefined) return `labelled ${label} (kube-proxy does not watch it${label === SKIP_LABELS[0] ? '; another proxy serves it' : ''})`;
  if (svc.clusterIP === 'None') return 'headless (clusterIP None: DNS only, kube-proxy writes no rules)';
  if (svc.clusterIP === '') return 'no clusterIP allocated yet (a manifest: the API server allocates it on creation)';
  if (clusterIPForFamily(svc, family) === '') return `no ${family} cluster IP (ipFamilies ${svc.ipFamilies.join(', ') || ipFamilyOf(svc.clusterIP)})`;
  if (svc.ports.length === 0) return 'no ports';
  return undefined;
}

/** `GetClusterIPByFamily`; `''` when the Service has no cluster IP of this family. */
export function clusterIPForFamily(svc: Service, family: IPFamily): string {
  if (svc.ipFamilies.length === 0) {
    if (svc.clusterIP === '' || svc.clusterIP === 'None') return '';
    return ipFamilyOf(svc.clusterIP) === family ? svc.clusterIP : '';
  }
  const i = svc.ipFamilies.indexOf(family);
  return i >= 0 ? (svc.clusterIPs[i] ?? '') : '';
}

export function servicePortNameString(namespace: string, name: string, portName: string): string {
  return portName === '' ? `${namespace}/${name}` : `${namespace}/${name}:${portName}`;
}

const lower = (p: Protocol) => p.toLowerCase() as 'tcp' | 'udp' | 'sctp';

/** The API helper `ExternallyAccessible` (by type, before per-family filtering). */
function apiExternallyAccessible(svc: Service): boolean {
  return svc.type === 'LoadBalancer' || svc.type === 'NodePort' || (svc.type === 'ClusterIP' && svc.externalIPs.length > 0);
}

/** All ports of a Service for one family, or none when the Service is skipped for that family. */
export function servicePortInfos(svc: Service, family: IPFamily): ServicePortInfo[] {
  if (shouldSkipService(svc)) return [];
  const clusterIP = clusterIPForFamily(svc, family);
  if (clusterIP === '') return [];
  const ofFamily = (ip: string) => ipFamilyOf(ip) === family;
  const externalIPs = svc.externalIPs.filter(ofFamily);
  const loadBalancerVIPs = svc.loadBalancerIngress
    .filter((ing) => ing.ip !== '' && (ing.ipMode === undefined || ing.ipMode === 'VIP') && ofFamily(ing.ip))
    .map((ing) => ing.ip);
  const sourceRanges = svc.loadBalancerSourceRanges.filter((c) => ofFamily(c.slice(0, c.indexOf('/'))));
  const externalPolicyLocal = apiExternallyAccessible(svc) && svc.externalTrafficPolicy === 'Local';
  const internalPolicyLocal = svc.internalTrafficPolicy === 'Local';
  const healthCheckNodePort = svc.type === 'LoadBalancer' && externalPolicyLocal ? svc.healthCheckNodePort : 0;
  return svc.ports.map((port) => {
    const externallyAccessible = port.nodePort !== 0 || loadBalancerVIPs.length > 0 || externalIPs.length > 0;
    return {
      service: svc,
      port,
      name: servicePortNameString(svc.namespace, svc.name, port.name),
      protocol: lower(port.protocol),
      clusterIP,
      externalIPs,
      loadBalancerVIPs,
      sourceRanges,
      sessionAffinity: svc.sessionAffinity === 'ClientIP',
      stickyMaxAgeSeconds: svc.affinityTimeoutSeconds,
      externalPolicyLocal,
      internalPolicyLocal,
      healthCheckNodePort,
      externallyAccessible,
      usesClusterEndpoints: !internalPolicyLocal || externallyAccessible,
      usesLocalEndpoints: internalPolicyLocal || (externalPolicyLocal && externallyAccessible),
    };
  });
}
