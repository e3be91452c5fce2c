import * as z from 'zod';
import type { DetectLocalMode, IPFamily, ProxyConfig } from '@svcrules/core';
import { EXPECT, isDNS1123Subdomain, isInterfaceName, quote } from '../words.js';
import { anyString, bool, checkCIDR, int, list, message, oneOf } from './fields.js';
import type { KindModule } from './kind.js';

export const kubeProxyConfigSchema = z.object({
  mode: anyString.optional(),
  hostnameOverride: anyString.optional(),
  clusterCIDR: anyString.optional(),
  detectLocalMode: oneOf(['', 'ClusterCIDR', 'NodeCIDR', 'BridgeInterface', 'InterfaceNamePrefix'], 'invalid-detect-local-mode').optional(),
  detectLocal: z.object({ bridgeInterface: anyString.optional(), interfaceNamePrefix: anyString.optional() }).optional(),
  iptables: z
    .object({
      masqueradeBit: int(0, 31, 'invalid-masquerade-bit').optional(),
      masqueradeAll: bool.optional(),
      localhostNodePorts: bool.optional(),
    })
    .optional(),
  nftables: z
    .object({
      masqueradeBit: int(0, 31, 'invalid-masquerade-bit').optional(),
      masqueradeAll: bool.optional(),
    })
    .optional(),
  nodePortAddresses: list(anyString).optional(),
});

export type KubeProxyConfigDoc = z.output<typeof kubeProxyConfigSchema>;

export const kubeProxyConfigKind: KindModule<KubeProxyConfigDoc, ProxyConfig> = {
  apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
  kind: 'KubeProxyConfiguration',
  namespaced: false,
  schema: kubeProxyConfigSchema,
  build(doc, ctx) {
    if (doc.mode !== undefined && doc.mode !== '' && doc.mode !== 'iptables' && doc.mode !== 'nftables') {
      ctx.warning(['mode'], 'unsupported-proxy-mode', `svcrules writes iptables-mode rules, but this configuration is for mode ${quote(doc.mode)}`);
    }

    // kube-proxy's GetHostname: trimmed, lower-cased.
    let hostnameOverride: string | undefined;
    if (doc.hostnameOverride !== undefined) {
      const h = doc.hostnameOverride.trim().toLowerCase();
      if (h !== '') {
        if (!isDNS1123Subdomain(h)) ctx.error(['hostnameOverride'], 'invalid-node-name', message(EXPECT.dns1123Subdomain, doc.hostnameOverride));
        hostnameOverride = h;
      }
    }

    // v1alpha1 clusterCIDR is comma-separated (converted with strings.Split, no trimming).
    let clusterCIDRs: string[] | undefined;
    if (doc.clusterCIDR !== undefined && doc.clusterCIDR !== '') {
      const parts = doc.clusterCIDR.split(',');
      const families: IPFamily[] = [];
      clusterCIDRs = parts.map((p, i) => {
        const r = checkCIDR(p);
        if (!r.ok) {
          ctx.error(['clusterCIDR'], r.code, `expected a comma-separated list of CIDRs, got ${quote(doc.clusterCIDR!)}: entry ${i + 1} (${quote(p)}) is not ${r.expected}`);
          return p;
        }
        families.push(r.value.family);
        return r.value.text;
      });
      if (parts.length > 2 || (families.length === 2 && families[0] === families[1])) {
        ctx.error(['clusterCIDR'], 'invalid-cluster-cidr', `expected one CIDR or two of different families, got ${quote(doc.clusterCIDR)}`);
      }
    }

    const iface = (value: string | undefined, field: 'bridgeInterface' | 'interfaceNamePrefix'): string | undefined => {
      if (value === undefined || value === '') return undefined;
      if (!isInterfaceName(value)) ctx.error(['detectLocal', field], 'invalid-interface-name', message(EXPECT.interfaceName, value));
      return value;
    };
    const bridgeInterface = iface(doc.detectLocal?.bridgeInterface, 'bridgeInterface');
    const interfaceNamePrefix = iface(doc.detectLocal?.interfaceNamePrefix, 'interfaceNamePrefix');
    const mode = doc.detectLocalMode === '' ? undefined : (doc.detectLocalMode as DetectLocalMode | undefined);
    if (mode === 'BridgeInterface' && bridgeInterface === undefined) {
      ctx.error(['detectLocal', 'bridgeInterface'], 'missing-field', 'required field is missing (detectLocalMode BridgeInterface needs the bridge interface name)');
    }
    if (mode === 'InterfaceNamePrefix' && interfaceNamePrefix === undefined) {
      ctx.error(['detectLocal', 'interfaceNamePrefix'], 'missing-field', 'required field is missing (detectLocalMode InterfaceNamePrefix needs the interface name prefix)');
    }

    let nodePortAddresses: string[] | undefined;
    if (doc.nodePortAddresses !== undefined) {
      const all = doc.nodePortAddresses;
      nodePortAddresses = all.map((a, i) => {
        if (a === 'primary') {
          if (all.length !== 1) ctx.error(['nodePortAddresses', i], 'invalid-node-port-addresses', `expected 'primary' alone or only CIDRs, got 'primary' with ${all.length - 1} other entr${all.length === 2 ? 'y' : 'ies'}`);
          return a;
        }
        const r = checkCIDR(a);
        if (!r.ok) ctx.error(['nodePortAddresses', i], r.code, message(`${r.expected} or 'primary'`, a));
        return r.ok ? r.value.text : a;
      });
    }

    const ipt = doc.iptables;
    const nft = doc.nftables;
    const nftables = {
      ...(nft?.masqueradeBit !== undefined ? { masqueradeBit: nft.masqueradeBit } : {}),
      ...(nft?.masqueradeAll !== undefined ? { masqueradeAll: nft.masqueradeAll } : {}),
    };
    return {
      ...(doc.mode === 'iptables' || doc.mode === 'nftables' ? { mode: doc.mode } : {}),
      ...(nft !== undefined ? { nftables } : {}),
      ...(hostnameOverride !== undefined ? { hostnameOverride } : {}),
      ...(clusterCIDRs !== undefined ? { clusterCIDRs } : {}),
      ...(mode !== undefined ? { detectLocalMode: mode } : {}),
      ...(bridgeInterface !== undefined ? { bridgeInterface } : {}),
      ...(interfaceNamePrefix !== undefined ? { interfaceNamePrefix } : {}),
      ...(ipt?.masqueradeBit !== undefined ? { masqueradeBit: ipt.masqueradeBit } : {}),
      ...(ipt?.masqueradeAll !== undefined ? { masqueradeAll: ipt.masqueradeAll } : {}),
      ...(ipt?.localhostNodePorts !== undefined ? { localhostNodePorts: ipt.localhostNodePorts } : {}),
      ...(nodePortAddresses !== undefined ? { nodePortAddresses } : {}),
    };
  },
};
