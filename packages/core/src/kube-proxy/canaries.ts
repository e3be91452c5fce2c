/**
 * Marker chains. kube-proxy creates KUBE-PROXY-CANARY (proxier.go `kubeProxyCanaryChain`) so that
 * it notices when someone flushes the tables; its presence tells us a live kube-proxy owns them.
 * Ours works the same way for the applier, and on a stateful applier holds a token (a comment
 * `svcrules:<hex>`) saying which write it last recorded.
 */
import type { TableName } from '@svcrules/iptables';

export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
export const SVCRULES_CANARY = 'KUBE-SVCRULES-CANARY';
/** The tables both canaries live in. */
export const CANARY_TABLES: readonly TableName[] = ['nat', 'filter'];

const TOKEN_PREFIX = 'svcrules:';
const TOKEN = /^svcrules:[0-9a-f]+$/;

/** A canary token from random hex digits. */
export const canaryToken = (hex: string): string => TOKEN_PREFIX + hex;

export const isCanaryToken = (word: string | undefined): word is string => word !== undefined && TOKEN.test(word);

/** The token in `iptables -S` output of the canary chain, if any. */
export function canaryTokenIn(text: string): string | undefined {
  return /--comment "?(svcrules:[0-9a-f]+)"?/.exec(text)?.[1];
}
