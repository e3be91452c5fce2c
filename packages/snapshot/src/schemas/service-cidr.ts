import * as z from 'zod';
import { ipFamilyOf } from '@svcrules/core';
import type { ServiceCIDR } from '@svcrules/core';
import { quote } from '../words.js';
import { cidr, list } from './fields.js';
import type { KindModule } from './kind.js';
import { clusterMetadata, subdomainName } from './metadata.js';

export const serviceCIDRSchema = z.object({
  metadata: clusterMetadata(subdomainName('invalid-name')),
  spec: z.object({ cidrs: list(cidr()).default([]) }).default({ cidrs: [] }),
});

export type ServiceCIDRDoc = z.output<typeof serviceCIDRSchema>;

/** networking.k8s.io/v1 ServiceCIDR: one CIDR, or two of different families (the API's validation). */
export const serviceCIDRKind: KindModule<ServiceCIDRDoc, ServiceCIDR> = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'ServiceCIDR',
  namespaced: false,
  schema: serviceCIDRSchema,
  build(doc, ctx) {
    const cidrs = doc.spec.cidrs;
    if (cidrs.length > 2) {
      ctx.error(['spec', 'cidrs'], 'invalid-cidr', `expected one CIDR or two of different families, got ${cidrs.length}`);
    } else if (cidrs.length === 2 && ipFamilyOf(cidrs[0]!.split('/')[0]!) === ipFamilyOf(cidrs[1]!.split('/')[0]!)) {
      ctx.error(['spec', 'cidrs', 1], 'invalid-cidr', `expected a CIDR of the other family, got ${quote(cidrs[1]!)}`);
    }
    return { name: doc.metadata.name, cidrs };
  },
};
