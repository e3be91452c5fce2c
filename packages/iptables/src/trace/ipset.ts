/**
 * ipsets as `ipset save` prints them (`create NAME TYPE options`, `add NAME ENTRY options`), and the
 * membership test of `-m set --match-set NAME dir[,dir...]`: each dimension of the set's type (ip, net,
 * port, iface, mark) is compared with the packet's field the direction names. Elements the tracer
 * cannot compare (a source port it does not know, a MAC) make the answer unknown, never a guess.
 */
import { networkContains, parseNetwork, type Address, type Network } from './ip.js';
import type { IPFamily } from '@svcrules/netaddr';
import { NodeStateError } from './node.js';

type Dim = 'ip' | 'net' | 'port' | 'iface' | 'mark' | 'mac' | 'set';

type Elem =
  | { readonly kind: 'net'; readonly net: Network }
  | { readonly kind: 'range'; readonly family: IPFamily; readonly lo: bigint; readonly hi: bigint }
  | { readonly kind: 'port'; readonly proto: string; readonly lo: number; readonly hi: number }
  | { readonly kind: 'text'; readonly text: string };

export interface IpSet {
  readonly name: string;
  readonly type: string;
  readonly family: IPFamily | null;
  readonly dims: readonly Dim[];
  readonly entries: readonly { readonly parts: readonly Elem[]; readonly nomatch: boolean }[];
}

export type IpSets = ReadonlyMap<string, IpSet>;

/** What a set lookup may compare: the packet's fields (a missing sport makes port dimensions unknown). */
export interface SetPacket {
  readonly src: Address;
  readonly dst: Address;
  readonly protocol: string;
  readonly sport: number | undefined;
  readonly dport: number;
  readonly inInterface: string | null;
  readonly outInterface: string | null;
  readonly mark: number;
}

function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2]!);
  return out;
}

function parseIpElem(text: string, family: IPFamily | null): Elem | null {
  const dash = text.indexOf('-');
  if (dash > 0) {
    const lo = parseNetwork(text.slice(0, dash));
    const hi = parseNetwork(text.slice(dash + 1));
    if (!lo || !hi || lo.family !== hi.family) return null;
    return { kind: 'range', family: lo.family, lo: lo.value, hi: hi.value };
  }
  const net = parseNetwork(text);
  if (!net || (family !== null && net.family !== family)) return null;
  return { kind: 'net', net };
}

function parsePortElem(text: string): Elem | null {
  const m = /^(?:([a-z0-9]+):)?([0-9]+)(?:-([0-9]+))?$/i.exec(text);
  if (!m) return null;
  const lo = Number(m[2]);
  const hi = m[3] === undefined ? lo : Number(m[3]);
  if (lo > 65535 || hi > 65535) return null;
  return { kind: 'port', proto: (m[1] ?? 'tcp').toLowerCase(), lo, hi };
}

/** Reads `ipset save` output; `source` names the file in errors (file:line). */
export function parseIpsetSave(text: string, source: string): Map<string, IpSet> {
  const sets = new Map<string, { name: string; type: string; family: IPFamily | null; dims: Dim[]; entries: IpSet['entries'][number][] }>();
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    const at = `${source}:${n + 1}`;
    if (line === '' || line.startsWith('#')) return;
    const w = words(line);
    if (w[0] === 'create') {
      const [, name, type] = w;
      if (!name || !type) throw new NodeStateError(`${at}: "create" needs a set name and a type`);
      const dims = type.split(':')[1]?.split(',') as Dim[] | undefined;
      if (!dims || dims.some((d) => !['ip', 'net', 'port', 'iface', 'mark', 'mac', 'set'].includes(d))) throw new NodeStateError(`${at}: set ${name}: unknown type "${type}"`);
      const fi = w.indexOf('family');
      const family = fi > 0 ? (w[fi + 1] === 'inet6' ? 'IPv6' : 'IPv4') : type.startsWith('list:') || type === 'hash:mac' || type.startsWith('bitmap:port') ? null : 'IPv4';
      sets.set(name, { name, type, family, dims, entries: [] });
      return;
    }
    if (w[0] === 'add') {
      const [, name, entry, ...opts] = w;
      const set = name === undefined ? undefined : sets.get(name);
      if (!set || entry === undefined) throw new NodeStateError(`${at}: "add" to ${name === undefined ? 'no set' : `set ${name}, which no earlier "create" declared`}`);
      const texts = set.dims.length === 1 ? [entry] : entry.split(',');
      if (texts.length !== set.dims.length) throw new NodeStateError(`${at}: set ${name}: entry "${entry}" does not have the ${set.dims.length} parts of ${set.type}`);
      const parts: Elem[] = [];
      for (let k = 0; k < texts.length; k++) {
        const d = set.dims[k]!;
        const t = texts[k]!;
        const e = d === 'ip' || d === 'net' ? parseIpElem(t, set.family) : d === 'port' ? parsePortElem(t) : { kind: 'text' as const, text: t };
        if (!e) throw new NodeStateError(`${at}: set ${name}: "${t}" is not a valid ${d} of ${set.type}`);
        parts.push(e);
      }
      set.entries.push({ parts, nomatch: opts.includes('nomatch') });
      return;
    }
    throw new NodeStateError(`${at}: expected "create" or "add" (ipset save output), got "${w[0]}"`);
  });
  return sets;
}

function elemMatches(e: Elem, dim: Dim, dir: 'src' | 'dst', p: SetPacket): boolean | null {
  switch (e.kind) {
    case 'net': {
      const ip = dir === 'src' ? p.src : p.dst;
      return networkContains(e.net, ip);
    }
    case 'range': {
      const ip = dir === 'src' ? p.src : p.dst;
      return ip.family === e.family && ip.value >= e.lo && ip.value <= e.hi;
    }
    case 'port': {
      const port = dir === 'src' ? p.sport : p.dport;
      if (e.proto !== p.protocol) return false;
      if (port === undefined) return null;
      return port >= e.lo && port <= e.hi;
    }
    case 'text':
      if (dim === 'iface') {
        const name = dir === 'src' ? p.inInterface : p.outInterface;
        return name === null ? null : name === e.text;
      }
      if (dim === 'mark') {
        const v = Number(e.text);
        return Number.isFinite(v) ? (p.mark >>> 0) === (v >>> 0) : null;
      }
      return null;
  }
}

/**
 * Whether the packet is in set `set` for the directions given (`src`, `dst` per dimension; missing
 * directions repeat the last, as the kernel does). true/false, or null when a needed field is unknown.
 */
export function setContains(sets: IpSets, set: IpSet, dirs: readonly ('src' | 'dst')[], p: SetPacket, depth = 0): boolean | null {
  if (set.family !== null && set.family !== p.src.family) return false;
  if (set.type.startsWith('list:')) {
    let unknown = false;
    for (const e of set.entries) {
      const member = e.parts[0]?.kind === 'text' ? sets.get(e.parts[0].text) : undefined;
      if (!member || depth > 8) return null;
      const r = setContains(sets, member, dirs, p, depth + 1);
      if (r === true) return true;
      if (r === null) unknown = true;
    }
    return unknown ? null : false;
  }
  // hash:net keeps the most specific entry: a `nomatch` entry inside a wider one excludes its addresses.
  let best: { nomatch: boolean; specificity: bigint } | null = null;
  let unknown = false;
  for (const e of set.entries) {
    let all = true;
    for (let k = 0; k < set.dims.length && all; k++) {
      const dir = dirs[Math.min(k, dirs.length - 1)]!;
      const r = elemMatches(e.parts[k]!, set.dims[k]!, dir, p);
      if (r === null) {
        unknown = true;
        all = false;
      } else if (!r) all = false;
    }
    if (!all) continue;
    const specificity = e.parts.reduce((s, x) => s + (x.kind === 'net' ? x.net.mask : 0n), 0n);
    if (!best || specificity > best.specificity) best = { nomatch: e.nomatch, specificity };
  }
  if (best) return !best.nomatch;
  return unknown ? null : false;
}
