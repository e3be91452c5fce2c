/**
 * The nftables applier's record kept between processes (`--state`), one file per family like the
 * iptables one (../state.ts, ../state-file.ts): a header line, one JSON line (host identity, digest
 * seed, canary token, last full sync, table, stale chains, UDP frontends), then the record: `C` lines
 * (chain, digest), `S` lines (set or map, kind and digest), `E` lines (container, element key,
 * digest), tab-separated, and `#end N SHA` (N record lines, SHA-256 of everything before it).
 * Digests are keyed by the seed, which only this root-only file holds.
 */
import { createHash } from 'node:crypto';
import type { Table } from '@svcrules/nftables';
import type { UdpServiceMap } from '../conntrack.js';
import { digestText, sealedLines, seedOf, StateError, type HostIdentity } from '../state.js';
import { readSealedFile, writeFileAtomic } from '../state-file.js';
import type { Fingerprint, NftRecord } from './plan.js';

export const NFT_STATE_FORMAT = 1;
const MAGIC = `svcrules-nft-state ${NFT_STATE_FORMAT}`;

export interface NftAppliedState {
  /** `iptables` holds `nft --version` here: the nft version decides how a transaction is read. */
  readonly identity: HostIdentity;
  /** 32 hex digits: the digest key. */
  readonly seed: string;
  /** The token our canary chain held after the last transaction. */
  readonly token: string;
  readonly fullSyncAt: number;
  readonly record: NftRecord;
  readonly udp: UdpServiceMap;
}

/** A keyed 64-bit digest of a text (two multiply-xor lanes and murmur3's finalizer: state.ts `digestText`). */
export function keyedDigest(seedHex: string): Fingerprint {
  const seed = seedOf(seedHex);
  return (text) => digestText(text, seed);
}

const sha256 = (text: string): string => Buffer.from(createHash('sha256').update(text).digest()).toString('hex');

export function serializeNftState(s: NftAppliedState): string {
  const head = {
    identity: s.identity,
    seed: s.seed,
    token: s.token,
    fullSyncAt: s.fullSyncAt,
    table: s.record.table,
    stale: [...s.record.stale],
    udp: [...s.udp].map(([key, { frontend, endpoints }]) => [key, frontend.ip ?? null, frontend.port, [...endpoints]]),
  };
  const parts = [MAGIC, JSON.stringify(head)];
  for (const [name, d] of s.record.chains) parts.push(`C\t${name}\t${d}`);
  for (const [name, d] of s.record.containers) parts.push(`S\t${name}\t${d}`);
  for (const [name, m] of s.record.elements) for (const [key, d] of m) parts.push(`E\t${name}\t${key}\t${d}`);
  const body = parts.join('\n') + '\n';
  return `${body}#end ${parts.length - 2} ${sha256(body)}\n`;
}

export function parseNftState(text: string): NftAppliedState {
  const { lines, trailer } = sealedLines(text, 'svcrules-nft-state', NFT_STATE_FORMAT, 'nftables state');
  let head: { identity: HostIdentity; seed: string; token: string; fullSyncAt: number; table: Table; stale: [string, number][]; udp: [string, string | null, number, string[]][] };
  try {
    head = JSON.parse(lines[1] ?? '');
  } catch {
    throw new StateError('unreadable header');
  }
  if (typeof head.token !== 'string' || typeof head.fullSyncAt !== 'number' || typeof head.table?.name !== 'string' || !Array.isArray(head.stale) || !Array.isArray(head.udp) || typeof head.identity !== 'object' || head.identity === null) {
    throw new StateError('bad header');
  }
  keyedDigest(String(head.seed));
  const chains = new Map<string, string>();
  const containers = new Map<string, string>();
  const elements = new Map<string, Map<string, string>>();
  for (let i = 2; i < lines.length; i++) {
    const f = lines[i]!.split('\t');
    if (f[0] === 'C' && f.length === 3) chains.set(f[1]!, f[2]!);
    else if (f[0] === 'S' && f.length === 3) {
      containers.set(f[1]!, f[2]!);
      elements.set(f[1]!, new Map());
    } else if (f[0] === 'E' && f.length === 4 && elements.has(f[1]!)) elements.get(f[1]!)!.set(f[2]!, f[3]!);
    else throw new StateError(`bad record line ${i + 1}`);
  }
  if (lines.length - 2 !== Number(trailer[1])) throw new StateError('record line count mismatch');
  const udp = new Map<string, { frontend: { ip: string | undefined; port: number }; endpoints: Set<string> }>();
  for (const [key, ip, port, eps] of head.udp) udp.set(key, { frontend: { ip: ip ?? undefined, port }, endpoints: new Set(eps) });
  return {
    identity: head.identity,
    seed: head.seed,
    token: head.token,
    fullSyncAt: head.fullSyncAt,
    record: { table: head.table, chains, containers, elements, stale: new Map(head.stale) },
    udp,
  };
}

export type NftStateRead = { readonly state: NftAppliedState; readonly reason?: undefined } | { readonly state?: undefined; readonly reason: string };

/** The state in `path` if it is usable for `identity`; otherwise why not. Never throws for a bad file: the file is a cache. */
export function readNftStateFile(path: string, identity: HostIdentity): Promise<NftStateRead> {
  return readSealedFile(path, identity, parseNftState);
}

/** Writes the state atomically: a 0600 temporary file in the same directory, fsync, rename. */
export function writeNftStateFile(path: string, state: NftAppliedState): Promise<void> {
  return writeFileAtomic(path, serializeNftState(state));
}

/** `DIR/host.ipv4.nft.state`: beside the iptables states, never the same file. */
export function defaultNftStatePath(dir: string, family: 'ipv4' | 'ipv6', netns: string | undefined): string {
  return `${dir}/${netns === undefined ? 'host' : `netns-${netns}`}.${family}.nft.state`;
}
