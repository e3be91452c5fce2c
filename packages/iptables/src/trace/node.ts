/**
 * The node's own state, as iproute2 prints it in JSON (`ip -j address show`, `ip -j route show table
 * all`, and the same with `-6`): its addresses, its bridges' ports, its routes. The tracer uses it to
 * know what the kernel knows and a rule may test: which addresses are local, which interface a packet
 * arrives on (the reverse path, as rp_filter sees it) and leaves by (the route lookup after DNAT), and
 * which interfaces are bridge ports. Only the fields needed are read; everything else is tolerated.
 */
import { networkContains, parseAddress, parseNetwork, type Address, type Network } from './ip.js';
import type { IPFamily } from '@svcrules/netaddr';
import type { IpSets } from './ipset.js';

export interface NodeInterface {
  readonly name: string;
  /** The bridge (or bond) this interface is a port of (`master`), else null. */
  readonly master: string | null;
  readonly addresses: readonly { readonly address: Address; readonly prefixlen: number }[];
}

export interface NodeRoute {
  /** `local`, `main`, `default` or another table's name or number. */
  readonly table: string;
  /** `unicast`, `local`, `broadcast`, `multicast`, `blackhole`, `unreachable`, `prohibit`, `throw`, `anycast`, ... */
  readonly type: string;
  readonly dst: Network;
  readonly dev: string | null;
  readonly gateway: string | null;
  readonly metric: number;
}

export interface NodeState {
  readonly interfaces: readonly NodeInterface[];
  readonly routes: readonly NodeRoute[];
  /** `ipset save` content; absent when unknown (set matches then branch). */
  readonly ipsets?: IpSets;
  /** Sysctls by their dotted name (net.bridge.bridge-nf-call-iptables, ...), as strings. */
  readonly sysctls?: Readonly<Record<string, string>>;
}

/** A node-state input that cannot be read: `where` is `file`, a JSON path inside it, and what is wrong. */
export class NodeStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NodeStateError';
  }
}

type Json = unknown;

function isObject(x: Json): x is Record<string, Json> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function str(o: Record<string, Json>, key: string, where: string, required: boolean): string | null {
  const v = o[key];
  if (v === undefined || v === null) {
    if (required) throw new NodeStateError(`${where}: field "${key}" is missing`);
    return null;
  }
  if (typeof v !== 'string') throw new NodeStateError(`${where}.${key}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}

/** The entries of one or more `ip -j` arrays (files may hold several, e.g. the -4 and -6 output concatenated). */
function arrays(docs: readonly Json[], source: string): { entries: Record<string, Json>[]; where: string }[] {
  return docs.map((doc, d) => {
    const base = docs.length > 1 ? `${source}: array ${d + 1}` : source;
    if (!Array.isArray(doc)) throw new NodeStateError(`${base}: expected the JSON array that ip -j prints, got ${doc === null ? 'null' : typeof doc}`);
    doc.forEach((e, i) => {
      if (!isObject(e)) throw new NodeStateError(`${base}[${i}]: expected an object`);
    });
    return { entries: doc as Record<string, Json>[], where: base };
  });
}

/** Reads `ip -j address show` output (one or more arrays). */
export function parseIpAddress(docs: readonly Json[], source: string): NodeInterface[] {
  const out: NodeInterface[] = [];
  for (const { entries, where } of arrays(docs, source)) {
    entries.forEach((e, i) => {
      const at = `${where}[${i}]`;
      const name = str(e, 'ifname', at, true)!;
      const master = str(e, 'master', at, false);
      const infos = e.addr_info ?? [];
      if (!Array.isArray(infos)) throw new NodeStateError(`${at}.addr_info: expected an array`);
      const addresses: NodeInterface['addresses'][number][] = [];
      infos.forEach((a, j) => {
        const aw = `${at}.addr_info[${j}]`;
        if (!isObject(a)) throw new NodeStateError(`${aw}: expected an object`);
        const local = str(a, 'local', aw, false);
        if (local === null) return; // e.g. a link-layer entry
        const address = parseAddress(local);
        if (!address) throw new NodeStateError(`${aw}.local: "${local}" is not an IP address`);
        const len = a.prefixlen;
        const prefixlen = typeof len === 'number' ? len : address.family === 'IPv4' ? 32 : 128;
        addresses.push({ address, prefixlen });
      });
      const prev = out.findIndex((x) => x.name === name);
      // `ip -4 -j address` and `ip -6 -j address` concatenated list an interface twice.
      if (prev >= 0) out[prev] = { ...out[prev]!, master: out[prev]!.master ?? master, addresses: [...out[prev]!.addresses, ...addresses] };
      else out.push({ name, master, addresses });
    });
  }
  return out;
}

function routeFamily(e: Record<string, Json>): IPFamily | null {
  for (const key of ['dst', 'gateway', 'prefsrc', 'src']) {
    const v = e[key];
    if (typeof v !== 'string' || v === 'default') continue;
    const n = parseNetwork(v);
    if (n) return n.family;
  }
  const via = e.via;
  if (isObject(via) && typeof via.family === 'string') return via.family === 'inet6' ? 'IPv6' : via.family === 'inet' ? 'IPv4' : null;
  return null;
}

/** Reads `ip -j route show table all` output (one or more arrays; an array's family is that of its routes). */
export function parseIpRoute(docs: readonly Json[], source: string): NodeRoute[] {
  const out: NodeRoute[] = [];
  for (const { entries, where } of arrays(docs, source)) {
    // `default dev eth0` names no address: it has the family of the array it came in (ip -4 or -6).
    const known = entries.map(routeFamily).find((f) => f !== null) ?? 'IPv4';
    entries.forEach((e, i) => {
      const at = `${where}[${i}]`;
      const dstText = str(e, 'dst', at, true)!;
      const family = routeFamily(e) ?? known;
      const dst = dstText === 'default' ? parseNetwork(family === 'IPv4' ? '0.0.0.0/0' : '::/0') : parseNetwork(dstText);
      if (!dst) throw new NodeStateError(`${at}.dst: "${dstText}" is not an address, a network or "default"`);
      const metric = e.metric;
      const table = e.table;
      out.push({
        table: typeof table === 'string' ? table : typeof table === 'number' ? String(table) : 'main',
        type: str(e, 'type', at, false) ?? 'unicast',
        dst,
        dev: str(e, 'dev', at, false),
        gateway: str(e, 'gateway', at, false),
        metric: typeof metric === 'number' ? metric : 0,
      });
    });
  }
  return out;
}

function prefixLength(n: Network): number {
  let len = 0;
  for (let m = n.mask; m > 0n; m >>= 1n) if (m & 1n) len++;
  return len;
}

/** Longest-prefix match in one table, lowest metric on a tie (as the FIB picks). */
function lookupTable(routes: readonly NodeRoute[], table: string, ip: Address): NodeRoute | null {
  let best: NodeRoute | null = null;
  let bestLen = -1;
  for (const r of routes) {
    if (r.table !== table || !networkContains(r.dst, ip)) continue;
    const len = prefixLength(r.dst);
    if (len > bestLen || (len === bestLen && best !== null && r.metric < best.metric)) {
      best = r;
      bestLen = len;
    }
  }
  return best;
}

/** The route the kernel picks for `ip` with the default rules (local, then main, then default); null when none. */
export function lookupRoute(node: NodeState, ip: Address): NodeRoute | null {
  for (const table of ['local', 'main', 'default']) {
    const r = lookupTable(node.routes, table, ip);
    if (r && r.type !== 'throw') return r;
  }
  return null;
}

/** Addresses the node owns: `local` routes of the local table and every interface address. */
export function nodeLocalAddresses(node: NodeState): Address[] {
  const out: Address[] = [];
  for (const r of node.routes) if (r.table === 'local' && r.type === 'local' && prefixLength(r.dst) === (r.dst.family === 'IPv4' ? 32 : 128)) out.push(r.dst);
  for (const i of node.interfaces) for (const a of i.addresses) out.push(a.address);
  return out;
}

/** Whether `ip` is local to the node by a `local` route of a whole network (e.g. 127.0.0.0/8). */
export function isLocalByRoute(node: NodeState, ip: Address): boolean {
  const r = lookupTable(node.routes, 'local', ip);
  return r !== null && r.type === 'local';
}

/** Bridges: interfaces that are some port's master. */
export function bridgePorts(node: NodeState, bridge: string): string[] {
  return node.interfaces.filter((i) => i.master === bridge).map((i) => i.name);
}

/** The first address of `family` on interface `name` (REDIRECT's destination), else null. */
export function interfaceAddress(node: NodeState, name: string, family: IPFamily): Address | null {
  return node.interfaces.find((i) => i.name === name)?.addresses.find((a) => a.address.family === family)?.address ?? null;
}
