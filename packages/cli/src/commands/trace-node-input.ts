/**
 * The node's state for `trace`: `--node-state FILE` (what `svcrules node-state` captured) or the
 * separate captures `--ip-addr`, `--ip-route` (repeatable), `--ipsets`. Errors name the file and the
 * place inside it (line:col for JSON syntax, the JSON path for a bad field, file:line for ipset save).
 */
import { NodeStateError, parseIpAddress, parseIpRoute, parseIpsetSave, type IpSets, type NodeState } from '@svcrules/iptables';
import type { CliIO } from '../io.js';
import { UserError } from '../errors.js';

/** What `svcrules node-state` prints (documented in packages/cli/README-trace.md). */
export interface NodeStateFile {
  readonly kind: 'svcrules-node-state';
  readonly version: 1;
  readonly netns: string | null;
  readonly iptablesSave: string | null;
  readonly ip6tablesSave: string | null;
  readonly ipAddress: unknown;
  readonly ipRoute4: unknown;
  readonly ipRoute6: unknown;
  readonly ipsetSave: string | null;
  readonly sysctls: Readonly<Record<string, string>>;
  /** `nft -j list ruleset` (absent from files captured before nftables mode; null when nft failed or is missing). */
  readonly nftRuleset?: string | null;
  /** Commands that failed or were missing, with their message. */
  readonly missing: readonly string[];
}

export interface NodeInputFlags {
  nodeState?: string;
  ipAddr?: string;
  ipRoute?: string[];
  ipsets?: string;
}

export interface LoadedNodeState {
  readonly node: NodeState | undefined;
  /** The iptables-save / ip6tables-save text of a --node-state file. */
  readonly rules: { readonly IPv4: string | null; readonly IPv6: string | null } | null;
  /** The `nft -j list ruleset` text of a --node-state file (null: none captured). */
  readonly nftRuleset: string | null;
  /** For the header: where the state came from. */
  readonly from: string | null;
}

async function read(io: CliIO, flag: string, file: string): Promise<string> {
  try {
    return await io.readFile(file);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`${flag}: cannot read ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  return `${line}:${pos - before.lastIndexOf('\n')}`;
}

/** One JSON value, or several written one after another (`ip -4 -j ...; ip -6 -j ...` into one file). */
export function parseJsonValues(text: string, file: string): unknown[] {
  const out: unknown[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;
    const start = i;
    let depth = 0;
    let inString = false;
    for (; i < n; i++) {
      const c = text[i]!;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '[' || c === '{') depth++;
      else if (c === ']' || c === '}') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0 && /\s/.test(c)) break;
    }
    const chunk = text.slice(start, i);
    try {
      out.push(JSON.parse(chunk));
    } catch (err) {
      const m = /position (\d+)/.exec((err as Error).message);
      const at = m ? start + Number(m[1]) : start;
      throw new UserError(`${file}:${lineCol(text, at)}: not valid JSON (${(err as Error).message.replace(/ in JSON at position \d+.*$/, '')})`);
    }
  }
  if (out.length === 0) throw new UserError(`${file}: empty; expected the JSON that ip -j prints`);
  return out;
}

function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof NodeStateError) throw new UserError(err.message);
    throw err;
  }
}

function isNodeStateFile(x: unknown): x is NodeStateFile {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'svcrules-node-state';
}

/** Reads whichever node-state flags were given; `node` is undefined when none was. */
export async function loadNodeState(io: CliIO, flags: NodeInputFlags): Promise<LoadedNodeState> {
  let interfaces: NodeState['interfaces'] = [];
  let routes: NodeState['routes'] = [];
  let ipsets: IpSets | undefined;
  let sysctls: Record<string, string> | undefined;
  let rules: LoadedNodeState['rules'] = null;
  let nftRuleset: string | null = null;
  const from: string[] = [];
  if (flags.nodeState !== undefined) {
    const file = flags.nodeState;
    const [doc, extra] = parseJsonValues(await read(io, '--node-state', file), file);
    if (extra !== undefined || !isNodeStateFile(doc)) throw new UserError(`${file}: not a node-state file (expected the JSON object "svcrules node-state" prints, with "kind": "svcrules-node-state")`);
    if (doc.version !== 1) throw new UserError(`${file}: node-state version ${String(doc.version)} is not supported (this svcrules reads version 1)`);
    interfaces = wrap(() => parseIpAddress([doc.ipAddress ?? []], `${file}: ipAddress`));
    routes = wrap(() => [...parseIpRoute([doc.ipRoute4 ?? []], `${file}: ipRoute4`), ...parseIpRoute([doc.ipRoute6 ?? []], `${file}: ipRoute6`)]);
    if (doc.ipsetSave !== null && doc.ipsetSave !== undefined) {
      const text = doc.ipsetSave;
      ipsets = wrap(() => parseIpsetSave(text, `${file}: ipsetSave`));
    }
    sysctls = { ...(doc.sysctls ?? {}) };
    rules = { IPv4: doc.iptablesSave ?? null, IPv6: doc.ip6tablesSave ?? null };
    nftRuleset = typeof doc.nftRuleset === 'string' ? doc.nftRuleset : null;
    from.push(file);
  }
  if (flags.ipAddr !== undefined) {
    const file = flags.ipAddr;
    const docs = parseJsonValues(await read(io, '--ip-addr', file), file);
    interfaces = [...interfaces, ...wrap(() => parseIpAddress(docs, file))];
    from.push(file);
  }
  for (const file of flags.ipRoute ?? []) {
    const docs = parseJsonValues(await read(io, '--ip-route', file), file);
    routes = [...routes, ...wrap(() => parseIpRoute(docs, file))];
    from.push(file);
  }
  if (flags.ipsets !== undefined) {
    const file = flags.ipsets;
    const text = await read(io, '--ipsets', file);
    ipsets = wrap(() => parseIpsetSave(text, file));
    from.push(file);
  }
  if (from.length === 0) return { node: undefined, rules: null, nftRuleset: null, from: null };
  const node: NodeState = { interfaces, routes, ...(ipsets ? { ipsets } : {}), ...(sysctls ? { sysctls } : {}) };
  return { node, rules, nftRuleset, from: from.join(', ') };
}
