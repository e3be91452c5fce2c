import type { AppendCommand, PlanCurrent, Ruleset, TableName } from '@svcrules/iptables';
import { chainsOf, parseRuleset, referenceIndex, SaveFormError, toSaveForm } from '@svcrules/iptables';
import type { Family, Netfilter } from './netfilter.js';

/**
 * How iptables-save prints a rule given in restore syntax (`-d 10.0.0.1` -> `-d 10.0.0.1/32`, ...), so
 * desired rules can be compared with live ones.
 */
export type SaveForm = (args: readonly string[], family: Family) => readonly string[];

/** Exact text: correct, but rewrites every chain whose text merely prints differently. */
export const identitySaveForm: SaveForm = (args) => args;

/**
 * `toSaveForm` from @svcrules/iptables; a rule shape it does not know is compared as written (its
 * chain then counts as changed and is rewritten: never wrong, only less minimal).
 */
export const defaultSaveForm: SaveForm = (args, family) => {
  try {
    return toSaveForm(args, family === 'ipv6' ? 'IPv6' : 'IPv4');
  } catch (e) {
    if (e instanceof SaveFormError) return args;
    throw e;
  }
};

/** The tables the applier reads and writes. */
export const APPLIER_TABLES: readonly TableName[] = ['filter', 'nat'];

/** The host's filter and nat tables, read once, as the planner's "current". */
export interface HostView extends PlanCurrent {
  readonly family: Family;
  /** The parsed iptables-save output of the tables read. */
  readonly ruleset: Ruleset;
  /** A chain's live rules (save form), or undefined when it does not exist. */
  rules(table: TableName, chain: string): readonly AppendCommand[] | undefined;
  /** The desired rule in the host's printing form. */
  saveForm(rule: AppendCommand): readonly string[];
}

export function hostViewFromSave(saveText: string, family: Family, saveForm: SaveForm = defaultSaveForm): HostView {
  const ruleset = parseRuleset(saveText, { source: `${family === 'ipv6' ? 'ip6tables' : 'iptables'}-save` });
  const chains = chainsOf(ruleset);
  const cache = new WeakMap<AppendCommand, readonly string[]>();
  const form = (r: AppendCommand) => {
    let f = cache.get(r);
    if (!f) cache.set(r, (f = saveForm(r.args, family)));
    return f;
  };
  return {
    family,
    ruleset,
    saveForm: form,
    tables: () => chains.keys(),
    chains: (t) => chains.get(t)?.keys() ?? [],
    rules: (t, c) => chains.get(t)?.get(c),
    matches(t, chain, rules) {
      const live = chains.get(t)?.get(chain);
      if (!live || live.length !== rules.length) return false;
      for (let i = 0; i < rules.length; i++) {
        const want = form(rules[i]!);
        const have = live[i]!.args;
        if (want.length !== have.length) return false;
        for (let j = 0; j < want.length; j++) if (want[j] !== have[j]) return false;
      }
      return true;
    },
    referencedBy: referenceIndex(chains),
  };
}

/** Reads the filter and nat tables (one iptables-save per table; other tables are never read). */
export async function readHost(nf: Netfilter, family: Family, saveForm: SaveForm = defaultSaveForm): Promise<HostView> {
  let text = '';
  for (const t of APPLIER_TABLES) text += await nf.save(family, t);
  return hostViewFromSave(text, family, saveForm);
}
