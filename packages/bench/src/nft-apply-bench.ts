/**
 * The nftables applier in a network namespace (created here, always deleted): the first full sync
 * of a kube-proxy-shaped table (testkit's kubeProxyShapedRuleset) and one-Service changes through
 * the library, against the same table loaded the way kube-proxy's transaction is shaped (every
 * chain added and flushed, then its rules), plus what each part of the table costs nft.
 */
import { pathToFileURL } from 'node:url';
import { createExecNftHost, createNftApplier, fullSyncOperations, group, inNetns, spawnRunner, type NftHost } from '@svcrules/applier';
import type { Chain, Element, NftRuleset, Operation, Rule } from '@svcrules/nftables';
import { renderTransaction, tableRef } from '@svcrules/nftables';
import { createNetns, deleteNetns, kubeProxyShapedRuleset } from '@svcrules/testkit';
import { median, timedAsync } from './stats.js';

export interface NftApplyBenchResult {
  readonly services: number;
  readonly endpoints: number;
  readonly chains: number;
  readonly rules: number;
  readonly elements: number;
  /** createNftApplier().apply() of the whole table into an empty namespace. */
  readonly fullMs: number;
  /** Of which nft itself (the rest: planning and rendering in the library). */
  readonly fullNftMs: number;
  /** One Service's endpoint moved, median over runs: the whole library call. */
  readonly partialMs: number;
  readonly partialNftMs: number;
  readonly partialRunsMs: readonly number[];
  readonly partialOperations: number;
  /** A transaction of one `add rule` on the loaded table: nft's floor (it lists every chain first). */
  readonly oneRuleMs: number;
  /** `nft list set` of our canary (the check before a partial sync). */
  readonly listSetMs: number;
  /** `nft list chain` of one chain: nft fetches every set with its elements first. */
  readonly listChainMs: number;
  /** The opt-in unrolled shape (createNftApplier unrollEndpointMaps): full sync, and one Service changed (one run). */
  readonly unrolledFullMs: number;
  readonly unrolledPartialMs: number;
  readonly unrolledPartialNftMs: number;
  /** kube-proxy's shape (add + flush every chain, then rules and elements) into an empty namespace. */
  readonly kubeProxyShapeMs: number;
  readonly kubeProxyShapeTimedOut: boolean;
  /** The same table loaded part by part into one namespace, each part its own transaction, ms. */
  readonly parts: readonly { readonly part: string; readonly ms: number }[];
  /** Small transactions on the loaded table: what nft costs before it changes anything, ms. */
  readonly floors: readonly { readonly what: string; readonly ms: number }[];
  /** The same Services loaded in one transaction into an empty namespace, other shapes of the table, ms. */
  readonly shapes: readonly { readonly shape: string; readonly ms: number }[];
}

/** A host that adds up the time spent waiting for nft. */
function timedHost(host: NftHost): { host: NftHost; spent: { ms: number } } {
  const spent = { ms: 0 };
  const time = async <T>(p: () => Promise<T>): Promise<T> => {
    const [r, t] = await timedAsync(p);
    spent.ms += t;
    return r;
  };
  return {
    spent,
    host: {
      run: (text, o) => time(() => host.run(text, o)),
      listSet: (f, t, c) => time(() => host.listSet(f, t, c)),
    },
  };
}

/** The Service a per-service chain belongs to: its readable name without the endpoint part (`ns/svc/tcp/p80`). */
const serviceOf = (chain: string) => chain.slice(chain.indexOf('-', chain.indexOf('-') + 1) + 1).split('__')[0]!;

/**
 * kube-proxy's transaction shape (proxier.go syncProxyRules): the fixed objects, then Service by
 * Service its chains added and flushed, its elements, and its chains' rules.
 */
export function kubeProxyShapedTransaction(rs: NftRuleset): string {
  const t = tableRef(rs.table);
  const ops: Operation[] = [{ verb: 'add', kind: 'table', table: rs.table }];
  for (const set of rs.sets) ops.push({ verb: 'add', kind: 'set', table: t, set });
  for (const map of rs.maps) ops.push({ verb: 'add', kind: 'map', table: t, map });
  const rulesOf = new Map<string, Rule[]>();
  for (const r of rs.rules) rulesOf.set(r.chain, [...(rulesOf.get(r.chain) ?? []), r]);
  const groups = new Map<string, Chain[]>();
  for (const chain of rs.chains) {
    const key = chain.name.includes('/') ? serviceOf(chain.name) : '';
    groups.set(key, [...(groups.get(key) ?? []), chain]);
  }
  // A Service's elements: those whose verdict names one of its chains, and those keyed by its address.
  const serviceOfIP = new Map<string, string>();
  const elementsOf = new Map<string, Element[]>();
  const target = (e: Element) => /^goto (\S+)$/.exec(e.value?.[0] ?? '')?.[1];
  for (const e of rs.elements) {
    const chain = target(e);
    if (chain?.includes('/')) serviceOfIP.set(e.key[0]!, serviceOf(chain));
  }
  for (const e of rs.elements) {
    const chain = target(e);
    const key = chain?.includes('/') ? serviceOf(chain) : (serviceOfIP.get(e.key[0]!) ?? '');
    elementsOf.set(key, [...(elementsOf.get(key) ?? []), e]);
  }
  for (const [key, chains] of groups) {
    for (const chain of chains) ops.push({ verb: 'add', kind: 'chain', table: t, chain }, { verb: 'flush', kind: 'chain', table: t, name: chain.name });
    for (const element of key === '' ? [] : (elementsOf.get(key) ?? [])) ops.push({ verb: 'add', kind: 'element', table: t, element });
    for (const chain of chains) for (const rule of rulesOf.get(chain.name) ?? []) ops.push({ verb: 'add', kind: 'rule', table: t, rule });
  }
  // Elements of no Service's chain (a Service without endpoints) and the fixed ones.
  for (const [key, elements] of elementsOf) if (key === '' || !groups.has(key)) for (const element of elements) ops.push({ verb: 'add', kind: 'element', table: t, element });
  return renderTransaction({ operations: ops });
}

async function inFreshNetns<T>(fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = createNetns('nftb');
  try {
    return await fn(ns);
  } finally {
    deleteNetns(ns);
  }
}

/** Loads `text` with `nft -f -` in `ns`, stopped after `timeoutMs`. */
async function nftLoad(ns: string, text: string, timeoutMs: number): Promise<{ ms: number; timedOut: boolean }> {
  const run = inNetns(spawnRunner, ns);
  const [r, ms] = await timedAsync(() => run('nft', ['-f', '-'], { stdin: text, timeoutMs }));
  if (r.code !== 0 && !/killed by SIGKILL/.test(r.stderr)) throw new Error(`nft -f failed: ${r.stderr.split('\n')[0]}`);
  return { ms, timedOut: r.code !== 0 };
}

/** Each part of the table as its own transaction, in load order: what nft pays for which objects. */
async function partCosts(rs: NftRuleset, timeoutMs: number): Promise<{ part: string; ms: number }[]> {
  const t = tableRef(rs.table);
  const isEp = (c: string) => c.startsWith('endpoint-');
  const isSvc = (c: string) => c.includes('/') && !isEp(c);
  const parts: [string, Operation[]][] = [
    ['table, sets, maps, chains (declarations)', [{ verb: 'add', kind: 'table', table: rs.table }, ...rs.sets.map((set): Operation => ({ verb: 'add', kind: 'set', table: t, set })), ...rs.maps.map((map): Operation => ({ verb: 'add', kind: 'map', table: t, map })), ...rs.chains.map((chain): Operation => ({ verb: 'add', kind: 'chain', table: t, chain }))]],
    ['fixed rules', rs.rules.filter((r) => !r.chain.includes('/')).map((rule) => ({ verb: 'add', kind: 'rule', table: t, rule }))],
    ['map and set elements', rs.elements.map((element) => ({ verb: 'add', kind: 'element', table: t, element }))],
    ['endpoint-chain rules (dnat)', rs.rules.filter((r) => isEp(r.chain)).map((rule) => ({ verb: 'add', kind: 'rule', table: t, rule }))],
    ['service-chain rules (one anonymous numgen vmap each)', rs.rules.filter((r) => isSvc(r.chain)).map((rule) => ({ verb: 'add', kind: 'rule', table: t, rule }))],
  ];
  return inFreshNetns(async (ns) => {
    const out: { part: string; ms: number }[] = [];
    for (const [part, operations] of parts) out.push({ part, ms: (await nftLoad(ns, renderTransaction({ operations }), timeoutMs)).ms });
    return out;
  });
}

/**
 * Other transactions of the same Services, each loaded in one `nft -f` into an empty namespace:
 * ours as one transaction (the full sync before the staged first load), and two table shapes
 * svcrules does not build, to show what the anonymous `numgen random mod N vmap { … }` sets cost:
 * a named verdict map per service chain, and no set at all (one `numgen random mod K == 0 goto`
 * rule per endpoint, K counting down, as iptables mode's probabilities do).
 */
async function shapeCosts(rs: NftRuleset, timeoutMs: number): Promise<{ shape: string; ms: number }[]> {
  const t = tableRef(rs.table);
  const add = (rule: Rule): Operation => ({ verb: 'add', kind: 'rule', table: t, rule });
  const anon = /^numgen random mod (\d+) vmap \{ (.*) \}$/;
  const decls: Operation[] = [{ verb: 'add', kind: 'table', table: rs.table }, ...rs.sets.map((set): Operation => ({ verb: 'add', kind: 'set', table: t, set })), ...rs.maps.map((map): Operation => ({ verb: 'add', kind: 'map', table: t, map })), ...rs.chains.map((chain): Operation => ({ verb: 'add', kind: 'chain', table: t, chain }))];
  const elements = rs.elements.map((element): Operation => ({ verb: 'add', kind: 'element', table: t, element }));
  const named: Operation[] = [];
  const mapDecls: string[] = [];
  const unrolled: Operation[] = [];
  for (const rule of rs.rules) {
    const m = anon.exec(rule.words.join(' '));
    if (!m) {
      named.push(add(rule));
      unrolled.push(add(rule));
      continue;
    }
    const name = `endpoints-${mapDecls.length}`;
    const n = Number(m[1]);
    const targets = m[2]!.split(' , ').map((e) => e.split(' : ')[1]!);
    mapDecls.push(`add map ${t.family} ${t.name} ${name} { typeof numgen random mod ${n} : verdict ; }\n`);
    named.push(...targets.map((v, i): Operation => ({ verb: 'add', kind: 'element', table: t, element: { container: name, key: [String(i)], value: [v] } })), add({ chain: rule.chain, words: ['numgen', 'random', 'mod', String(n), 'vmap', `@${name}`] }));
    targets.forEach((v, i) => unrolled.push(add({ chain: rule.chain, words: i === n - 1 ? v.split(' ') : ['numgen', 'random', 'mod', String(n - i), '==', '0', ...v.split(' ')] })));
  }
  const load = (operations: Operation[], before = '') => inFreshNetns(async (ns) => (await nftLoad(ns, renderTransaction({ operations: decls }) + before + renderTransaction({ operations }), timeoutMs)).ms);
  return [
    { shape: "ours as one transaction (kube-proxy's table)", ms: await inFreshNetns(async (ns) => (await nftLoad(ns, renderTransaction({ operations: fullSyncOperations(group(rs)) }), timeoutMs)).ms) },
    { shape: 'a named verdict map per service chain (not built)', ms: await load([...elements, ...named], mapDecls.join('')) },
    { shape: 'no sets: one numgen rule per endpoint (not built)', ms: await load([...elements, ...unrolled]) },
  ];
}

/** Small transactions on the loaded table `ns`: nft 1.0.6 fills its cache per command kind first. */
async function floorCosts(ns: string): Promise<{ what: string; ms: number }[]> {
  const exec = createExecNftHost({ netns: ns });
  const cases: [string, string, boolean?][] = [
    ['empty transaction', ''],
    ['add chain (lists the tables)', 'add chain ip kube-proxy svcrules-bench-chain\n'],
    ['flush set (lists the sets)', 'flush set ip kube-proxy svcrules-canary\n'],
    ['add element (lists chains and sets)', 'add element ip kube-proxy cluster-ips { 172.31.255.1 }\n'],
    ['add rule (lists chains and sets)', 'add rule ip kube-proxy nat-output return\n'],
    ['add rule, nft -c', 'add rule ip kube-proxy nat-output return\n', true],
  ];
  const out: { what: string; ms: number }[] = [];
  for (const [what, text, check] of cases) out.push({ what, ms: (await timedAsync(() => exec.run(text, { check: check ?? false })))[1] });
  return out;
}

export async function measureNftApply(o: { services: number; endpoints: number; partialRuns: number; kubeProxyTimeoutMs: number }): Promise<NftApplyBenchResult> {
  const desired = kubeProxyShapedRuleset({ services: o.services, endpoints: o.endpoints });
  const ours = await inFreshNetns(async (ns) => {
    const { host, spent } = timedHost(createExecNftHost({ netns: ns }));
    const applier = createNftApplier({ host, family: 'ipv4' });
    const [, fullMs] = await timedAsync(() => applier.apply(desired));
    const fullNftMs = spent.ms;
    const runs: number[] = [];
    const nft: number[] = [];
    let partialOperations = 0;
    for (let i = 1; i <= o.partialRuns; i++) {
      const next = kubeProxyShapedRuleset({ services: o.services, endpoints: o.endpoints, changed: Math.floor(o.services / 2), generation: i });
      spent.ms = 0;
      const [r, ms] = await timedAsync(() => applier.apply(next));
      if (r.mode !== 'partial') throw new Error(`expected a partial sync, got ${r.mode} (${r.reason})`);
      runs.push(ms);
      nft.push(spent.ms);
      partialOperations = r.operations;
    }
    const exec = createExecNftHost({ netns: ns });
    const floors = await floorCosts(ns);
    const [, oneRuleMs] = await timedAsync(() => exec.run('add rule ip kube-proxy nat-output return\n'));
    const [, listSetMs] = await timedAsync(() => exec.listSet('ip', 'kube-proxy', 'svcrules-canary'));
    const [, listChainMs] = await timedAsync(() => inNetns(spawnRunner, ns)('nft', ['list', 'chain', 'ip', 'kube-proxy', 'nat-prerouting']));
    return { fullMs, fullNftMs, partialMs: median(runs), partialNftMs: median(nft), partialRunsMs: runs, partialOperations, oneRuleMs, listSetMs, listChainMs, floors };
  });
  const unrolled = await inFreshNetns(async (ns) => {
    const { host, spent } = timedHost(createExecNftHost({ netns: ns }));
    const applier = createNftApplier({ host, family: 'ipv4', unrollEndpointMaps: true });
    const [, unrolledFullMs] = await timedAsync(() => applier.apply(desired));
    const next = kubeProxyShapedRuleset({ services: o.services, endpoints: o.endpoints, changed: Math.floor(o.services / 2), generation: 1 });
    spent.ms = 0;
    const [r, unrolledPartialMs] = await timedAsync(() => applier.apply(next));
    if (r.mode !== 'partial') throw new Error(`expected a partial sync, got ${r.mode} (${r.reason})`);
    return { unrolledFullMs, unrolledPartialMs, unrolledPartialNftMs: spent.ms };
  });
  const kp = await inFreshNetns((ns) => nftLoad(ns, kubeProxyShapedTransaction(desired), o.kubeProxyTimeoutMs));
  const parts = await partCosts(desired, o.kubeProxyTimeoutMs);
  const shapes = await shapeCosts(desired, o.kubeProxyTimeoutMs);
  return {
    services: o.services,
    endpoints: o.endpoints,
    chains: desired.chains.length,
    rules: desired.rules.length,
    elements: desired.elements.length,
    ...ours,
    ...unrolled,
    kubeProxyShapeMs: kp.ms,
    kubeProxyShapeTimedOut: kp.timedOut,
    parts,
    shapes,
  };
}

// Alone: node packages/bench/dist/nft-apply-bench.js [services] [endpoints] [partial runs] (as root).
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [services = 10000, endpoints = 2, partialRuns = 5] = process.argv.slice(2).map(Number);
  measureNftApply({ services, endpoints, partialRuns, kubeProxyTimeoutMs: 120_000 }).then(
    (r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'),
    (e: unknown) => {
      process.stderr.write(`nft-apply-bench: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
