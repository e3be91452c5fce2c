/**
 * nftables in a test's network namespaces, beside the iptables loaders of cluster.ts and
 * bridge-node.ts: load a ruleset with the real `nft -f`, list it back (text or JSON). Only ever
 * inside a namespace the test created (`ip netns exec NS nft …`); never the machine's own.
 */
import { mustExec } from './cluster.js';

/** Loads `text` (anything `nft -f` reads) into namespace `ns` as one transaction; throws with nft's error. */
export function loadNft(ns: string, text: string): Promise<string> {
  return mustExec('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], text);
}

/** `nft list ruleset` in namespace `ns`: `-a` text (handles shown) or `-j` JSON. */
export function listNft(ns: string, form: 'text' | 'json' = 'text'): Promise<string> {
  return mustExec('ip', ['netns', 'exec', ns, 'nft', form === 'json' ? '-j' : '-a', 'list', 'ruleset']);
}
