import * as z from 'zod';
import { ipFamilyOf } from '@svcrules/core';
import type { NodeAddress, NodeInfo } from '@svcrules/core';
import { quote } from '../words.js';
import { anyString, checkIP, cidr, list, message, word } from './fields.js';
import type { KindModule } from './kind.js';
import { clusterMetadata, subdomainName } from './metadata.js';

/** Address types whose value is an IP (the compiler takes node IPs from these). */
const IP_TYPES = new Set(['InternalIP', 'ExternalIP']);
/** Hostname / DNS addresses: a host name, one safe word. */
const HOSTNAME = /^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$/;

export const nodeSchema = z.object({
  metadata: clusterMetadata(subdomainName('invalid-name')),
  spec: z.object({ podCIDR: cidr().optional(), podCIDRs: list(cidr()).optional() }).default({}),
  status: z
    .object({
      addresses: list(
        z.object({
          type: word((s) => /^[A-Za-z]{1,63}$/.test(s), 'invalid-node-address', 'an address type such as InternalIP, ExternalIP or Hostname'),
          address: anyString,
        }),
      ).default([]),
    })
    .default({ addresses: [] }),
});

export type NodeDoc = z.output<typeof nodeSchema>;

export const nodeKind: KindModule<NodeDoc, NodeInfo> = {
  apiVersion: 'v1',
  kind: 'Node',
  namespaced: false,
  schema: nodeSchema,
  build(doc, ctx) {
    const addresses: NodeAddress[] = doc.status.addresses.map((a, i) => {
      const path = ['status', 'addresses', i, 'address'];
      if (IP_TYPES.has(a.type)) {
        const r = checkIP(a.address);
        if (!r.ok) ctx.error(path, r.code, message(r.expected, a.address));
        return { type: a.type, address: r.ok ? r.value.text : a.address };
      }
      if (a.address.length > 253 || !HOSTNAME.test(a.address)) {
        ctx.error(path, 'invalid-node-address', message(`a host name (letters, digits, '-' and '.', at most 253 characters) for a ${a.type} address`, a.address));
      }
      return { type: a.type, address: a.address };
    });
    const podCIDRs = doc.spec.podCIDRs ?? (doc.spec.podCIDR !== undefined ? [doc.spec.podCIDR] : []);
    if (podCIDRs.length > 2) {
      ctx.error(['spec', 'podCIDRs'], 'invalid-cidr', `expected one CIDR or two of different families, got ${podCIDRs.length}`);
    } else if (podCIDRs.length === 2 && ipFamilyOf(podCIDRs[0]!.split('/')[0]!) === ipFamilyOf(podCIDRs[1]!.split('/')[0]!)) {
      ctx.error(['spec', 'podCIDRs', 1], 'invalid-cidr', `expected a CIDR of the other family, got ${quote(podCIDRs[1]!)}`);
    }
    return { name: doc.metadata.name, addresses, podCIDRs, labels: doc.metadata.labels };
  },
};
