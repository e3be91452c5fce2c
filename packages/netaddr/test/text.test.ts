import fc from 'fast-check';
import { scaledRuns } from '@svcrules/testkit';
import { formatIPv6, parseIPv4Octets, parseIPv6Groups, type IPv4Syntax } from '../src/index.js';

describe('parseIPv4Octets', () => {
  it.each<[string, IPv4Syntax, number[] | null]>([
    ['10.0.0.1', 'inet_pton', [10, 0, 0, 1]],
    ['172.30.0.041', 'go-sloppy', [172, 30, 0, 41]],
    ['172.30.0.0041', 'go-sloppy', [172, 30, 0, 41]],
    ['172.30.0.041', 'iptables', [172, 30, 0, 41]],
    ['172.30.0.0041', 'iptables', null],
    ['172.30.0.041', 'inet_pton', null],
    ['1.2.3.256', 'go-sloppy', null],
    ['1.2.3', 'go-sloppy', null],
    ['1.2.3.-4', 'go-sloppy', null],
  ])('%s (%s) → %j', (text, syntax, octets) => expect(parseIPv4Octets(text, syntax)).toEqual(octets));
});

describe('parseIPv6Groups', () => {
  it.each<[string, IPv4Syntax, number[] | null]>([
    ['::', 'inet_pton', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['fd00::41', 'inet_pton', [0xfd00, 0, 0, 0, 0, 0, 0, 0x41]],
    ['::ffff:1.2.3.4', 'inet_pton', [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]],
    ['::ffff:1.2.3.04', 'inet_pton', null],
    ['::ffff:1.2.3.04', 'iptables', [0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]],
    ['1:2:3:4:5:6:7::8', 'inet_pton', null],
    ['1::2::3', 'inet_pton', null],
    ['fe80::1%eth0', 'go-sloppy', null],
    ['12345::', 'go-sloppy', null],
  ])('%s (%s) → %j', (text, syntax, groups) => expect(parseIPv6Groups(text, syntax)).toEqual(groups));
});

describe('formatIPv6', () => {
  it.each([
    [[0, 0, 0, 0, 0, 0, 0, 0], '::', '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1', '::1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::', '1::'],
    [[0xfd00, 0, 0, 0, 0, 0, 0, 0x41], 'fd00::41', 'fd00::41'],
    [[1, 0, 2, 0, 3, 0, 4, 0], '1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    [[1, 0, 0, 2, 0, 0, 3, 4], '1::2:0:0:3:4', '1::2:0:0:3:4'],
    [[0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], '::ffff:102:304', '::ffff:1.2.3.4'],
    [[0, 0, 0, 0, 0, 0, 0x0102, 0x0304], '::102:304', '::1.2.3.4'],
    [[0, 0, 0, 0, 0, 0, 0, 0x0102], '::102', '::102'],
    [[0, 0, 0, 0, 0, 0xfffe, 0x0102, 0x0304], '::fffe:102:304', '::fffe:102:304'],
  ])('%j → go %s, glibc inet_ntop %s', (groups, go, glibc) => {
    expect(formatIPv6(groups, 'go')).toBe(go);
    expect(formatIPv6(groups, 'inet_ntop')).toBe(glibc);
  });

  // Few groups values so that zero runs (the only hard part) are common.
  const groups = fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff, 0xabc), { minLength: 8, maxLength: 8 });

  it("go style is the WHATWG URL serialiser's (the same RFC 5952 rule, written independently)", () => {
    fc.assert(
      fc.property(groups, (g) => {
        const text = formatIPv6(g, 'go');
        expect(`[${text}]`).toBe(new URL(`http://[${g.map((x) => x.toString(16)).join(':')}]/`).hostname);
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });

  it('both styles read back to the same groups', () => {
    fc.assert(
      fc.property(groups, fc.constantFrom('go' as const, 'inet_ntop' as const), (g, style) => {
        expect(parseIPv6Groups(formatIPv6(g, style), 'inet_pton')).toEqual(g);
      }),
      { numRuns: scaledRuns(300, 100) },
    );
  });
});
