/**
 * kube-proxy's test normaliser, `sortIPTablesRules` in pkg/proxy/iptables/proxier_test.go, on top
 * of `ParseIPTablesDump` (pkg/util/iptables/testing/parse.go). Only for comparing our output with
 * upstream goldens; it fails where the Go code fails.
 *
 * 1. Tables sorted by name.
 * 2. Chains: KUBE-NODEPORTS, KUBE-SERVICES, other KUBE-* bytewise, then the rest bytewise.
 * 3. Stable sort (Go's `sort.SliceStable`, reproduced exactly because the comparator is not a
 *    strict weak order when a rule has no comment) of filter and nat KUBE-NODEPORTS and
 *    KUBE-SERVICES by `orderByCommentServiceName`; in nat KUBE-SERVICES a rule whose comment holds
 *    "must be the last rule" goes last. Filter KUBE-SERVICES has no such exception.
 * 4. Printed as: chain lines (counters as decimal numbers), every rule grouped by chain in chain
 *    order, then `-X` for each deleted chain in chain order.
 */
import type { AppendCommand, ChainDecl, Command, Ruleset, Table } from '@svcrules/iptables';
import { isKubeChain, KUBE_NODEPORTS, KUBE_SERVICES } from './chains.js';
import { goSliceStable } from './go-sort.js';

interface GoChain {
  readonly decl: ChainDecl;
  readonly rules: AppendCommand[];
  deleted: boolean;
}

interface ParamSpec {
  readonly negatable: boolean;
  readonly takesValue: boolean;
}

// The `param`/`negatable` tags of the Go `Rule` struct (parse.go).
const PARAMS: ReadonlyMap<string, ParamSpec> = new Map([
  ['-A', { negatable: false, takesValue: true }],
  ['--comment', { negatable: false, takesValue: true }],
  ['-p', { negatable: true, takesValue: true }],
  ['-s', { negatable: true, takesValue: true }],
  ['--src-type', { negatable: true, takesValue: true }],
  ['--sport', { negatable: true, takesValue: true }],
  ['-d', { negatable: true, takesValue: true }],
  ['--dst-type', { negatable: true, takesValue: true }],
  ['--dport', { negatable: true, takesValue: true }],
  ['--match-set', { negatable: true, takesValue: true }],
  ['-j', { negatable: false, takesValue: true }],
  ['--random-fully', { negatable: false, takesValue: false }],
  ['--probability', { negatable: false, takesValue: true }],
  ['--to-destination', { negatable: false, takesValue: true }],
  ['--rcheck', { negatable: true, takesValue: false }],
  ['--mark', { negatable: true, takesValue: true }],
  ['--ctstate', { negatable: true, takesValue: true }],
  ['--name', { negatable: false, takesValue: true }],
  ['--seconds', { negatable: false, takesValue: true }],
  ['--set', { negatable: true, takesValue: false }],
  ['--reap', { negatable: false, takesValue: false }],
  ['--mode', { negatable: false, takesValue: true }],
]);

const U64_MAX = (1n << 64n) - 1n;

function fail(message: string): never {
  throw new Error(`sortLikeKubeProxyTests: ${message}`);
}

/** `strconv.ParseUint(s, 10, 64)` with the error ignored, as parse.go does. */
function goUint(digits: string): string {
  if (digits === '') return '0';
  const n = BigInt(digits);
  return (n > U64_MAX ? U64_MAX : n).toString();
}

/** `ParseRule(raw, false).Comment`, reproducing its parameter walk and its errors. */
function goComment(cmd: AppendCommand): string | undefined {
  const words = ['-A', cmd.chain, ...cmd.args];
  let comment: string | undefined;
  let negated = false;
  for (let w = 0; w < words.length; ) {
    const word = words[w]!;
    if (word === '-m' && w < words.length - 1) {
      w += 2;
      continue;
    }
    if (word === '!') {
      negated = true;
      w++;
      continue;
    }
    const spec = PARAMS.get(word);
    if (spec !== undefined) {
      if (negated && !spec.negatable) fail(`cannot negate parameter ${JSON.stringify(word)} (chain ${cmd.chain})`);
      if (spec.takesValue) {
        if (w === words.length - 1) fail(`parameter ${JSON.stringify(word)} requires an argument (chain ${cmd.chain})`);
        if (word === '--comment') comment = words[w + 1];
        w += 2;
      } else {
        w++;
      }
    } else {
      w++;
    }
    negated = false;
  }
  return comment;
}

/** The service name is the comment up to the first space or colon. */
function serviceName(comment: string): string {
  const m = /[ :]/.exec(comment);
  return m ? comment.slice(0, m.index) : comment;
}

/** `orderByCommentServiceName`: false when either rule has no comment. */
function orderByCommentServiceName(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return false;
  return serviceName(a) < serviceName(b);
}

function chainLess(a: string, b: string): boolean {
  if (a === KUBE_NODEPORTS) return true;
  if (b === KUBE_NODEPORTS) return false;
  if (a === KUBE_SERVICES) return true;
  if (b === KUBE_SERVICES) return false;
  const ak = isKubeChain(a);
  const bk = isKubeChain(b);
  if (ak && !bk) return true;
  if (!ak && bk) return false;
  return a < b;
}

function loadTable(table: Table): GoChain[] {
  const chains: GoChain[] = [];
  const byName = new Map<string, GoChain>();
  for (const decl of table.chains) {
    if (decl.policy !== '-') fail(`chain line ":${decl.name} ${decl.policy} ..." (ParseIPTablesDump only reads "- [p:b]" chain lines)`);
    const [p = '', b = ''] = decl.counters.split(':');
    if (!/^[0-9]*$/.test(p) || !/^[0-9]*$/.test(b)) fail(`bad counters for chain ${decl.name}`);
    const chain: GoChain = { decl: { name: decl.name, policy: '-', counters: `${goUint(p)}:${goUint(b)}` }, rules: [], deleted: false };
    chains.push(chain);
    if (!byName.has(decl.name)) byName.set(decl.name, chain);
  }
  for (const cmd of table.commands) {
    const chain = byName.get(cmd.chain) ?? fail(`no such chain ${JSON.stringify(cmd.chain)} in table ${table.name}`);
    if (cmd.kind === 'delete') {
      if (chain.rules.length !== 0) fail(`cannot delete chain ${JSON.stringify(cmd.chain)} after adding rules`);
      chain.deleted = true;
      continue;
    }
    if (chain.deleted) fail(`cannot add rules to deleted chain ${JSON.stringify(cmd.chain)}`);
    if (cmd.counters !== undefined) fail(`rule counters in chain ${cmd.chain} (ParseIPTablesDump reads no "[p:b] -A" lines)`);
    if (cmd.args.length === 0) fail(`bad iptables rule (no match rules) in chain ${cmd.chain}`);
    chain.rules.push(cmd);
  }
  return chains;
}

function sortByService(rules: AppendCommand[], lastRuleException: boolean): AppendCommand[] {
  const keyed = rules.map((rule) => ({ rule, comment: goComment(rule) }));
  const isLast = (c: string | undefined): boolean => c !== undefined && c.includes('must be the last rule');
  goSliceStable(keyed, (x, y) => {
    if (lastRuleException) {
      if (isLast(x.comment)) return false;
      if (isLast(y.comment)) return true;
    }
    return orderByCommentServiceName(x.comment, y.comment);
  });
  return keyed.map((k) => k.rule);
}

export function sortLikeKubeProxyTests(ruleset: Ruleset): Ruleset {
  const loaded = ruleset.tables.map((t) => ({ name: t.name, chains: loadTable(t) }));
  // Go's ParseRule runs on every rule (its errors abort), not only on the sorted chains.
  for (const t of loaded) for (const c of t.chains) for (const r of c.rules) goComment(r);
  loaded.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const tables: Table[] = loaded.map(({ name, chains }) => {
    chains.sort((a, b) => (chainLess(a.decl.name, b.decl.name) ? -1 : chainLess(b.decl.name, a.decl.name) ? 1 : 0));
    // GetChain finds the first chain of that name.
    const first = (n: string): GoChain | undefined => chains.find((c) => c.decl.name === n);
    if (name === 'filter' || name === 'nat') {
      for (const n of [KUBE_NODEPORTS, KUBE_SERVICES]) {
        const c = first(n);
        if (c === undefined) continue;
        const sorted = sortByService(c.rules, name === 'nat' && n === KUBE_SERVICES);
        c.rules.length = 0;
        for (const r of sorted) c.rules.push(r);
      }
    }
    const commands: Command[] = [];
    for (const c of chains) for (const r of c.rules) commands.push({ kind: 'append', chain: r.chain, args: r.args });
    for (const c of chains) if (c.deleted) commands.push({ kind: 'delete', chain: c.decl.name });
    return { name, chains: chains.map((c) => c.decl), commands };
  });
  return { tables };
}
