import * as z from 'zod';
import type { Endpoint, EndpointSlice, EndpointSlicePort } from '@svcrules/core';
import { EXPECT, isDNS1123Label, isDNS1123Subdomain, isLabelValue, quote } from '../words.js';
import { anyString, bool, checkIP, int, list, message, oneOf, protocol, word } from './fields.js';
import type { KindModule } from './kind.js';
import { namespacedMetadata, subdomainName } from './metadata.js';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** API limits (discovery/v1 validation). */
export const MAX_ENDPOINTS = 1000;
export const MAX_PORTS = 100;
export const MAX_ADDRESSES = 100;

export const nodeName = subdomainName('invalid-node-name');
const ZONE = 'a zone name (a non-empty label value: at most 63 letters, digits, \'-\', \'_\', \'.\', starting and ending with a letter or digit)';
const isZone = (s: string) => s !== '' && isLabelValue(s);
const zone = word(isZone, 'invalid-zone', ZONE);

const endpoint = z.object({
  // Checked against addressType in build(): the grammar depends on it.
  addresses: list(anyString).default([]),
  conditions: z.object({ ready: bool.optional(), serving: bool.optional(), terminating: bool.optional() }).optional(),
  nodeName: nodeName.optional(),
  zone: zone.optional(),
  hints: z
    .object({
      forZones: list(z.object({ name: zone })).optional(),
      forNodes: list(z.object({ name: nodeName })).optional(),
    })
    .optional(),
});

const slicePort = z.object({
  // An absent name is "" (discovery/v1 SetDefaults_EndpointPort); an absent port is kept as null:
  // kube-proxy skips such ports (harmless, so accepted).
  name: word((s) => s === '' || isDNS1123Label(s), 'invalid-port-name', `${EXPECT.dns1123Label} or ""`).default(''),
  port: int(1, 65535, 'invalid-port').optional(),
  protocol: protocol.default('TCP'),
});

export const endpointSliceSchema = z.object({
  metadata: namespacedMetadata(subdomainName()),
  addressType: oneOf(['IPv4', 'IPv6', 'FQDN'], 'invalid-address-type'),
  endpoints: list(endpoint).default([]),
  ports: list(slicePort).default([]),
});

export type EndpointSliceDoc = z.output<typeof endpointSliceSchema>;

/** v1beta1 endpoints carry `topology` (a label map) where v1 has `zone`. */
const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';
const LABEL_HOSTNAME = 'kubernetes.io/hostname';
const endpointSliceV1beta1Schema = endpointSliceSchema.extend({
  endpoints: list(endpoint.extend({ topology: z.record(z.string(), anyString).optional() })).default([]),
});

export const endpointSliceKind: KindModule<EndpointSliceDoc, EndpointSlice> = {
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  namespaced: true,
  schema: endpointSliceSchema,
  build(doc, ctx) {
    if (doc.endpoints.length > MAX_ENDPOINTS) {
      ctx.error(['endpoints'], 'too-many-endpoints', `expected at most ${MAX_ENDPOINTS} endpoints, got ${doc.endpoints.length}`);
    }
    if (doc.ports.length > MAX_PORTS) {
      ctx.error(['ports'], 'too-many-ports', `expected at most ${MAX_PORTS} ports, got ${doc.ports.length}`);
    }
    const seen = new Map<string, number>();
    const ports: EndpointSlicePort[] = doc.ports.map((p, i) => {
      if (p.name !== undefined) {
        const key = `${p.name}/${p.protocol}`;
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.error(['ports', i, 'name'], 'duplicate-port', `expected a unique (name, protocol), got ${p.name === '' ? 'an unnamed' : quote(p.name)} ${p.protocol} port again (first at ports[${first}])`);
        } else seen.set(key, i);
      }
      return { name: p.name ?? null, port: p.port ?? null, protocol: p.protocol };
    });

    const endpoints: Endpoint[] = doc.endpoints.map((e, i) => {
      if (e.addresses.length > MAX_ADDRESSES) {
        ctx.error(['endpoints', i, 'addresses'], 'too-many-addresses', `expected at most ${MAX_ADDRESSES} addresses, got ${e.addresses.length}`);
      }
      const addresses = e.addresses.map((a, j) => {
        const path = ['endpoints', i, 'addresses', j];
        if (doc.addressType === 'FQDN') {
          if (!isDNS1123Subdomain(a)) ctx.error(path, 'invalid-fqdn', message(EXPECT.dns1123Subdomain, a));
          return a;
        }
        const r = checkIP(a, { unicast: true });
        if (!r.ok) {
          ctx.error(path, r.code, message(r.expected, a));
          return a;
        }
        if (r.value.family !== doc.addressType) {
          ctx.error(path, 'family-mismatch', `expected an ${doc.addressType} address (the slice's addressType), got ${quote(a)}`);
        }
        return r.value.text;
      });
      const c = e.conditions;
      return {
        addresses,
        ...(c?.ready !== undefined ? { ready: c.ready } : {}),
        ...(c?.serving !== undefined ? { serving: c.serving } : {}),
        ...(c?.terminating !== undefined ? { terminating: c.terminating } : {}),
        ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
        ...(e.zone !== undefined ? { zone: e.zone } : {}),
        ...(e.hints?.forZones ? { zoneHints: e.hints.forZones.map((z) => z.name) } : {}),
        ...(e.hints?.forNodes ? { nodeHints: e.hints.forNodes.map((n) => n.name) } : {}),
      };
    });

    return {
      namespace: doc.metadata.namespace,
      name: doc.metadata.name,
      serviceName: doc.metadata.labels[LABEL_SERVICE_NAME] ?? '',
      addressType: doc.addressType,
      ports,
      endpoints,
      labels: doc.metadata.labels,
    };
  },
};

/**
 * discovery.k8s.io/v1beta1, served until Kubernetes 1.25 and what kubectl of 1.19-1.20 prints: read as
 * the API server converts it to v1 (pkg/apis/discovery/v1beta1/conversion.go
 * Convert_v1beta1_Endpoint_To_discovery_Endpoint: `topology["topology.kubernetes.io/zone"]` becomes
 * `zone`), except that an absent `nodeName` is taken from `topology["kubernetes.io/hostname"]`: that is
 * where kube-proxy of those releases looked for the node (pkg/proxy/endpointslicecache.go of 1.20), and
 * what the EndpointSlice controller of 1.21+ writes into `nodeName` for the same Pods.
 */
export const endpointSliceV1beta1Kind: KindModule<z.output<typeof endpointSliceV1beta1Schema>, EndpointSlice> = {
  ...endpointSliceKind,
  apiVersion: 'discovery.k8s.io/v1beta1',
  schema: endpointSliceV1beta1Schema,
  build(doc, ctx) {
    const endpoints = doc.endpoints.map(({ topology, ...e }, i) => {
      const z = topology?.[LABEL_TOPOLOGY_ZONE];
      const host = topology?.[LABEL_HOSTNAME];
      if (z !== undefined && !isZone(z)) ctx.error(['endpoints', i, 'topology', LABEL_TOPOLOGY_ZONE], 'invalid-zone', message(ZONE, z));
      if (e.nodeName === undefined && host !== undefined && !isDNS1123Subdomain(host)) {
        ctx.error(['endpoints', i, 'topology', LABEL_HOSTNAME], 'invalid-node-name', message(EXPECT.dns1123Subdomain, host));
      }
      return { ...e, ...(z !== undefined ? { zone: z } : {}), ...(e.nodeName === undefined && host !== undefined ? { nodeName: host } : {}) };
    });
    return endpointSliceKind.build({ ...doc, endpoints }, ctx);
  },
};
