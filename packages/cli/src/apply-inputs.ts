/**
 * `svcrules apply --state`: the input side of the state (@svcrules/applier state.ts `InputRecord`).
 * The file is split into its list items as raw text, each digested; an item whose digest the state
 * knows is the object the last apply compiled, and is neither parsed nor loaded again. The
 * Services whose objects changed (their own, or one of their EndpointSlices) are loaded from a
 * copy of the file holding only them, their slices and the other objects (Nodes, configuration),
 * and compiled alone in the whole snapshot's large-cluster mode (core incremental/persist.ts);
 * the Applier then plans and loads their chains only (ApplyOptions.scope).
 *
 * Anything this cannot vouch for compiles every Service, saying why: not one JSON file with a list
 * of items, options or other objects changed, a duplicate, a Service's top-level rules or the
 * large-cluster mode changed, a chain name another Service owns, the last input said anything
 * (notes, warnings, ignored objects), or the copy loads or compiles with anything to say.
 */
import type { CompileOptions, RecordedCompile, ServiceOutput, Snapshot } from '@svcrules/core';
import { compileRecorded } from '@svcrules/core';
import type { AppendCommand, Ruleset, TableName } from '@svcrules/iptables';
import { chainDecl, chainsOf } from '@svcrules/iptables';
import { digestBytes, digestTableRules, recordedDigest, seedOf, serviceRecord, serviceRecordText, type AppliedState, type ApplyScope, type InputObject, type InputRecord, type Seed, type ServiceRecord } from '@svcrules/applier';
import { loadSnapshot, type LoadResult } from '@svcrules/snapshot';
import type { InputFlags } from './compile-input.js';
import type { CliIO } from './io.js';

/** The items of a top-level JSON object's `items` array, as byte ranges, and where the array is. */
export interface ListBytes {
  readonly bytes: Uint8Array;
  /** Offsets of `[` and `]` of the items array. */
  readonly open: number;
  readonly close: number;
  /** start0, end0, start1, end1, ... */
  readonly items: readonly number[];
}

const WS = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** A cursor over JSON bytes that skips values without parsing them (strings found with indexOf). */
class Skipper {
  i = 0;
  constructor(readonly b: Uint8Array) {}
  ws(): void {
    while (WS(this.b[this.i])) this.i++;
  }
  /** b[i] is '"': past the closing quote not escaped by an odd run of backslashes. */
  str(): boolean {
    const b = this.b;
    let j = this.i + 1;
    for (;;) {
      const k = b.indexOf(0x22, j);
      if (k < 0) return false;
      let q = k - 1;
      while (b[q] === 0x5c) q--;
      if ((k - 1 - q) % 2 === 0) {
        this.i = k + 1;
        return true;
      }
      j = k + 1;
    }
  }
  /** Past one value: a string, an object or array (brackets counted outside strings), or a bare word. */
  value(): boolean {
    const b = this.b;
    const c = b[this.i];
    if (c === 0x22) return this.str();
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      while (this.i < b.length) {
        const d = b[this.i]!;
        if (d === 0x22) {
          if (!this.str()) return false;
          continue;
        }
        if (d === 0x7b || d === 0x5b) depth++;
        else if ((d === 0x7d || d === 0x5d) && --depth === 0) {
          this.i++;
          return true;
        }
        this.i++;
      }
      return false;
    }
    const from = this.i;
    while (this.i < b.length && !WS(b[this.i]) && b[this.i] !== 0x2c && b[this.i] !== 0x7d && b[this.i] !== 0x5d) this.i++;
    return this.i > from;
  }
  /** After an item: whitespace, then `,` (true) or `]` (false, left on it); undefined for anything else. */
  next(): boolean | undefined {
    this.ws();
    const c = this.b[this.i];
    if (c === 0x2c) {
      this.i++;
      this.ws();
      return true;
    }
    return c === 0x5d ? false : undefined;
  }
}

/**
 * Splits `{ ..., "items": [ITEM, ...], ... }` without parsing the items. Undefined for anything
 * else or anything odd (then the whole file is loaded). It does not validate JSON: the file was
 * loaded whole when its digests are recorded, and an item not seen before is parsed alone.
 */
export function splitList(bytes: Uint8Array): ListBytes | undefined {
  const s = new Skipper(bytes);
  s.ws();
  if (bytes[s.i] !== 0x7b) return undefined;
  s.i++;
  let open = -1;
  let close = -1;
  const items: number[] = [];
  s.ws();
  if (bytes[s.i] === 0x7d) return undefined;
  for (;;) {
    s.ws();
    if (bytes[s.i] !== 0x22) return undefined;
    const k0 = s.i;
    if (!s.str()) return undefined;
    const isItems = s.i - k0 === 7 && Buffer.from(bytes.buffer, bytes.byteOffset + k0, 7).toString('latin1') === '"items"';
    s.ws();
    if (bytes[s.i] !== 0x3a) return undefined;
    s.i++;
    s.ws();
    if (isItems) {
      if (open >= 0 || bytes[s.i] !== 0x5b) return undefined;
      open = s.i++;
      s.ws();
      let more = bytes[s.i] !== 0x5d;
      while (more) {
        const from = s.i;
        if (bytes[s.i] !== 0x7b || !s.value()) return undefined;
        items.push(from, s.i);
        const m = s.next();
        if (m === undefined) return undefined;
        more = m;
      }
      close = s.i++;
    } else if (!s.value()) return undefined;
    s.ws();
    const c = bytes[s.i++];
    if (c === 0x7d) break;
    if (c !== 0x2c) return undefined;
  }
  s.ws();
  if (s.i !== bytes.length || open < 0) return undefined;
  return { bytes, open, close, items };
}

/** The file's bytes, or undefined when it cannot be read (the whole load then reports why). */
export async function readBytes(io: CliIO, file: string): Promise<Uint8Array | undefined> {
  try {
    return io.readBytes ? await io.readBytes(file) : undefined;
  } catch {
    return undefined;
  }
}

/** UTF-8 JSON as kubectl writes it: an object first, no NUL (what decodeInput reads as plain UTF-8, no note). */
function plainJson(bytes: Uint8Array): boolean {
  let i = 0;
  while (WS(bytes[i])) i++;
  return bytes[i] === 0x7b && !bytes.includes(0);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What the input record's context digest covers besides the file around the items. */
export interface InputContext {
  readonly family: string;
  readonly options: CompileOptions;
  readonly flags: InputFlags;
}

/** svcrules' own version of what compiles: a new compiler must not trust an older one's record. */
const COMPILER = 'svcrules 0.1.0 persist 1';

function contextDigest(bytes: Uint8Array, open: number, close: number, other: readonly string[], c: InputContext, seed: Seed): string {
  const flags = { skipInvalid: c.flags.skipInvalid === true, endpointsAsMirrored: c.flags.endpointsAsMirrored === true };
  const meta = [COMPILER, c.family, JSON.stringify(c.options), JSON.stringify(flags), [...other].sort().join(','), ''].join('\n');
  return digestBytes(Buffer.concat([Buffer.from(meta), bytes.subarray(0, open + 1), bytes.subarray(close)]), seed);
}

/** Kinds besides Service and EndpointSlice a record may hold: they only make the CompileContext. */
const CONTEXT_KINDS: ReadonlySet<string> = new Set(['Node', 'KubeProxyConfiguration', 'ConfigMap']);

/** What an item says it is, read from its own text (undefined: not UTF-8, not JSON, or not an object with the fields). */
function identify(bytes: Uint8Array, start: number, end: number): { o: InputObject; text: string } | undefined {
  let text: string;
  let v: { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown; labels?: Record<string, unknown> } };
  try {
    text = utf8.decode(bytes.subarray(start, end));
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const length = end - start;
  if (typeof v !== 'object' || v === null || typeof v.kind !== 'string') return undefined;
  if (v.kind !== 'Service' && v.kind !== 'EndpointSlice') return /^[A-Za-z0-9]+$/.test(v.kind) ? { o: { length, kind: 'other', key: v.kind, service: '' }, text } : undefined;
  const ns = v.metadata?.namespace;
  const name = v.metadata?.name;
  if (typeof ns !== 'string' || typeof name !== 'string' || !/^[a-z0-9.-]+$/.test(ns) || !/^[a-z0-9.-]+$/.test(name)) return undefined;
  const key = `${ns}/${name}`;
  if (v.kind === 'Service') return { o: { length, kind: 'Service', key, service: key }, text };
  const owner = v.metadata?.labels?.['kubernetes.io/service-name'];
  if (owner !== undefined && (typeof owner !== 'string' || !/^[a-z0-9.-]*$/.test(owner))) return undefined;
  return { o: { length, kind: 'EndpointSlice', key, service: owner ? `${ns}/${owner}` : '' }, text };
}

const NO_TOP = '0000000000000000';

/** The digest of a Service's top-level rules (table and chain included: a rule moving chains differs). */
function topDigest(s: ServiceOutput | undefined, seed: Seed): string {
  if (!s || (s.filterTop.length === 0 && s.natTop.length === 0)) return NO_TOP;
  return digestTableRules([
    ['filter', s.filterTop],
    ['nat', s.natTop],
  ], seed);
}

/**
 * The record of a whole input after a full compile (every Service), or undefined when none can be
 * kept: the loader or the compiler had something to say, the file is not one plain JSON list, it
 * holds other kinds than Services, EndpointSlices, Nodes and the configuration, or the objects
 * read from the text are not exactly the loader's.
 */
export function recordInputs(bytes: Uint8Array | undefined, load: LoadResult, compiled: RecordedCompile, c: InputContext, seedHex: string): InputRecord | undefined {
  if (bytes === undefined || !plainJson(bytes)) return undefined;
  if (load.diagnostics.length > 0 || load.ignored.length > 0 || load.standIns.length > 0 || compiled.result.diagnostics.length > 0) return undefined;
  if ((load.snapshot.pods?.length ?? 0) > 0) return undefined;
  const list = splitList(bytes);
  if (!list) return undefined;
  const seed = seedOf(seedHex);
  const objects = new Map<string, InputObject>();
  const other: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < list.items.length; i += 2) {
    const id = identify(bytes, list.items[i]!, list.items[i + 1]!);
    if (!id || (id.o.kind === 'other' && !CONTEXT_KINDS.has(id.o.key))) return undefined;
    const { o } = id;
    const d = digestBytes(bytes, seed, list.items[i], list.items[i + 1]);
    if (objects.has(d) || (o.kind !== 'other' && seen.has(`${o.kind} ${o.key}`))) return undefined;
    seen.add(`${o.kind} ${o.key}`);
    objects.set(d, o);
    if (o.kind === 'other') other.push(d);
  }
  // The keys read from the text must be the loader's.
  const services = new Set(load.snapshot.services.map((s) => `${s.namespace}/${s.name}`));
  const slices = new Map(load.snapshot.endpointSlices.map((s) => [`${s.namespace}/${s.name}`, s.serviceName ? `${s.namespace}/${s.serviceName}` : '']));
  let nServices = 0;
  let nSlices = 0;
  for (const o of objects.values()) {
    if (o.kind === 'Service' && (++nServices, !services.has(o.key))) return undefined;
    if (o.kind === 'EndpointSlice' && (++nSlices, slices.get(o.key) !== o.service)) return undefined;
  }
  if (nServices !== services.size || nSlices !== slices.size) return undefined;
  const records = new Map<string, string>();
  for (const [k, s] of compiled.services) records.set(k, serviceRecordText({ endpoints: s.endpoints, top: topDigest(s, seed), chains: s.natChains }));
  const { endpoints, largeClusterMode } = compiled.result.stats;
  return { context: contextDigest(bytes, list.open, list.close, other, c, seed), objects, services: records, endpoints, largeClusterMode, open: list.open };
}

/** A partial sync of the changed Services only: what to give the Applier, and the record to save after it. */
export interface ScopedChange {
  readonly desired: Ruleset;
  readonly scope: ApplyScope;
  readonly inputs: InputRecord;
  /** Services compiled (changed, added or removed). */
  readonly compiled: number;
}

interface Item {
  readonly start: number;
  readonly end: number;
  readonly digest: string;
  readonly o: InputObject;
  /** Decoded, for an object not in the record. */
  readonly text?: string;
}

/**
 * The items of `bytes` against the record: each known object found by trying the length of the
 * next recorded one (its digest must match: the same bytes as an item that loaded before, so a
 * whole JSON value), anything else skipped as a value and parsed alone. Why not, when it cannot.
 */
function walkItems(bytes: Uint8Array, rec: InputRecord, seed: Seed): { items: Item[]; close: number } | string {
  if (bytes[rec.open] !== 0x5b) return 'the file around the objects changed';
  const order = [...rec.objects];
  const s = new Skipper(bytes);
  s.i = rec.open + 1;
  s.ws();
  const items: Item[] = [];
  let j = 0;
  let more = bytes[s.i] !== 0x5d;
  while (more) {
    const start = s.i;
    let hit: Item | undefined;
    // The next recorded object, or the one after it (one was removed).
    for (let t = j; t < j + 2 && t < order.length && !hit; t++) {
      const [d, o] = order[t]!;
      const end = start + o.length;
      if (end <= bytes.length && bytes[end - 1] === 0x7d && digestBytes(bytes, seed, start, end) === d) {
        hit = { start, end, digest: d, o };
        j = t + 1;
      }
    }
    if (!hit) {
      if (bytes[start] !== 0x7b || !s.value()) return 'the objects are not a JSON list';
      const d = digestBytes(bytes, seed, start, s.i);
      const known = rec.objects.get(d);
      if (known) hit = { start, end: s.i, digest: d, o: known };
      else {
        const id = identify(bytes, start, s.i);
        if (!id) return 'a new object is not one svcrules reads per Service';
        hit = { start, end: s.i, digest: d, o: id.o, text: id.text };
      }
    }
    s.i = hit.end;
    items.push(hit);
    const m = s.next();
    if (m === undefined) return 'the objects are not a JSON list';
    more = m;
  }
  return { items, close: s.i };
}

/**
 * The changed Services of the input against the state's record, compiled alone; or why every
 * Service must be compiled. Never throws for the input: any problem is a reason (the whole load
 * that follows reports it).
 */
export function scopedChange(bytes: Uint8Array | undefined, saved: AppliedState | undefined, c: InputContext, file: string): ScopedChange | { readonly reason: string } {
  const rec = saved?.inputs;
  if (!saved || !rec) return { reason: saved ? 'the state holds no record of the input (the last input was not one plain JSON list of Services, EndpointSlices, Nodes and configuration, or had notes or warnings)' : 'no usable state' };
  if (bytes === undefined || !plainJson(bytes)) return { reason: 'the input is not one plain JSON file' };
  const seed = seedOf(saved.seed);
  const walked = walkItems(bytes, rec, seed);
  if (typeof walked === 'string') return { reason: walked };
  const { items, close } = walked;

  const present = new Set<string>();
  const other: string[] = [];
  const changed = new Set<string>();
  const keys = new Set<string>();
  for (const it of items) {
    if (present.has(it.digest)) return { reason: 'an object appears twice' };
    present.add(it.digest);
    if (it.o.kind === 'other') {
      if (it.text !== undefined) return { reason: `a ${it.o.key} changed` };
      other.push(it.digest);
      continue;
    }
    const k = `${it.o.kind} ${it.o.key}`;
    if (keys.has(k)) return { reason: `two ${it.o.kind}s ${it.o.key}` };
    keys.add(k);
    if (it.text !== undefined && it.o.service) changed.add(it.o.service);
  }
  for (const [d, o] of rec.objects) {
    if (present.has(d)) continue;
    if (o.kind === 'other') return { reason: `a ${o.key} changed or went` };
    if (o.service) changed.add(o.service);
  }
  if (contextDigest(bytes, rec.open, close, other, c, seed) !== rec.context) return { reason: 'the options, the configuration, the Nodes or the file around the objects changed' };
  if (!items.some((it) => it.o.kind === 'Service')) return { reason: 'the input holds no Service' };

  // A copy of the file with the changed Services, all their slices, and every other object.
  const parts: string[] = [];
  for (const it of items) if (it.o.kind === 'other' || changed.has(it.o.service)) parts.push(it.text ?? utf8.decode(bytes.subarray(it.start, it.end)));
  const copy = `${utf8.decode(bytes.subarray(0, rec.open + 1))}${parts.join(',')}${utf8.decode(bytes.subarray(close))}`;
  const load = loadSnapshot([{ name: file, text: copy }], { skipInvalid: c.flags.skipInvalid === true, endpointsAsMirrored: c.flags.endpointsAsMirrored === true });
  if (load.diagnostics.length > 0 || load.ignored.length > 0 || load.standIns.length > 0) return { reason: 'a changed object has something to say (loading the whole input)' };
  const loaded: Snapshot = load.snapshot;
  if (loaded.services.some((s) => !changed.has(`${s.namespace}/${s.name}`)) || loaded.endpointSlices.some((s) => !changed.has(`${s.namespace}/${s.serviceName}`))) {
    return { reason: 'the objects read differ from the text' };
  }

  // Compiled alone, in the large-cluster mode of the whole snapshot.
  const old = new Map<string, ServiceRecord>();
  let base = rec.endpoints;
  try {
    for (const k of changed) {
      const t = rec.services.get(k);
      if (t === undefined) continue;
      const r = serviceRecord(t);
      old.set(k, r);
      base -= r.endpoints;
    }
  } catch {
    return { reason: "the state's record of a Service is damaged" };
  }
  const compiled = compileRecorded(loaded, c.options, (endpoints, ctx) => base + endpoints > ctx.largeClusterEndpointsThreshold);
  if (compiled.result.diagnostics.length > 0) return { reason: 'a changed Service has something to say (compiling every Service)' };
  if (compiled.result.stats.largeClusterMode !== rec.largeClusterMode) return { reason: 'large-cluster mode changes' };
  const records = new Map(rec.services);
  const oldChains = new Set<string>();
  for (const r of old.values()) for (const ch of r.chains) oldChains.add(ch);
  const frontends: AppendCommand[] = [];
  for (const k of changed) {
    const now = compiled.services.get(k);
    const top = topDigest(now, seed);
    if (top !== (old.get(k)?.top ?? NO_TOP)) return { reason: `the top-level rules of ${k} change` };
    for (const ch of now?.natChains ?? []) if (!oldChains.has(ch) && recordedDigest(saved.chains, 'nat', ch) !== undefined) return { reason: `${ch} of ${k} belongs to another Service` };
    if (now) {
      records.set(k, serviceRecordText({ endpoints: now.endpoints, top, chains: now.natChains }));
      for (const r of now.natTop) frontends.push(r);
    } else records.delete(k);
  }

  // The changed Services' nat chains, declared and filled.
  const nat = chainsOf(compiled.result.ruleset).get('nat')!;
  const decls = [];
  const commands = [];
  for (const now of compiled.services.values()) {
    for (const ch of now.natChains) {
      decls.push(chainDecl(ch));
      for (const r of nat.get(ch) ?? []) commands.push(r);
    }
  }
  // The objects in file order (what the next walk tries first).
  const objects = new Map<string, InputObject>(items.map((it) => [it.digest, it.o]));
  return {
    desired: { tables: decls.length > 0 ? [{ name: 'nat', chains: decls, commands }] : [] },
    scope: { recorded: new Map<TableName, readonly string[]>([['nat', [...oldChains]]]), frontends },
    inputs: { ...rec, objects, services: records, endpoints: base + compiled.result.stats.endpoints },
    compiled: changed.size,
  };
}
