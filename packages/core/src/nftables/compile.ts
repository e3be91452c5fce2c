/**
 * kube-proxy's nftables mode as a second renderer over the shared model: `buildModel` makes every
 * Kubernetes decision, `renderNFTables` turns it into the `kube-proxy` table one full sync leaves
 * (what knftables' Fake holds and `Dump()` prints). The result is a typed value; text comes only
 * from `@svcrules/nftables`' `renderDump`.
 */
import type { NftRuleset } from '@svcrules/nftables';
import { chainProblem } from '@svcrules/nftables';
import type { CompileContext } from '../context.js';
import type { Diagnostic } from '../diagnostics.js';
import type { Snapshot } from '../model.js';
import { isNftServiceChain, nftServicePortChainBase } from '../kube-proxy/nft-names.js';
import type { CompileOptions } from '../options.js';
import { buildModel } from '../proxy-model.js';
import { deriveSlices } from '../derive-slices.js';
import type { ProxyModel } from '../proxy-model.js';
import { TableBuilder } from './builder.js';
import { familyWords } from './family.js';
import { addFixedObjects, nftNodePortIPs } from './fixed.js';
import { portObjectsProblem, portTemplates, servicePortObjects } from './service.js';

export interface NFTablesCompileOptions extends CompileOptions {
  /**
   * Chains the table holds before this sync (e.g. from the previous dump). kube-proxy flushes a
   * service chain nothing uses any more and deletes it one sync later, so such chains are in the
   * result, empty.
   */
  readonly existingChains?: readonly string[];
}

export interface NFTablesStats {
  readonly servicePorts: number;
  readonly endpoints: number;
  readonly chains: number;
  readonly sets: number;
  readonly maps: number;
  readonly rules: number;
  readonly elements: number;
}

export interface NFTablesResult {
  /** The `kube-proxy` table after one full sync; print it with `renderDump`. */
  readonly ruleset: NftRuleset;
  readonly context: CompileContext;
  readonly diagnostics: readonly Diagnostic[];
  readonly stats: NFTablesStats;
}

const TABLE = 'kube-proxy';

export function renderNFTables(model: ProxyModel, options: NFTablesCompileOptions = {}): NFTablesResult {
  const ctx = model.context;
  const w = familyWords(ctx.family);
  // The model's chain-hash check is about iptables' KUBE-SVC names; this backend checks its own.
  const diagnostics: Diagnostic[] = model.diagnostics.filter((d) => d.code !== 'chain-hash-collision');
  const loopback = nftNodePortIPs(ctx).loopback;
  if (loopback.length > 0) {
    diagnostics.push({
      code: 'nft-localhost-nodeports',
      severity: 'warning',
      message: `nodePortAddresses includes localhost (${loopback.join(', ')}) but the nftables proxier does not serve node ports there`,
    });
  }
  const t = new TableBuilder(w.family, TABLE);
  addFixedObjects(t, ctx, w);
  const shapes = portTemplates(ctx, w);

  const baseOwner = new Map<string, string>();
  let servicePorts = 0;
  for (const plan of model.plans) {
    const { service, port } = plan.info;
    const object = `Service ${service.namespace}/${service.name}`;
    const origin = service.origin ? { origin: service.origin } : {};
    const base = nftServicePortChainBase(service.namespace, service.name, plan.info.protocol, port.name);
    const owner = baseOwner.get(base);
    if (owner !== undefined) {
      diagnostics.push({ code: 'chain-hash-collision', severity: 'error', object, ...origin, message: `${plan.info.name} and ${owner} name the same chains ${base}` });
    }
    baseOwner.set(base, plan.info.name);
    const objects = servicePortObjects(plan, ctx, w, shapes, base);
    const problem = portObjectsProblem(objects);
    if (problem !== undefined) {
      // The snapshot loader refuses such input; a snapshot built by other code may still hold it.
      diagnostics.push({ code: 'nft-unsafe', severity: 'error', object, ...origin, message: `${plan.info.name}: not written: ${problem}` });
      continue;
    }
    servicePorts++;
    t.chainsAndRules(objects.chains, objects.rules, objects.ruleChains);
    for (const e of objects.elements) {
      const replaced = t.element(e);
      if (replaced !== undefined) {
        diagnostics.push({
          code: 'nft-element-conflict',
          severity: 'warning',
          object,
          ...origin,
          message: `${e.container} element ${e.key.join(' . ')}: ${plan.info.name} (${e.value!.join(' ')}) replaces ${replaced.value!.join(' ')} of a Service earlier in name order; kube-proxy's winner depends on its map order`,
        });
      }
    }
    for (const s of objects.sets) t.set(s);
  }
  // One already declared keeps its first declaration (the builder keeps the first of a name).
  for (const name of options.existingChains ?? []) {
    if (isNftServiceChain(name) && chainProblem({ name }) === undefined) t.chain({ name });
  }

  const ruleset = t.ruleset('rules for kube-proxy');
  return {
    ruleset,
    context: ctx,
    diagnostics,
    stats: {
      servicePorts,
      endpoints: model.endpoints,
      chains: ruleset.chains.length,
      sets: ruleset.sets.length,
      maps: ruleset.maps.length,
      rules: ruleset.rules.length,
      elements: ruleset.elements.length,
    },
  };
}

/** The nftables table of one full sync: derive, model, render (`renderNFTables(buildModel(deriveSlices(...)))`) in nftables mode. */
export function compileNFTables(snapshot: Snapshot, options: NFTablesCompileOptions = {}): NFTablesResult {
  const modelOptions: NFTablesCompileOptions = { ...options, proxyMode: options.proxyMode ?? 'nftables' };
  return renderNFTables(buildModel(deriveSlices(snapshot), modelOptions), modelOptions);
}
