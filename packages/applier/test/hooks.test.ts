import fc from 'fast-check';
import { KUBE_PROXY_HOOK_RULES } from '@svcrules/core';
import { hookRuleArgs, tokenize, type HookRule } from '@svcrules/iptables';
import { scaledRuns } from '@svcrules/testkit';
import { hookLine } from '../src/hooks.js';

describe('hookLine', () => {
  it("prints kube-proxy's hooks as iptables-save does", () => {
    expect(KUBE_PROXY_HOOK_RULES.map(hookLine).slice(0, 2)).toEqual([
      '-A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    ]);
    expect(hookLine(KUBE_PROXY_HOOK_RULES.at(-1)!)).toBe('-A OUTPUT -j KUBE-FIREWALL');
  });

  it('escapes quotes and backslashes in a comment', () => {
    const h: HookRule = { table: 'filter', chain: 'INPUT', target: 'X', comment: 'say "hi" \\o/', extraArgs: [] };
    expect(hookLine(h)).toBe('-A INPUT -m comment --comment "say \\"hi\\" \\\\o/" -j X');
  });

  it('reads back as its words, whatever the comment', () => {
    fc.assert(
      fc.property(fc.string().filter((c) => !c.includes('\n')), (comment) => {
        const h: HookRule = { table: 'nat', chain: 'OUTPUT', target: 'KUBE-SERVICES', comment, extraArgs: [] };
        expect(tokenize(hookLine(h))).toEqual(['-A', 'OUTPUT', ...hookRuleArgs(h)]);
      }),
      { numRuns: scaledRuns(200, 50) },
    );
  });
});
