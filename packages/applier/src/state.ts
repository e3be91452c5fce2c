/**
 * What an Applier applied, kept between processes: the record a partial sync diffs against, as a
 * state file per IP family (`svcrules apply --state FILE`).
 *
 * The record is not the rules themselves (40 MB at 10k Services, too slow to read back) but, per
 * chain, a 64-bit digest of its rules; a partial sync digests each desired chain and rewrites the
 * chains whose digest differs. The digest is keyed with a random seed kept in the state, so chain
 * contents cannot be crafted to collide without reading the root-only file. Also kept: the UDP
 * frontends and their endpoints (for the stale conntrack cleanup), the time of the last full sync
 * (the periodic one survives restarts) and the token written into our canary chain of each table.
 *
 * The token is what makes a partial sync from a file safe: every payload of a stateful Applier
 * rewrites the canary of the tables it touches with a fresh token, and the state records it. A host
 * whose canary holds another token (another writer, a failed restore, a state from elsewhere) or
 * none (flushed) gets a full sync.
 *
 * Optionally (`inputs`) the input the chains were compiled from: per input object a digest, and per
 * Service what it compiled to, so the next run compiles and plans only the Services whose objects
 * changed (packages/cli/src/apply-inputs.ts; core's incremental/persist.ts).
 *
 * References between chains are not kept: a stale chain is only ever referenced, in a record, by
 * chains of the previous desired ruleset, and a complete desired ruleset that still jumped to it
 * would declare it (see `plan`'s `referencedBy`, which a record may leave out).
 */
import { createHash } from 'node:crypto';
import type { AppendCommand, PlanCurrent, TableName } from '@svcrules/iptables';
import { isTableName, TemplateRule } from '@svcrules/iptables';
import type { UdpServiceMap } from './conntrack.js';
import type { Family } from './netfilter.js';
import { ChainSectionError, chainSection, recordedDigest, SealedChains } from './sealed-chains.js';

export const STATE_FORMAT = 2;
const MAGIC = `svcrules-state ${STATE_FORMAT}`;

/** Where the state was made: a state from another machine, boot, namespace or iptables is foreign. */
export interface HostIdentity {
  readonly family: Family;
  /** /etc/machine-id (or the host name when there is none). */
  readonly machine: string;
  /** /proc/sys/kernel/random/boot_id: the tables do not survive a reboot. */
  readonly boot: string;
  /** The network namespace: `host` or `netns NAME`, with its inode (a recreated namespace differs). */
  readonly netns: string;
  /** `iptables --version` (the backend and version decide how rules are printed and loaded). */
  readonly iptables: string;
}

export interface AppliedState {
  readonly identity: HostIdentity;
  /** 32 hex digits: the digest key. */
  readonly seed: string;
  /** Our canary's token per table, as last written (a table absent: the state cannot vouch for it). */
  readonly tokens: Readonly<Partial<Record<TableName, string>>>;
  /** Epoch milliseconds of the last full sync. */
  readonly fullSyncAt: number;
  /** table -> chain -> digest of its rules. */
  readonly chains: ReadonlyMap<TableName, ReadonlyMap<string, string>>;
  readonly udp: UdpServiceMap;
  /** What the chains were compiled from (absent: the next run compiles everything). */
  readonly inputs?: InputRecord | undefined;
}

/**
 * The input of the last apply, by digest: enough to tell which Services changed without building
 * the rest, and what each Service compiled to. Digests are `digestBytes` with the state's seed.
 */
export interface InputRecord {
  /** Everything an input change outside Services and EndpointSlices could affect (options, other objects, the file around the objects). */
  readonly context: string;
  /** Object digest -> the object: a Service, an EndpointSlice (its Service's key; '' for none) or anything else (`other`). */
  readonly objects: ReadonlyMap<string, InputObject>;
  /** Per Service key: what it compiled to (raw `ENDPOINTS TOP CHAIN,...`, read with `serviceRecord` when needed). */
  readonly services: ReadonlyMap<string, string>;
  /** Endpoints over all Services (large-cluster mode's count) and the mode the rules were rendered in. */
  readonly endpoints: number;
  readonly largeClusterMode: boolean;
  /** Byte offset of the items array's `[` (the file around the objects is part of `context`). */
  readonly open: number;
}

export interface InputObject {
  /** Bytes of its text. */
  readonly length: number;
  readonly kind: 'Service' | 'EndpointSlice' | 'other';
  /** `namespace/name` (an `other` object: its kind). */
  readonly key: string;
  /** The Service key an EndpointSlice belongs to ('' for none); a Service's own key. */
  readonly service: string;
}

/** What one Service compiled to, as recorded: its endpoints, the digest of its top-level rules, its nat chains. */
export interface ServiceRecord {
  readonly endpoints: number;
  readonly top: string;
  readonly chains: readonly string[];
}

export function serviceRecordText(r: ServiceRecord): string {
  return `${r.endpoints} ${r.top} ${r.chains.join(',')}`;
}

export function serviceRecord(text: string): ServiceRecord {
  const m = /^(\d+) ([0-9a-f]{16}) (\S*)$/.exec(text);
  if (!m) throw new StateError('bad service record');
  return { endpoints: Number(m[1]), top: m[2]!, chains: m[3] === '' ? [] : m[3]!.split(',') };
}

/** Why a state is not usable: the caller falls back to a full sync and says this. */
export class StateError extends Error {}

/**
 * The digest of a chain's rules: two 32-bit multiply-xor lanes over every character, keyed by the
 * seed, words and rules delimited. 64 bits over ~10^5 chains per host: collisions by chance are
 * negligible, and by design need the key. A templated rule is digested from its template and
 * values, as the same characters its words would hold, without building the words.
 */
export function digestRules(rules: readonly AppendCommand[], seed: Seed): string {
  la = seed.a;
  lb = seed.b;
  for (let r = 0; r < rules.length; r++) mixRule(rules[r]!);
  return hex8(fmix(la ^ Math.imul(rules.length, 0x9e3779b1))) + hex8(fmix(lb ^ la));
}

/** The same keyed digest over one text (what `digestRules` mixes per word, without word boundaries). */
export function digestText(text: string, seed: Seed): string {
  la = seed.a;
  lb = seed.b;
  mixText(text);
  return hex8(fmix(la ^ Math.imul(text.length, 0x9e3779b1))) + hex8(fmix(lb ^ la));
}

/**
 * `digestRules` over rules of several tables, each rule's words led by its table and chain (so a
 * rule moving tables or chains differs): what `digestRules` gives for `[table, chain, ...args]`.
 */
export function digestTableRules(groups: readonly (readonly [table: string, rules: readonly AppendCommand[]])[], seed: Seed): string {
  la = seed.a;
  lb = seed.b;
  let n = 0;
  for (const [table, rules] of groups) {
    for (const rule of rules) {
      mixText(table);
      mixCode(0x10001);
      mixText(rule.chain);
      mixCode(0x10001);
      mixRule(rule);
      n++;
    }
  }
  return hex8(fmix(la ^ Math.imul(n, 0x9e3779b1))) + hex8(fmix(lb ^ la));
}

/** One rule into the lanes: each word then a word boundary, then the rule's end. */
function mixRule(rule: AppendCommand): void {
  if (rule instanceof TemplateRule) {
    const words = rule.template.words;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      if (typeof w === 'string') mixText(w);
      else if (typeof w === 'number') mixText(rule.value(w));
      else for (const p of w) mixText(typeof p === 'string' ? p : rule.value(p));
      mixCode(0x10001);
    }
  } else {
    const args = rule.args;
    for (let i = 0; i < args.length; i++) {
      mixText(args[i]!);
      // A word boundary, distinct from every character (codes are < 0x10000).
      mixCode(0x10001);
    }
  }
  mixCode(0x10002);
}

/** The two lanes of the digest being computed (module state: one digest at a time, no allocation). */
let la = 0;
let lb = 0;
function mixText(w: string): void {
  let a = la;
  let b = lb;
  for (let j = 0; j < w.length; j++) {
    const c = w.charCodeAt(j);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 13;
  }
  la = a;
  lb = b;
}
function mixCode(c: number): void {
  la = Math.imul(la ^ c, 0x01000193);
  lb = Math.imul(lb ^ c, 0x5bd1e995);
  lb ^= lb >>> 13;
}

/**
 * The digest of `bytes[start, end)` (an input object's raw text): the two lanes over little-endian
 * 32-bit words from `start` (the last 0-3 bytes one by one), keyed by the seed; the same bytes give
 * the same digest wherever they are. A 50 MB input costs ~60 ms this way, ~150 ms byte by byte.
 */
export function digestBytes(bytes: Uint8Array, seed: Seed, start = 0, end = bytes.length): string {
  if (view.buffer !== bytes.buffer || view.byteOffset !== bytes.byteOffset || view.byteLength !== bytes.length) view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const dv = view;
  let a = seed.a ^ 0x5f3759df;
  let b = seed.b;
  const last = start + ((end - start) & ~3);
  let i = start;
  for (; i < last; i += 4) {
    const w = dv.getInt32(i, true);
    a = Math.imul(a ^ w, 0x01000193);
    b = Math.imul(b ^ w, 0x5bd1e995);
    b ^= b >>> 13;
  }
  for (; i < end; i++) {
    a = Math.imul(a ^ (bytes[i]! | 0x100), 0x01000193);
    b = Math.imul(b ^ (bytes[i]! | 0x100), 0x5bd1e995);
    b ^= b >>> 13;
  }
  return hex8(fmix(a ^ Math.imul(end - start, 0x9e3779b1))) + hex8(fmix(b ^ a));
}
/** The view over the last input digested (one input, 20k objects: one view). */
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/** murmur3's finalizer: every input bit reaches every output bit. */
function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export interface Seed {
  readonly a: number;
  readonly b: number;
}

export function seedOf(hex: string): Seed {
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new StateError('bad seed');
  return { a: parseInt(hex.slice(0, 8), 16) | 0, b: parseInt(hex.slice(8, 16), 16) ^ parseInt(hex.slice(16, 24), 16) ^ parseInt(hex.slice(24), 16) };
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
/** 8 hex digits (a table instead of toString(16) + padStart: 250k calls per state). */
const hex8 = (n: number) => HEX2[(n >>> 24) & 255]! + HEX2[(n >>> 16) & 255]! + HEX2[(n >>> 8) & 255]! + HEX2[n & 255]!;

/**
 * Digests of chains, memoized by the rules array: the desired chains digested while planning are
 * the ones the next state records.
 */
export class Digests {
  readonly seed: Seed;
  private readonly memo = new WeakMap<readonly AppendCommand[], string>();
  constructor(readonly seedHex: string) {
    this.seed = seedOf(seedHex);
  }
  of(rules: readonly AppendCommand[]): string {
    let d = this.memo.get(rules);
    if (d === undefined) this.memo.set(rules, (d = digestRules(rules, this.seed)));
    return d;
  }
  /** The digests of grouped chains (`chainsOf`). */
  all(chains: ReadonlyMap<TableName, ReadonlyMap<string, readonly AppendCommand[]>>): Map<TableName, Map<string, string>> {
    const out = new Map<TableName, Map<string, string>>();
    for (const [t, m] of chains) {
      const d = new Map<string, string>();
      for (const [c, rules] of m) d.set(c, this.of(rules));
      out.set(t, d);
    }
    return out;
  }
}

/** The planner's "current" from a state: chains exist as recorded; content compared by digest. */
export function currentFromState(state: AppliedState, digests: Digests): PlanCurrent {
  return {
    tables: () => state.chains.keys(),
    chains: (t) => state.chains.get(t)?.keys() ?? [],
    matches: (t, chain, rules) => {
      const have = recordedDigest(state.chains, t, chain);
      return have !== undefined && have === digests.of(rules);
    },
  };
}

/**
 * The state file: a header line, one JSON line (identity, seed, tokens, time, UDP map), then per
 * table `*name` and one `CHAIN DIGEST` line per chain, then `#end N SHA` (N chain lines, SHA-256 of
 * everything before it, so a truncated or damaged file is refused).
 */
export function serializeState(state: AppliedState): string {
  const head = {
    identity: state.identity,
    seed: state.seed,
    tokens: state.tokens,
    fullSyncAt: state.fullSyncAt,
    udp: [...state.udp].map(([key, { frontend, endpoints }]) => [key, frontend.ip ?? null, frontend.port, [...endpoints]]),
  };
  const section = chainSection(state.chains);
  const n = state.chains instanceof SealedChains ? state.chains.lines : [...state.chains.values()].reduce((k, m) => k + m.size, 0);
  const parts: string[] = [MAGIC, JSON.stringify(head), section.slice(0, -1)];
  if (section === '') parts.pop();
  const inputs = state.inputs;
  if (inputs) {
    parts.push(`@inputs ${inputs.context} ${inputs.endpoints} ${inputs.largeClusterMode ? 1 : 0} ${inputs.open}`);
    for (const [d, o] of inputs.objects) parts.push(`@o ${d} ${o.length} ${o.kind} ${o.key} ${o.service}`);
    for (const [k, r] of inputs.services) parts.push(`@s ${k} ${r}`);
  }
  const body = parts.join('\n') + '\n';
  return `${body}#end ${n} ${sha256(body)}\n`;
}

/**
 * The lines of a state file after its checks: the `KIND FORMAT` first line, and the `#end N SHA256`
 * trailer over everything before it (a truncated or edited file is refused, never half read).
 * Shared by the iptables and the nftables state files.
 */
export function sealedLines(text: string, kind: string, format: number, what: string): { lines: string[]; trailer: RegExpExecArray } {
  const { body, trailer } = sealedBody(text, kind, format, what);
  const lines = body.split('\n');
  lines.pop();
  return { lines, trailer };
}

/** `sealedLines` without splitting: the checked text before the trailer. */
export function sealedBody(text: string, kind: string, format: number, what: string): { body: string; trailer: RegExpExecArray } {
  if (!text.startsWith(`${kind} ${format}\n`)) {
    const m = new RegExp(`^${kind} (\\d+)\\n`).exec(text);
    throw new StateError(m ? `format ${m[1]}, this svcrules writes format ${format}` : `not a svcrules ${what} file`);
  }
  const end = text.lastIndexOf('#end ', text.length - 2);
  const trailer = end >= 0 && text.endsWith('\n') ? /^#end (\d+) ([0-9a-f]{64})\n$/.exec(text.slice(end)) : null;
  if (!trailer) throw new StateError('truncated (no end line)');
  const body = text.slice(0, end);
  if (sha256(body) !== trailer[2]) throw new StateError('checksum mismatch');
  return { body, trailer };
}

/** Parses a state file; throws StateError saying what is wrong. */
export function parseState(text: string): AppliedState {
  const { body, trailer } = sealedBody(text, 'svcrules-state', STATE_FORMAT, 'state');
  const l1 = body.indexOf('\n');
  const l2 = body.indexOf('\n', l1 + 1);
  let head: {
    identity: HostIdentity;
    seed: string;
    tokens: Record<string, string>;
    fullSyncAt: number;
    udp: [string, string | null, number, string[]][];
  };
  try {
    head = JSON.parse(body.slice(l1 + 1, l2 < 0 ? body.length : l2));
  } catch {
    throw new StateError('unreadable header');
  }
  const tokens: Partial<Record<TableName, string>> = {};
  for (const [t, tok] of Object.entries(head.tokens ?? {})) {
    if (!isTableName(t) || typeof tok !== 'string') throw new StateError('bad tokens');
    tokens[t] = tok;
  }
  seedOf(String(head.seed));
  if (typeof head.fullSyncAt !== 'number' || !Array.isArray(head.udp) || typeof head.identity !== 'object' || head.identity === null) throw new StateError('bad header');
  // The chain lines up to the first `@` line (the input record), read lazily (sealed-chains.ts).
  const from = l2 + 1;
  const at = body.startsWith('@', from) ? from - 1 : body.indexOf('\n@', from);
  let chains: SealedChains;
  try {
    chains = new SealedChains(body.slice(from, at < 0 ? body.length : at + 1));
  } catch (e) {
    if (e instanceof ChainSectionError) throw new StateError(e.message);
    throw e;
  }
  if (chains.lines !== Number(trailer[1])) throw new StateError('chain count mismatch');
  const inputs = at >= 0 ? parseInputs(body.slice(at + 1)) : undefined;
  const udp = new Map<string, { frontend: { ip: string | undefined; port: number }; endpoints: Set<string> }>();
  for (const [key, ip, port, eps] of head.udp) udp.set(key, { frontend: { ip: ip ?? undefined, port }, endpoints: new Set(eps) });
  return { identity: head.identity, seed: head.seed, tokens, fullSyncAt: head.fullSyncAt, chains, udp, inputs };
}

const KINDS: ReadonlySet<string> = new Set(['Service', 'EndpointSlice', 'other']);

/** The `@` lines: `@inputs`, then `@o` per object and `@s` per Service (read with indexOf: 30k lines). */
function parseInputs(text: string): InputRecord {
  let nl = text.indexOf('\n');
  const head = /^@inputs ([0-9a-f]{16}) (\d+) ([01]) (\d+)$/.exec(text.slice(0, nl));
  if (!head) throw new StateError('bad inputs line');
  const objects = new Map<string, InputObject>();
  const services = new Map<string, string>();
  for (let i = nl + 1; i < text.length; i = nl + 1) {
    nl = text.indexOf('\n', i);
    if (nl < 0) throw new StateError('bad inputs line');
    if (text.startsWith('@o ', i)) {
      // @o DIGEST LENGTH KIND KEY SERVICE
      const d = text.slice(i + 3, i + 19);
      const s1 = text.indexOf(' ', i + 20);
      const s2 = text.indexOf(' ', s1 + 1);
      const s3 = text.indexOf(' ', s2 + 1);
      const length = Number(text.slice(i + 20, s1));
      const kind = text.slice(s1 + 1, s2);
      if (text.charCodeAt(i + 19) !== 0x20 || s1 < 0 || s3 < 0 || s3 > nl || !(length > 0) || !KINDS.has(kind) || objects.has(d)) throw new StateError('bad inputs line');
      objects.set(d, { length, kind: kind as InputObject['kind'], key: text.slice(s2 + 1, s3), service: text.slice(s3 + 1, nl) });
    } else if (text.startsWith('@s ', i)) {
      const sp = text.indexOf(' ', i + 3);
      if (sp < 0 || sp > nl) throw new StateError('bad inputs line');
      services.set(text.slice(i + 3, sp), text.slice(sp + 1, nl));
    } else throw new StateError('bad inputs line');
  }
  return { context: head[1]!, endpoints: Number(head[2]), largeClusterMode: head[3] === '1', open: Number(head[4]), objects, services };
}

const sha256 = (text: string): string => Buffer.from(createHash('sha256').update(text).digest()).toString('hex');

/** The first difference between two identities, in words, or undefined when they are the same host. */
export function identityMismatch(saved: HostIdentity, now: HostIdentity): string | undefined {
  if (saved.family !== now.family) return `it is for ${saved.family}, not ${now.family}`;
  if (saved.machine !== now.machine) return `it is from another machine (${saved.machine})`;
  if (saved.boot !== now.boot) return 'it is from before a reboot';
  if (saved.netns !== now.netns) return `it is for another network namespace (${saved.netns}; this is ${now.netns})`;
  if (saved.iptables !== now.iptables) return `it was written with another iptables (${saved.iptables})`;
  return undefined;
}
