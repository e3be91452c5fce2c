import * as z from 'zod';
import { ipFamilyOf } from '@svcrules/core';
import type { IPFamily, LoadBalancerIngress, Service, ServicePort } from '@svcrules/core';
import { EXPECT, isDNS1035Label, isIANASvcName, quote } from '../words.js';
import { bool, checkIP, cidr, emptyIsUnset, fail, int, ip, leaf, list, oneOf, ok, optionalPort, port, portName, protocol, unsetIf, word } from './fields.js';
import type { KindModule } from './kind.js';
import { labelMap, namespacedMetadata } from './metadata.js';

const EXPECT_TARGET_PORT = `an integer from 1 to 65535 or ${EXPECT.ianaSvcName}`;

/** IntOrString: a number is a port, a string must be an IANA service name (`"8080"` is a string, and invalid). */
const targetPort = leaf<number | string>((v) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return ok(v);
  if (typeof v === 'string' && isIANASvcName(v)) return ok(v);
  return fail('invalid-target-port', EXPECT_TARGET_PORT);
}, EXPECT_TARGET_PORT);

const EXPECT_CLUSTER_IP = 'an IP address, "None" or ""';

/** `spec.clusterIP(s)` entries: `None` (headless), `''` (unset) or an IP, canonical. */
const clusterIP = leaf<string>((v) => {
  if (v === 'None' || v === '') return ok(v);
  const r = checkIP(v);
  return r.ok ? ok(r.value.text) : r.code === 'invalid-ip' && typeof v === 'string' && !v.includes('%') ? fail('invalid-ip', EXPECT_CLUSTER_IP) : r;
}, EXPECT_CLUSTER_IP);

const servicePort = z.object({
  name: portName.default(''),
  protocol: emptyIsUnset(protocol.default('TCP')),
  port,
  nodePort: optionalPort.default(0),
  // 0 and "" are unset: the API defaults them to `port`.
  targetPort: unsetIf([0, ''], targetPort.optional()),
});

const trafficPolicy = oneOf(['Cluster', 'Local'], 'invalid-traffic-policy');

export const serviceSchema = z.object({
  metadata: namespacedMetadata(word(isDNS1035Label, 'invalid-name', EXPECT.dns1035Label)),
  spec: z.object({
    // API defaulting (SetDefaults_Service): "" is unset for type, sessionAffinity and the traffic
    // policies (an internalTrafficPolicy of "" is not defaulted by the API, but kube-proxy reads
    // anything but Local as Cluster), as Helm-rendered manifests write them.
    type: emptyIsUnset(oneOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'], 'invalid-service-type').default('ClusterIP')),
    clusterIP: clusterIP.optional(),
    clusterIPs: list(clusterIP).optional(),
    ipFamilies: list(oneOf<IPFamily>(['IPv4', 'IPv6'], 'invalid-ip-family')).optional(),
    ports: list(servicePort).default([]),
    selector: labelMap().optional(),
    externalIPs: list(ip({ unicast: true })).default([]),
    loadBalancerSourceRanges: list(cidr(true)).default([]),
    sessionAffinity: emptyIsUnset(oneOf(['None', 'ClientIP'], 'invalid-session-affinity').default('None')),
    sessionAffinityConfig: z
      .object({
        clientIP: z.object({ timeoutSeconds: int(1, 86400, 'invalid-affinity-timeout').optional() }).optional(),
      })
      .optional(),
    externalTrafficPolicy: emptyIsUnset(trafficPolicy.default('Cluster')),
    internalTrafficPolicy: emptyIsUnset(trafficPolicy.default('Cluster')),
    healthCheckNodePort: optionalPort.default(0),
    publishNotReadyAddresses: bool.optional(),
  }),
  status: z
    .object({
      loadBalancer: z
        .object({
          ingress: list(
            z.object({
              ip: ip().optional(),
              ipMode: oneOf(['VIP', 'Proxy'], 'invalid-ip-mode').optional(),
            }),
          ).default([]),
        })
        .optional(),
    })
    .optional(),
});

export type ServiceDoc = z.output<typeof serviceSchema>;

export const serviceKind: KindModule<ServiceDoc, Service> = {
  apiVersion: 'v1',
  kind: 'Service',
  namespaced: true,
  schema: serviceSchema,
  build(doc, ctx) {
    const spec = doc.spec;
    // API defaulting: clusterIPs from clusterIP and back ('' is unset); both given must agree.
    const given = spec.clusterIP === '' ? undefined : spec.clusterIP;
    const clusterIPs = (spec.clusterIPs ?? (given !== undefined ? [given] : [])).filter((c) => c !== '');
    const clusterIPValue = given ?? clusterIPs[0] ?? '';
    if (given !== undefined && spec.clusterIPs !== undefined && spec.clusterIPs.length > 0 && spec.clusterIPs[0] !== given) {
      ctx.error(['spec', 'clusterIPs', 0], 'cluster-ip-mismatch', `expected clusterIPs[0] to equal clusterIP ${quote(given)}, got ${quote(spec.clusterIPs[0]!)}`);
    }
    if (clusterIPs.length > 2 || (clusterIPs.includes('None') && clusterIPs.length > 1)) {
      ctx.error(['spec', 'clusterIPs'], 'invalid-cluster-ips', `expected one IP, "None", or two IPs of different families, got ${clusterIPs.length} entries`);
    } else if (clusterIPs.length === 2 && ipFamilyOf(clusterIPs[0]!) === ipFamilyOf(clusterIPs[1]!)) {
      ctx.error(['spec', 'clusterIPs', 1], 'invalid-cluster-ips', `expected a second IP of the other family, got a second ${ipFamilyOf(clusterIPs[1]!)} address`);
    }
    const ipFamilies = spec.ipFamilies ?? clusterIPs.map(ipFamilyOf).filter((f): f is IPFamily => f !== null);
    if (spec.ipFamilies) {
      if (spec.ipFamilies.length > 2) {
        ctx.error(['spec', 'ipFamilies'], 'invalid-ip-family', `expected at most two families, got ${spec.ipFamilies.length}`);
      } else if (spec.ipFamilies.length === 2 && spec.ipFamilies[0] === spec.ipFamilies[1]) {
        ctx.error(['spec', 'ipFamilies', 1], 'invalid-ip-family', `expected the other family, got ${spec.ipFamilies[1]} twice`);
      }
      spec.ipFamilies.forEach((fam, i) => {
        const c = clusterIPs[i];
        const actual = c !== undefined ? ipFamilyOf(c) : null;
        if (actual !== null && actual !== fam) {
          ctx.error(['spec', 'ipFamilies', i], 'family-mismatch', `expected ${actual}, the family of cluster IP ${quote(c!)}, got ${quote(fam)}`);
        }
      });
    }

    const seen = new Map<string, number>();
    const ports: ServicePort[] = spec.ports.map((p, i) => {
      const key = `${p.name}/${p.protocol}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.error(['spec', 'ports', i, p.name === '' ? 'port' : 'name'], 'duplicate-port', `expected a unique (name, protocol), got ${p.name === '' ? 'an unnamed' : quote(p.name)} ${p.protocol} port again (first at spec.ports[${first}])`);
      } else seen.set(key, i);
      return { name: p.name, protocol: p.protocol, port: p.port, nodePort: p.nodePort, targetPort: p.targetPort ?? p.port };
    });

    const loadBalancerIngress: LoadBalancerIngress[] = (doc.status?.loadBalancer?.ingress ?? []).map((g) => ({
      ip: g.ip ?? '',
      ...(g.ipMode !== undefined ? { ipMode: g.ipMode } : {}),
    }));

    const selector = spec.selector && Object.keys(spec.selector).length > 0 ? spec.selector : undefined;
    return {
      namespace: doc.metadata.namespace,
      name: doc.metadata.name,
      type: spec.type,
      clusterIP: clusterIPValue,
      clusterIPs,
      ipFamilies,
      ports,
      externalIPs: spec.externalIPs,
      loadBalancerIngress,
      loadBalancerSourceRanges: spec.loadBalancerSourceRanges,
      sessionAffinity: spec.sessionAffinity,
      affinityTimeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800,
      externalTrafficPolicy: spec.externalTrafficPolicy,
      internalTrafficPolicy: spec.internalTrafficPolicy,
      healthCheckNodePort: spec.healthCheckNodePort,
      labels: doc.metadata.labels,
      ...(selector ? { selector } : {}),
      ...(spec.publishNotReadyAddresses === true ? { publishNotReadyAddresses: true } : {}),
    };
  },
};
