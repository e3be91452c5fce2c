import fc from 'fast-check';
import { sortNFTablesTransaction } from '@svcrules/testkit';
import { renderDump } from '../src/render.js';
import { ruleset } from './arb.js';

describe('sortNFTablesTransaction (pkg/proxy/nftables/helpers_test.go)', () => {
  test('drops blank and # lines; table, chains, rules, sets, maps, elements; names sorted; rules kept in order; no final newline', () => {
    const tx = [
      '# a comment',
      'add element ip kube-proxy service-ips { 9.9.9.9 . tcp . 80 : drop }',
      'add element ip kube-proxy cluster-ips { 172.30.0.42 }',
      'add element ip kube-proxy cluster-ips { 172.30.0.41 }',
      '',
      'add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }',
      'add rule ip kube-proxy services z-second',
      'add set ip kube-proxy cluster-ips { type ipv4_addr ; }',
      'add rule ip kube-proxy filter-input a-first',
      'add rule ip kube-proxy services a-third',
      'add chain ip kube-proxy services',
      'add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }',
      'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
      '',
    ].join('\n');
    expect(sortNFTablesTransaction(tx)).toBe(
      [
        'add table ip kube-proxy { comment "rules for kube-proxy" ; }',
        'add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }',
        'add chain ip kube-proxy services',
        'add rule ip kube-proxy filter-input a-first',
        'add rule ip kube-proxy services z-second',
        'add rule ip kube-proxy services a-third',
        'add set ip kube-proxy cluster-ips { type ipv4_addr ; }',
        'add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }',
        'add element ip kube-proxy cluster-ips { 172.30.0.41 }',
        'add element ip kube-proxy cluster-ips { 172.30.0.42 }',
        'add element ip kube-proxy service-ips { 9.9.9.9 . tcp . 80 : drop }',
      ].join('\n'),
    );
  });

  test('a line of fewer than 5 words compares equal to everything, so it pins its neighbours (Go sort.SliceStable)', () => {
    const tx = 'add element ip kube-proxy b { x }\njunk line\nadd chain ip kube-proxy a';
    expect(sortNFTablesTransaction(tx)).toBe(tx);
    expect(sortNFTablesTransaction('add element ip kube-proxy b { x }\nadd chain ip kube-proxy a')).toBe('add chain ip kube-proxy a\nadd element ip kube-proxy b { x }');
  });

  test('two object types of equal rank are each "less" than the other (>=), so Go swaps them', () => {
    expect(sortNFTablesTransaction('add counter ip kube-proxy b\nadd flowtable ip kube-proxy a')).toBe('add flowtable ip kube-proxy a\nadd counter ip kube-proxy b');
  });

  // Every line has 5 words or more when the table has a comment, as kube-proxy's always has.
  test('blind to line order except rule order within a chain', () => {
    fc.assert(
      fc.property(ruleset, fc.infiniteStream(fc.nat()), (rs, rnd) => {
        const lines = renderDump({ ...rs, table: { ...rs.table, comment: 'rules for kube-proxy' } }).split('\n');
        // shuffle, then put each chain's rules back in their original relative order
        const shuffled = [...lines].sort(() => (rnd.next().value % 3) - 1);
        const ruleLines = lines.filter((l) => l.startsWith('add rule '));
        const chainOf = (l: string) => l.split(' ')[4];
        const queues = new Map<string | undefined, string[]>();
        for (const l of ruleLines) queues.set(chainOf(l), [...(queues.get(chainOf(l)) ?? []), l]);
        const reordered = shuffled.map((l) => (l.startsWith('add rule ') ? queues.get(chainOf(l))!.shift()! : l));
        expect(sortNFTablesTransaction(reordered.join('\n'))).toBe(sortNFTablesTransaction(lines.join('\n')));
      }),
    );
  });
});
