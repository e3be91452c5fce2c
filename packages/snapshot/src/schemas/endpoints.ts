import * as z from 'zod';
import type { IPFamily, Protocol } from '@svcrules/core';
import { EXPECT, isDNS1123Label, quote } from '../words.js';
import { anyString, checkIP, emptyIsUnset, fail, leaf, list, ok, port, protocol, word } from './fields.js';
import type { KindModule } from './kind.js';
import { namespacedMetadata, subdomainName } from './metadata.js';
import { nodeName } from './endpoint-slice.js';

/** A v1 Endpoints address: the IP as written (the repack key) and its canonical form. */
export interface EndpointsAddress {
  readonly ip: string;
  readonly canonical: string;
  readonly family: IPFamily;
  readonly nodeName?: string;
  readonly hostname?: string;
  readonly targetRef?: { readonly uid?: string; readonly namespace?: string; readonly name?: string };
}

export interface EndpointsPort {
  readonly name: string;
  readonly port: number;
  readonly protocol: Protocol;
  readonly appProtocol?: string;
}

export interface EndpointsSubset {
  readonly addresses: readonly EndpointsAddress[];
  readonly notReadyAddresses: readonly EndpointsAddress[];
  readonly ports: readonly EndpointsPort[];
}

/** A validated v1 Endpoints object, before mirroring turns it into EndpointSlices. */
export interface EndpointsObject {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotationKeys: readonly string[];
  readonly subsets: readonly EndpointsSubset[];
}

const EXPECT_ADDRESS = 'an IP address that is not loopback, link-local, multicast or unspecified';

/** The IP as written plus its parse: Endpoints are repacked on the written text, as Go does. */
const addressIP = leaf((v) => {
  const r = checkIP(v, { unicast: true });
  if (!r.ok) return r;
  return typeof v === 'string' ? ok({ ip: v, canonical: r.value.text, family: r.value.family }) : fail('invalid-ip', EXPECT_ADDRESS);
}, EXPECT_ADDRESS);

const address = z.object({
  ip: addressIP,
  nodeName: nodeName.optional(),
  hostname: anyString.optional(),
  targetRef: z.object({ uid: anyString.optional(), namespace: anyString.optional(), name: anyString.optional() }).optional(),
});

const endpointsPort = z.object({
  name: word((s) => s === '' || isDNS1123Label(s), 'invalid-port-name', `${EXPECT.dns1123Label} or ""`).default(''),
  port,
  protocol: emptyIsUnset(protocol.default('TCP')), // SetDefaults_Endpoints
  appProtocol: anyString.optional(),
});

export const endpointsSchema = z.object({
  metadata: namespacedMetadata(subdomainName()),
  subsets: list(
    z.object({
      addresses: list(address).default([]),
      notReadyAddresses: list(address).default([]),
      ports: list(endpointsPort).default([]),
    }),
  ).default([]),
});

export type EndpointsDoc = z.output<typeof endpointsSchema>;

type AddressDoc = EndpointsDoc['subsets'][number]['addresses'][number];

function toAddress(a: AddressDoc): EndpointsAddress {
  const ref = a.targetRef;
  return {
    ip: a.ip.ip,
    canonical: a.ip.canonical,
    family: a.ip.family,
    ...(a.nodeName !== undefined ? { nodeName: a.nodeName } : {}),
    ...(a.hostname !== undefined ? { hostname: a.hostname } : {}),
    ...(ref
      ? {
          targetRef: {
            ...(ref.uid !== undefined ? { uid: ref.uid } : {}),
            ...(ref.namespace !== undefined ? { namespace: ref.namespace } : {}),
            ...(ref.name !== undefined ? { name: ref.name } : {}),
          },
        }
      : {}),
  };
}

export const endpointsKind: KindModule<EndpointsDoc, EndpointsObject> = {
  apiVersion: 'v1',
  kind: 'Endpoints',
  namespaced: true,
  schema: endpointsSchema,
  build(doc, ctx) {
    doc.subsets.forEach((s, i) => {
      const seen = new Map<string, number>();
      s.ports.forEach((p, j) => {
        const key = `${p.name}/${p.protocol}`;
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.error(['subsets', i, 'ports', j, p.name === '' ? 'port' : 'name'], 'duplicate-port', `expected a unique (name, protocol), got ${p.name === '' ? 'an unnamed' : quote(p.name)} ${p.protocol} port again (first at subsets[${i}].ports[${first}])`);
        } else seen.set(key, j);
      });
    });
    return {
      namespace: doc.metadata.namespace,
      name: doc.metadata.name,
      labels: doc.metadata.labels,
      annotationKeys: doc.metadata.annotations ?? [],
      subsets: doc.subsets.map((s) => ({
        addresses: s.addresses.map(toAddress),
        notReadyAddresses: s.notReadyAddresses.map(toAddress),
        ports: s.ports.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol, ...(p.appProtocol !== undefined ? { appProtocol: p.appProtocol } : {}) })),
      })),
    };
  },
};
