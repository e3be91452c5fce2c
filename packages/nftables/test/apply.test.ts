import { NftApplyError, applyTransaction } from '../src/apply.js';
import { parseDump } from '../src/index.js';
import { parseTransaction } from '../src/parse.js';
import { renderDump } from '../src/render.js';

const HEAD = `add table ip kube-proxy { comment "rules for kube-proxy" ; }
add chain ip kube-proxy services
add chain ip kube-proxy endpoint-a
add set ip kube-proxy cluster-ips { type ipv4_addr ; }
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }
`;
const run = (before: string, tx: string) => renderDump(applyTransaction(parseDump(before), parseTransaction(tx))!);

describe('applyTransaction (knftables Fake.Run semantics)', () => {
  test('add of an existing chain or set keeps the old one; rules append', () => {
    const after = run(HEAD, 'add chain ip kube-proxy services { comment "new" ; }\nadd set ip kube-proxy cluster-ips { type ipv4_addr ; comment "x" ; }\nadd rule ip kube-proxy services jump endpoint-a\nadd rule ip kube-proxy services accept\n');
    expect(after).toContain('add chain ip kube-proxy services\n');
    expect(after).toContain('add set ip kube-proxy cluster-ips { type ipv4_addr ; }\n');
    expect(after).toMatch(/services jump endpoint-a\nadd rule ip kube-proxy services accept\n/);
  });

  test('an element with an existing key is replaced where it stood; delete removes by key', () => {
    const before = `${HEAD}add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 : drop }\nadd element ip kube-proxy service-ips { 2.2.2.2 . tcp . 80 : drop }\n`;
    const after = run(before, 'add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 comment "c" : goto endpoint-a }\ndelete element ip kube-proxy service-ips { 2.2.2.2 . tcp . 80 }\nadd element ip kube-proxy service-ips { 3.3.3.3 . tcp . 80 : drop }\n');
    expect(after.split('\n').filter((l) => l.includes('element'))).toEqual([
      'add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 comment "c" : goto endpoint-a }',
      'add element ip kube-proxy service-ips { 3.3.3.3 . tcp . 80 : drop }',
    ]);
  });

  test('flush empties a chain or set; delete removes it; delete table removes everything', () => {
    const before = `${HEAD}add rule ip kube-proxy services accept\nadd element ip kube-proxy cluster-ips { 1.1.1.1 }\n`;
    const after = run(before, 'flush chain ip kube-proxy services\nflush set ip kube-proxy cluster-ips\ndelete chain ip kube-proxy endpoint-a\n');
    expect(after).not.toMatch(/add rule|add element|endpoint-a/);
    expect(applyTransaction(parseDump(before), parseTransaction('delete table ip kube-proxy\n'))).toBeUndefined();
  });

  test.each([
    ['add rule ip kube-proxy nope accept', /^operation 2 \(add rule ip kube-proxy nope accept\): no such chain nope$/],
    ['add rule ip kube-proxy services goto nope', /no such chain nope/],
    ['add rule ip kube-proxy services ip daddr @nope', /no such set or map nope/],
    ['add rule ip kube-proxy services ip daddr vmap @cluster-ips', /no such map cluster-ips/],
    ['add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 : goto nope }', /no such chain nope/],
    ['add element ip kube-proxy service-ips { 1.1.1.1 . tcp . 80 }', /map element without a value/],
    ['add element ip kube-proxy cluster-ips { 1.1.1.1 : drop }', /set element with a value/],
    ['delete element ip kube-proxy cluster-ips { 9.9.9.9 }', /no such element/],
    ['flush chain ip kube-proxy nope', /no such chain/],
    ['add map ip kube-proxy cluster-ips { type ipv4_addr : verdict ; }', /exists as a set/],
    ['add chain ip6 kube-proxy x', /no such table ip6 kube-proxy/],
    ['add table ip other', /a second table/],
  ])('%s fails, naming the operation, and changes nothing', (tx, reason) => {
    const before = parseDump(HEAD);
    const ops = parseTransaction(`add rule ip kube-proxy services accept\n${tx}\n`);
    expect(() => applyTransaction(before, ops)).toThrow(NftApplyError);
    expect(() => applyTransaction(before, ops)).toThrow(reason);
    expect(() => applyTransaction(before, ops)).toThrow(/^operation 2 /);
    expect(renderDump(before)).toBe(renderDump(parseDump(HEAD)));
  });

  test('parseDump refuses other verbs and a dump without its table', () => {
    expect(() => parseDump(`${HEAD}flush chain ip kube-proxy services\n`)).toThrow(/only add operations; operation 6 is flush/);
    expect(() => parseDump('add chain ip kube-proxy services\n')).toThrow(/no such table/);
  });
});
