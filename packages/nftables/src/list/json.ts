/**
 * `nft -j list ruleset` (libnftables' JSON schema) read into the same NftRulesets as the text form.
 * Rule expressions are written back as the words `nft list ruleset` prints, so one reader of rule
 * words (trace/rule.ts) serves both forms; an expression this file does not know becomes the word
 * `unsupported-json:<kind>`, which the tracer reports as UNKNOWN for that rule.
 */
import type { BaseChainHook, BaseChainType, Element } from '../ir.js';
import { finishTables, type ListedRuleset, type TableBuild } from './text.js';

type J = unknown;
type Obj = Record<string, J>;

export class NftJsonError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
    this.name = 'NftJsonError';
  }
}

const isObj = (x: J): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);

function only(o: Obj): [string, J] {
  const keys = Object.keys(o);
  return [keys[0] ?? '', o[keys[0] ?? '']];
}

function ipText(a: string): string {
  return a.includes(':') ? `[${a}]` : a;
}

/** An expression as nft prints it. */
export function exprText(e: J): string {
  if (typeof e === 'string') return /[\s"]/.test(e) || e === '' ? `"${e}"` : e;
  if (typeof e === 'number' || typeof e === 'boolean') return String(e);
  if (Array.isArray(e)) return e.map(exprText).join(',');
  if (!isObj(e)) return 'unsupported-json:null';
  const [k, v] = only(e);
  const o = isObj(v) ? v : {};
  switch (k) {
    case 'payload':
      return `${String(o['protocol'])} ${String(o['field'])}`;
    case 'meta':
      return `meta ${String(o['key'])}`;
    case 'ct':
      return o['dir'] ? `ct ${String(o['dir'])} ${o['family'] ? `${String(o['family'])} ` : ''}${String(o['key'])}` : `ct ${String(o['key'])}`;
    case 'fib': {
      const flags = Array.isArray(o['flags']) ? (o['flags'] as J[]).map(String) : [String(o['flags'])];
      return `fib ${flags.join(' . ')} ${String(o['result'])}`;
    }
    case 'concat':
      return (v as J[]).map(exprText).join(' . ');
    case 'prefix':
      return `${String(o['addr'])}/${String(o['len'])}`;
    case 'range':
      return (v as J[]).map(exprText).join('-');
    case 'set':
      return `{ ${(Array.isArray(v) ? v : [v]).map((x) => (Array.isArray(x) ? `${exprText(x[0])} : ${stmtText(x[1])}` : exprText(x))).join(', ')} }`;
    case 'numgen':
      return `numgen ${String(o['mode'])} mod ${String(o['mod'])}${o['offset'] ? ` offset ${String(o['offset'])}` : ''}`;
    case '&':
    case '|':
    case '^': {
      const [a, b] = v as [J, J];
      return `${exprText(a)} ${k} ${exprText(b)}`;
    }
    case 'elem':
      return exprText(o['val']);
    default:
      return `unsupported-json:${k}`;
  }
}

/** A statement (or verdict) as nft prints it. */
export function stmtText(s: J): string {
  if (!isObj(s)) return 'unsupported-json:statement';
  const [k, v] = only(s);
  const o = isObj(v) ? v : {};
  switch (k) {
    case 'accept':
    case 'drop':
    case 'return':
    case 'continue':
      return k;
    case 'jump':
    case 'goto':
      return `${k} ${String(o['target'])}`;
    case 'match': {
      const op = String(o['op']);
      const shown = op === '==' || op === 'in' ? '' : `${op} `;
      return `${exprText(o['left'])} ${shown}${exprText(o['right'])}`;
    }
    case 'vmap':
      return `${exprText(o['key'])} vmap ${exprText(o['data'])}`;
    case 'reject': {
      if (v === null || !o['type']) return 'reject';
      if (o['type'] === 'tcp reset') return 'reject with tcp reset';
      return `reject with ${String(o['type'])} ${String(o['expr'] ?? 'port-unreachable')}`;
    }
    case 'dnat':
    case 'snat': {
      if (typeof o['addr'] !== 'string') return `unsupported-json:${k}-expression`;
      const port = o['port'] === undefined ? '' : `:${String(o['port'])}`;
      const to = port === '' ? String(o['addr']) : `${ipText(String(o['addr']))}${port}`;
      const flags = o['flags'] ? ` ${(Array.isArray(o['flags']) ? o['flags'] : [o['flags']]).map(String).join(',')}` : '';
      return `${k} to ${to}${flags}`;
    }
    case 'masquerade': {
      if (o['port'] !== undefined) return 'unsupported-json:masquerade-to-port';
      const flags = o['flags'] ? ` ${(Array.isArray(o['flags']) ? o['flags'] : [o['flags']]).map(String).join(',')}` : '';
      return `masquerade${flags}`;
    }
    case 'mangle':
      return `${exprText(o['key'])} set ${exprText(o['value'])}`;
    case 'set':
      return `${String(o['op'])} ${String(o['set'])} { ${exprText(o['elem'])} }`;
    case 'counter':
      return 'counter';
    case 'log':
      return 'log';
    case 'limit':
      return o['inv'] ? 'limit rate over 1/second' : `limit rate ${String(o['rate'])}/${String(o['per'] ?? 'second')}`;
    case 'notrack':
      return 'notrack';
    default:
      return `unsupported-json:${k}`;
  }
}


function elementOf(container: string, e: J, isMap: boolean): Element {
  let key: J = e;
  let value: J;
  if (isMap && Array.isArray(e)) [key, value] = e as [J, J];
  let comment: string | undefined;
  if (isObj(key) && 'elem' in key && isObj(key['elem'])) {
    const el = key['elem'];
    if (typeof el['comment'] === 'string') comment = el['comment'];
    key = el['val'];
  }
  const parts = isObj(key) && 'concat' in key ? (key['concat'] as J[]).map(exprText) : [exprText(key)];
  const out: Element = { container, key: parts, ...(comment === undefined ? {} : { comment }) };
  if (!isMap) return out;
  const v = isObj(value) && !('concat' in value) && !('prefix' in value) ? stmtText(value) : isObj(value) && 'concat' in value ? (value['concat'] as J[]).map(exprText).join(' . ') : exprText(value);
  return { ...out, value: v.split(' . ') };
}

/** Reads `nft -j list ruleset` (or `list table`) output. */
export function parseListJson(text: string): ListedRuleset {
  let doc: J;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new NftJsonError('input', `not JSON: ${(e as Error).message}`);
  }
  if (!isObj(doc) || !Array.isArray(doc['nftables'])) throw new NftJsonError('input', 'expected an object with an "nftables" array');
  const tables = new Map<string, TableBuild>();
  const tableOf = (o: Obj, where: string): TableBuild => {
    const t = tables.get(`${String(o['family'])} ${String(o['table'])}`);
    if (!t) throw new NftJsonError(where, `table ${String(o['family'])} ${String(o['table'])} is not listed before it`);
    return t;
  };
  (doc['nftables'] as J[]).forEach((item, n) => {
    const where = `nftables[${n}]`;
    if (!isObj(item)) throw new NftJsonError(where, 'not an object');
    const [kind, body] = only(item);
    if (!isObj(body)) return;
    switch (kind) {
      case 'table':
        tables.set(`${String(body['family'])} ${String(body['name'])}`, {
          family: String(body['family']),
          name: String(body['name']),
          ...(typeof body['comment'] === 'string' ? { comment: body['comment'] } : {}),
          chains: [],
          sets: [],
          maps: [],
          rules: [],
          elements: [],
        });
        return;
      case 'chain': {
        const t = tableOf(body, where);
        const hook = body['hook'] as BaseChainHook | undefined;
        const base =
          hook !== undefined && ['prerouting', 'input', 'forward', 'output', 'postrouting'].includes(hook)
            ? { type: String(body['type']) as BaseChainType, hook, priority: Number(body['prio']) }
            : undefined;
        if (base && (!['filter', 'nat', 'route'].includes(base.type) || !Number.isInteger(base.priority))) {
          throw new NftJsonError(where, `chain ${String(body['name'])}: cannot read type ${String(body['type'])} / priority ${String(body['prio'])}`);
        }
        const policy = body['policy'] === 'drop' ? 'drop' : body['policy'] === 'accept' ? 'accept' : undefined;
        t.chains.push({
          name: String(body['name']),
          ...(base ? { base } : {}),
          ...(typeof body['comment'] === 'string' ? { comment: body['comment'] } : {}),
          ...(policy ? { policy } : {}),
        });
        return;
      }
      case 'set':
      case 'map': {
        const t = tableOf(body, where);
        const typeList = (x: J): string[] => (Array.isArray(x) ? x.map(String) : x === undefined ? [] : [String(x)]);
        const name = String(body['name']);
        const flags = typeList(body['flags']);
        const props = {
          name,
          type: typeList(body['type']),
          ...(flags.length > 0 ? { flags } : {}),
          ...(typeof body['timeout'] === 'number' ? { timeout: body['timeout'] } : {}),
          ...(typeof body['comment'] === 'string' ? { comment: body['comment'] } : {}),
        };
        if (kind === 'map') t.maps.push({ ...props, valueType: typeList(body['map']) });
        else t.sets.push(props);
        for (const e of Array.isArray(body['elem']) ? (body['elem'] as J[]) : []) t.elements.push(elementOf(name, e, kind === 'map'));
        return;
      }
      case 'rule': {
        const t = tableOf(body, where);
        const expr = Array.isArray(body['expr']) ? (body['expr'] as J[]) : [];
        const words = expr.map(stmtText).join(' ').split(' ').filter((w) => w !== '');
        t.rules.push({
          chain: String(body['chain']),
          words,
          ...(typeof body['comment'] === 'string' ? { comment: body['comment'] } : {}),
          ...(typeof body['handle'] === 'number' ? { handle: body['handle'] } : {}),
        });
        return;
      }
      default:
        // metainfo, flowtable, counter, quota, element, ...: nothing the tracer walks
        return;
    }
  });
  return finishTables(tables.values());
}
